import Testing

@testable import JobStore

/// The byte buffer `jobq list` builds its table in: every kind of append, across growth.
@Suite struct ByteWriterTests {
    @Test func appendsKeepTheirOrderAcrossGrowth() {
        var writer = ByteWriter(capacity: 16)
        var expected: [UInt8] = []
        for round in 0..<200 {
            writer.append(UInt8(ascii: "<"))
            writer.append("héllo \(round)")
            writer.append(literal: "lit")
            writer.append([1, 2, 3])
            writer.append(UInt8(ascii: " "), times: round % 7)
            writer.appendDecimal(Int64(round) - 100)
            Array("0123456789abcdefghij".utf8).withUnsafeBytes { writer.append($0) }  // > 16 bytes
            writer.append(atMost: 4) { room in
                room[0] = UInt8(ascii: "!")
                return 1
            }
            expected += [UInt8(ascii: "<")] + Array("héllo \(round)".utf8) + Array("lit".utf8) + [1, 2, 3]
            expected += Array(repeating: UInt8(ascii: " "), count: round % 7) + Array(String(round - 100).utf8)
            expected += Array("0123456789abcdefghij".utf8) + [UInt8(ascii: "!")]
        }
        #expect(writer.count == expected.count)
        #expect(Array(writer.bytes) == expected)
        #expect(Array(writer.bytes(5..<9)) == Array(expected[5..<9]))
    }

    @Test(arguments: [0, 7, -7, 10, 99, -100, 1_234_567_890, Int64.max, Int64.min, Int64.min + 1])
    func decimalsMatchTheStandardLibrary(_ value: Int64) {
        var writer = ByteWriter(capacity: 16)
        writer.append(literal: "x")
        writer.appendDecimal(value)
        #expect(writer.string == "x" + String(value))
    }

    @Test func truncateAndRemoveAllKeepWhatTheySay() {
        var writer = ByteWriter()
        writer.append("abcdef")
        writer.truncate(to: 4)
        #expect(writer.string == "abcd")
        writer.truncate(to: 10)
        #expect(writer.string == "abcd")
        writer.append(UInt8(ascii: " "), times: 0)
        writer.append(UInt8(ascii: " "), times: -3)
        #expect(writer.string == "abcd")
        writer.removeAll()
        #expect(writer.count == 0 && writer.string.isEmpty)
    }

    /// A table line on a terminal: cut to the width, ending in "…", only when wider; the lines
    /// before it untouched.
    @Test(arguments: [
        ("abcdef", 6, "abcdef"), ("abcdefg", 6, "abcde…"), ("abcdefg", 7, "abcdefg"),
        ("ééééééé", 6, "ééééé…"), ("ééé", 3, "ééé"), ("日本語のテキスト", 4, "日本語…"), ("abc", 1, "abc"),
    ])
    func linesAreCutToTheTerminal(_ line: String, _ width: Int, _ expected: String) {
        var writer = ByteWriter(capacity: 16)
        writer.append("before\n")
        let start = writer.count
        writer.append(line + "\n")
        writer.cutLine(startingAt: start, toWidth: width)
        #expect(writer.string == "before\n" + expected + "\n")
    }
}
