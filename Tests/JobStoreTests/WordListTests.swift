import Testing

@testable import JobStore

/// `add --stdin`'s lines: blank lines and comments left out, the rest as they are.
@Suite struct WordListTests {
    func lines(_ text: String) -> [String] { lines(Array(text.utf8)) }
    func lines(_ bytes: [UInt8]) -> [String] {
        let list = WordList(lines: bytes)
        return (0..<list.count).map { list[$0] }
    }

    @Test func blankLinesAndCommentsAreLeftOut() {
        #expect(lines("") == [])
        #expect(lines("\n\n \t \n") == [])
        #expect(lines("a\n\nb") == ["a", "b"])  // no newline at the end
        #expect(lines("a\n \t# note\n#x\n  b c\n\t\n") == ["a", "  b c"])
        #expect(lines("echo '#'\n") == ["echo '#'"])
        #expect(lines("x\r\n\r\n") == ["x\r", "\r"])  // a \r is not a blank: kept, as before
    }

    @Test func invalidUTF8IsRepairedLineByLine() {
        let bytes: [UInt8] = Array("echo ".utf8) + [0xFF, 0xC3] + [0x0A] + Array("é\n".utf8)
        #expect(lines(bytes) == ["echo \u{FFFD}\u{FFFD}", "é"])
        #expect(lines(bytes) == bytes.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) })
    }

    @Test func theLongestIsTheFirstOfTheLongest() {
        let list = WordList(lines: Array("ab\nabc\nxyz\na\n".utf8))
        #expect(list.longestIndex == 1)
        #expect(WordList(lines: []).longestIndex == nil)
    }
}
