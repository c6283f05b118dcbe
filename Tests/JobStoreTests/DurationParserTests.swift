import Testing
import TestSupport

@testable import JobStore

@Suite struct DurationParserTests {
    @Test(
        arguments: [
            ("0", 0), ("90", 90_000), ("1.5", 1_500), ("90s", 90_000), ("1.5s", 1_500), (".5s", 500),
            ("500ms", 500), ("0ms", 0), ("0s", 0), ("10m", 600_000), ("1h30m", 5_400_000), ("1h", 3_600_000),
            ("2d", 172_800_000), ("1w", 604_800_000), ("1w2d3h4m5s6ms", 788_645_006), ("1.5h", 5_400_000),
            ("0.1h", 360_000), ("007s", 7_000), ("  10m  ", 600_000), ("\t10m", 600_000), ("1m1.5s", 61_500),
            ("1h500ms", 3_600_500), ("0.0004s", 0), ("0.0005s", 1), ("0.0015s", 2),
            ("1.9999999999999999999w", 1_209_600_000),
            ("366d", 31_622_400_000), ("52w2d", 31_622_400_000), ("31622400", 31_622_400_000),
            ("31622400s", 31_622_400_000), ("0.25ms", 0), ("0.5ms", 1),
        ] as [(String, Int64)])
    func accepts(text: String, expected: Int64) throws {
        #expect(try DurationParser.milliseconds(text) == expected)
    }

    @Test(
        arguments: [
            ("", "cannot be empty"), ("   ", "cannot be empty"), ("-5s", "is negative"), ("-0", "is negative"),
            ("10x", "'10x' is not a duration; use e.g. 90s, 10m, 1h30m, 2d"), ("abc", "is not a duration"),
            ("s", "is not a duration"), ("1h30", "is not a duration"), ("1h 30m", "is not a duration"),
            ("10M", "is not a duration"), ("10S", "is not a duration"), ("5.", "is not a duration"),
            (".", "is not a duration"), ("+5s", "is not a duration"), ("nan", "is not a duration"),
            ("inf", "is not a duration"), ("1e3s", "is not a duration"), ("10sec", "is not a duration"),
            ("10min", "is not a duration"), ("1,5s", "is not a duration"), ("10µs", "is not a duration"),
            ("30m1h", "largest first"), ("1m1m", "largest first"), ("1s1ms1s", "largest first"),
            ("367d", "longer than 366 days"), ("366d1ms", "longer than 366 days"), ("31622400.001", "longer than 366"),
            ("99999999999999999999999999w", "longer than 366 days"), ("53w", "longer than 366 days"),
        ] as [(String, String)])
    func rejects(text: String, fragment: String) {
        let error = #expect(throws: InputError.self) { try DurationParser.milliseconds(text) }
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error")")
    }

    @Test func errorMessagesNameTheText() throws {
        let error = #expect(throws: InputError.self) { try DurationParser.milliseconds("10x") }
        #expect(error?.description == "'10x' is not a duration; use e.g. 90s, 10m, 1h30m, 2d")
        let long = String(repeating: "9", count: 500) + "x"
        let longError = #expect(throws: InputError.self) { try DurationParser.milliseconds(long) }
        #expect((longError?.message.utf8.count ?? 0) < 200)
        let control = #expect(throws: InputError.self) { try DurationParser.milliseconds("1\n") }
        #expect(control?.message.hasPrefix("'1\\n'") == true)
    }

    @Test(
        arguments: [
            (0, "0s"), (250, "250ms"), (1_000, "1s"), (1_500, "1.5s"), (1_005, "1.005s"), (45_000, "45s"),
            (60_000, "1m"), (5_400_000, "1h30m"), (3_600_500, "1h500ms"), (61_500, "1m1.5s"),
            (183_600_000, "2d3h"), (604_800_000, "7d"), (31_622_400_000, "366d"), (-1_500, "-1.5s"),
            (90_061_001, "1d1h1m1.001s"),
        ] as [(Int64, String)])
    func formats(milliseconds: Int64, expected: String) {
        #expect(DurationParser.format(milliseconds: milliseconds) == expected)
    }

    @Test func formatHandlesTheExtremes() {
        #expect(DurationParser.format(milliseconds: .min).hasPrefix("-"))
        #expect(!DurationParser.format(milliseconds: .max).isEmpty)
    }

    /// Every duration in range reads back from its display form unchanged.
    @Test func formatThenParseIsTheIdentity() throws {
        var random = SplitMix64(seed: 0x6A6F_6271)
        let scales: [Int64] = [1, 1_000, 60_000, 3_600_000, 86_400_000]
        for _ in 0..<500 {
            let value: Int64
            switch Int.random(in: 0..<3, using: &random) {
            case 0: value = Int64.random(in: 0...DurationParser.maximumMilliseconds, using: &random)
            case 1: value = Int64.random(in: 0..<10_000, using: &random)
            default:
                let scale = scales.randomElement(using: &random)!
                value = min(DurationParser.maximumMilliseconds, Int64.random(in: 0..<400, using: &random) * scale)
            }
            let text = DurationParser.format(milliseconds: value)
            #expect(try DurationParser.milliseconds(text) == value, "\(value) → \(text)")
        }
        #expect(try DurationParser.milliseconds(DurationParser.format(milliseconds: 0)) == 0)
        let maximum = DurationParser.maximumMilliseconds
        #expect(try DurationParser.milliseconds(DurationParser.format(milliseconds: maximum)) == maximum)
    }

    /// Random text never traps the parser: it returns a value in range or throws.
    @Test func randomTextNeverTraps() {
        var random = SplitMix64(seed: 42)
        for _ in 0..<500 {
            let text = random.string(from: "0123456789.0123456789smhdwx -+e", maxLength: 11)
            if let value = try? DurationParser.milliseconds(text) {
                #expect((0...DurationParser.maximumMilliseconds).contains(value), "\(text)")
            }
        }
    }
}
