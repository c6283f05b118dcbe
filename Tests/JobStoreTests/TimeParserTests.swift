import Testing
import TestSupport

@testable import JobStore

#if canImport(Glibc)
import Glibc
#endif

/// Local-time forms are checked against `mktime` in whatever time zone the process has; no test sets TZ.
@Suite struct TimeParserTests {
    /// Local time through `mktime`, as ms since the epoch.
    private func local(
        _ year: Int32, _ month: Int32, _ day: Int32, _ hour: Int32 = 0, _ minute: Int32 = 0,
        _ second: Int32 = 0
    ) -> Int64 {
        var fields = tm()
        fields.tm_year = year - 1900
        fields.tm_mon = month - 1
        fields.tm_mday = day
        fields.tm_hour = hour
        fields.tm_min = minute
        fields.tm_sec = second
        fields.tm_isdst = -1
        return Int64(mktime(&fields)) * 1_000
    }

    private var noon: Int64 { local(2026, 6, 15, 12) }

    @Test func clockTimesAreTheNextOccurrence() throws {
        #expect(try TimeParser.milliseconds("13:30", now: noon) == local(2026, 6, 15, 13, 30))
        #expect(try TimeParser.milliseconds("11:00", now: noon) == local(2026, 6, 16, 11, 0))
        #expect(try TimeParser.milliseconds("9:30", now: noon) == local(2026, 6, 16, 9, 30))
        #expect(try TimeParser.milliseconds("09:30:15", now: noon) == local(2026, 6, 16, 9, 30, 15))
        #expect(try TimeParser.milliseconds("12:00", now: noon) == noon)
        #expect(try TimeParser.milliseconds("12:00", now: noon + 250) == local(2026, 6, 16, 12))
        #expect(try TimeParser.milliseconds("12:00:01", now: noon + 250) == local(2026, 6, 15, 12, 0, 1))
        #expect(try TimeParser.milliseconds("23:59:59.5", now: noon) == local(2026, 6, 15, 23, 59, 59) + 500)
        #expect(try TimeParser.milliseconds(" 00:00 ", now: noon) == local(2026, 6, 16))
        let newYearsEve = local(2026, 12, 31, 18)
        #expect(try TimeParser.milliseconds("06:00", now: newYearsEve) == local(2027, 1, 1, 6))
    }

    @Test func datesAndLocalDateTimes() throws {
        #expect(try TimeParser.milliseconds("2026-07-01", now: noon) == local(2026, 7, 1))
        #expect(try TimeParser.milliseconds("2026-07-01 08:15", now: noon) == local(2026, 7, 1, 8, 15))
        #expect(try TimeParser.milliseconds("2026-07-01T08:15:30", now: noon) == local(2026, 7, 1, 8, 15, 30))
        #expect(try TimeParser.milliseconds("2026-07-01t8:15", now: noon) == local(2026, 7, 1, 8, 15))
        #expect(try TimeParser.milliseconds("2026-07-01 08:15:30.25", now: noon) == local(2026, 7, 1, 8, 15, 30) + 250)
        #expect(try TimeParser.milliseconds("2026-01-01", now: noon) == local(2026, 1, 1))
        #expect(try TimeParser.milliseconds("2028-02-29", now: local(2027, 12, 1)) == local(2028, 2, 29))
    }

    @Test func utcOffsetsAndEpochSecondsAreExact() throws {
        let now: Int64 = 1_795_915_973_000
        #expect(try TimeParser.milliseconds("2026-11-29T01:32:53Z", now: now) == 1_795_915_973_000)
        #expect(try TimeParser.milliseconds("2026-11-29 01:32:53z", now: now) == 1_795_915_973_000)
        #expect(try TimeParser.milliseconds("2026-11-29T01:32:53.123Z", now: now) == 1_795_915_973_123)
        #expect(try TimeParser.milliseconds("2026-11-29T01:32Z", now: now) == 1_795_915_920_000)
        #expect(try TimeParser.milliseconds("2026-06-15T10:00:00+02:00", now: now) == 1_781_510_400_000)
        #expect(try TimeParser.milliseconds("2026-06-15T10:00-05:30", now: now) == 1_781_537_400_000)
        #expect(try TimeParser.milliseconds("2026-06-15T10:00+00:00", now: now) == 1_781_517_600_000)
        #expect(try TimeParser.milliseconds("@1795915973", now: now) == 1_795_915_973_000)
        #expect(try TimeParser.milliseconds("@1700000000", now: 1_700_000_000_000) == 1_700_000_000_000)
        #expect(try TimeParser.milliseconds("2000-02-29T00:00:00Z", now: 951_782_400_000) == 951_782_400_000)
    }

    @Test(
        arguments: [
            ("", "is not a time"), ("garbage", "is not a time"), ("noon", "is not a time"), ("12", "is not a time"),
            ("12:30 pm", "is not a time"), ("12:3", "is not a time"), ("123:30", "is not a time"),
            ("25:00", "has hour 25; use 00 to 23"), ("24:00", "has hour 24"), ("12:60", "has minute 60; use 00 to 59"),
            ("12:30:60", "has second 60; use 00 to 59"), ("12:30:5", "is not a time"), ("12:30:05.", "is not a time"),
            ("2026-13-01", "has month 13; use 01 to 12"), ("2026-00-10", "has month 0"),
            ("2026-04-31", "has day 31, but April 2026 has days 01 to 30"), ("2026-06-00", "has day 0"),
            ("2027-02-29", "February 2027 has days 01 to 28"), ("2100-02-29", "February 2100 has days 01 to 28"),
            ("2026-6-1", "is not a time"), ("26-06-01", "is not a time"), ("2026/06/01", "is not a time"),
            ("2026-06-01 25:00", "has hour 25"), ("2026-06-01  10:00", "is not a time"),
            ("2026-06-01T10:00+24:00", "has UTC offset hour 24"), ("2026-06-01T10:00+01:60", "has UTC offset minute"),
            ("2026-06-01T10:00+0100", "is not a time"), ("2026-06-01T10:00 Z", "is not a time"),
            ("2026-06-01Z", "is not a time"), ("2026-06-01T10:00ZZ", "is not a time"), ("@", "is not a time"),
            ("@-5", "is not a time"), ("@abc", "is not a time"), ("@1e9", "is not a time"), ("10:00Z", "is not a time"),
            ("2028-06-01", "more than 366 days from now"), ("2025-01-01", "more than 366 days from now"),
            ("@0", "more than 366 days from now"), ("@9999999999", "more than 366 days"),
            ("2000-02-29", "more than 366 days"), ("９:30", "is not a time"),
        ] as [(String, String)])
    func rejects(text: String, fragment: String) {
        let error = #expect(throws: InputError.self) { try TimeParser.milliseconds(text, now: 1_781_517_600_000) }
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error")")
        #expect(error?.message.contains("'\(text)'") == true)
    }

    @Test func notATimeListsTheAcceptedForms() {
        let error = #expect(throws: InputError.self) { try TimeParser.milliseconds("tomorrow", now: 0) }
        #expect(
            error?.message
                == "'tomorrow' is not a time; use HH:MM[:SS], YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] (also with T "
                + "between, and Z or ±HH:MM after), or @EPOCHSECONDS")
    }

    @Test func formatsUTC() {
        #expect(TimeParser.formatUTC(milliseconds: 1_795_915_973_123) == "2026-11-29T01:32:53.123Z")
        #expect(TimeParser.formatUTC(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(TimeParser.formatUTC(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(TimeParser.formatUTC(milliseconds: 951_782_400_007) == "2000-02-29T00:00:00.007Z")
    }

    @Test func formatsLocal() {
        let value: Int64 = 1_795_915_973_999
        var seconds = time_t(1_795_915_973)
        var fields = tm()
        localtime_r(&seconds, &fields)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let expected =
            "\(fields.tm_year + 1900)-\(two(fields.tm_mon + 1))-\(two(fields.tm_mday)) "
            + "\(two(fields.tm_hour)):\(two(fields.tm_min)):\(two(fields.tm_sec))"
        #expect(TimeParser.formatLocal(milliseconds: value) == expected)
    }

    /// Both display forms read back as the time they show (local time to the second).
    @Test func formatThenParseIsTheIdentity() throws {
        var random = SplitMix64(seed: 7)
        let now: Int64 = 1_795_915_973_123
        for _ in 0..<500 {
            let offset = Int64.random(in: -365 * 86_400_000..<365 * 86_400_000, using: &random)
            let value = now + offset
            #expect(try TimeParser.milliseconds(TimeParser.formatUTC(milliseconds: value), now: now) == value)
            let local = TimeParser.formatLocal(milliseconds: value)
            let second = value - ((value % 1_000) + 1_000) % 1_000
            var seconds = time_t(second / 1_000)
            var fields = tm()
            localtime_r(&seconds, &fields)
            guard Int64(mktime(&fields)) * 1_000 == second else { continue }  // a repeated hour at a DST change
            #expect(try TimeParser.milliseconds(local, now: now) == second, "\(local)")
        }
    }

    @Test func randomTextNeverTraps() {
        var random = SplitMix64(seed: 99)
        for _ in 0..<500 {
            let text = random.string(from: "0123456789:-T Z+@.0123456789:-", maxLength: 25)
            _ = try? TimeParser.milliseconds(text, now: 1_795_915_973_123)
        }
    }
}
