#if canImport(Glibc)
import Glibc
#endif

/// Points in time as people type them for `--at`, and their display.
///
/// Accepted forms (spaces around the text are ignored):
/// - `HH:MM`, `HH:MM:SS`: the next such local time, today or tomorrow if it has passed (`9:30` also works);
/// - `YYYY-MM-DD`: local midnight;
/// - `YYYY-MM-DD HH:MM[:SS]`, `YYYY-MM-DDTHH:MM[:SS]`: local time;
/// - the same followed by `Z` (UTC) or `±HH:MM` (that offset from UTC);
/// - `@SECONDS`: seconds since the epoch.
///
/// Seconds may carry a fraction (`01:32:53.123`), so `formatUTC`'s output reads back exactly. Local times go
/// through `mktime`, so daylight-saving rules apply: an hour skipped by the clock change is moved forward, and
/// a repeated hour is taken as `mktime` chooses. A time more than 366 days before or after `now` is refused.
public enum TimeParser {
    /// Parses `text` into milliseconds since the epoch; `now` (also ms since the epoch) anchors `HH:MM` and
    /// the absurdity check.
    public static func milliseconds(_ text: String, now: Int64) throws(InputError) -> Int64 {
        var input = Cursor(text)
        let result: Int64
        if input.skip("@") {
            guard let seconds = input.digits(1...12), input.atEnd else { throw notATime(text) }
            result = seconds * 1_000
        } else if let clock = try clock(&input, text: text), input.atEnd {
            result = nextLocal(clock, now: now)
        } else {
            input.rewind()
            result = try dateTime(&input, text: text)
        }
        let (distance, overflow) = result.subtractingReportingOverflow(now)
        guard !overflow, distance.magnitude <= DurationParser.maximumMilliseconds.magnitude else {
            throw InputError("\(InputError.quoted(text)) is more than 366 days from now; give a time within a year")
        }
        return result
    }

    /// `2026-11-29 01:32:53` in local time, for tables.
    public static func formatLocal(milliseconds: Int64) -> String {
        var seconds = time_t(floorDivision(milliseconds, 1_000))
        var fields = tm()
        localtime_r(&seconds, &fields)
        return format(fields, separator: UInt8(ascii: " "), milliseconds: nil) ?? date(fields) + " " + time(fields)
    }

    /// `2026-11-29T01:32:53.123Z` (ISO 8601 in UTC), for JSON and logs.
    public static func formatUTC(milliseconds: Int64) -> String {
        var seconds = time_t(floorDivision(milliseconds, 1_000))
        var fields = tm()
        gmtime_r(&seconds, &fields)
        let fraction = milliseconds - floorDivision(milliseconds, 1_000) * 1_000
        return format(fields, separator: UInt8(ascii: "T"), milliseconds: fraction)
            ?? date(fields) + "T" + time(fields) + "." + padded(fraction, 3) + "Z"
    }

    /// `YYYY-MM-DD?HH:MM:SS[.mmmZ]` built in a byte buffer — a `list` formats thousands of these
    /// and the daemon's log one per event. nil for a year outside 0…9999.
    private static func format(_ fields: tm, separator: UInt8, milliseconds: Int64?) -> String? {
        let year = Int(fields.tm_year) + 1900
        guard (0...9999).contains(year) else { return nil }
        var bytes = [UInt8](repeating: UInt8(ascii: "0"), count: milliseconds == nil ? 19 : 24)
        func put(_ value: Int, at offset: Int, width: Int) {
            var value = value
            for index in stride(from: offset + width - 1, through: offset, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, at: 0, width: 4)
        bytes[4] = UInt8(ascii: "-")
        put(Int(fields.tm_mon) + 1, at: 5, width: 2)
        bytes[7] = UInt8(ascii: "-")
        put(Int(fields.tm_mday), at: 8, width: 2)
        bytes[10] = separator
        put(Int(fields.tm_hour), at: 11, width: 2)
        bytes[13] = UInt8(ascii: ":")
        put(Int(fields.tm_min), at: 14, width: 2)
        bytes[16] = UInt8(ascii: ":")
        put(Int(fields.tm_sec), at: 17, width: 2)
        if let milliseconds {
            bytes[19] = UInt8(ascii: ".")
            put(Int(milliseconds), at: 20, width: 3)
            bytes[23] = UInt8(ascii: "Z")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private struct Clock {
        var hour: Int64
        var minute: Int64
        var second: Int64 = 0
        var milliseconds: Int64 = 0
    }

    /// Reads `H[H]:MM[:SS[.fff]]`; nil (and the cursor left anywhere) when the text is not a clock time.
    private static func clock(_ input: inout Cursor, text: String) throws(InputError) -> Clock? {
        guard let hour = input.digits(1...2), input.skip(":"), let minute = input.digits(2...2) else { return nil }
        var clock = Clock(hour: hour, minute: minute)
        if input.skip(":") {
            guard let second = input.digits(2...2) else { return nil }
            clock.second = second
            if input.skip(".") {
                guard let (fraction, scale) = input.fraction() else { return nil }
                clock.milliseconds = (fraction * 1_000 * 2 + scale) / (scale * 2)
            }
        }
        try check(clock.hour, "hour", 0...23, text)
        try check(clock.minute, "minute", 0...59, text)
        try check(clock.second, "second", 0...59, text)
        return clock
    }

    /// Reads `YYYY-MM-DD` with an optional clock time and UTC offset, through to the end of the text.
    private static func dateTime(_ input: inout Cursor, text: String) throws(InputError) -> Int64 {
        guard let year = input.digits(4...4), input.skip("-"), let month = input.digits(2...2), input.skip("-"),
            let day = input.digits(2...2)
        else { throw notATime(text) }
        try check(month, "month", 1...12, text)
        let monthDays = daysIn(month: month, year: year)
        if day < 1 || day > monthDays {
            throw InputError(
                "\(InputError.quoted(text)) has day \(day), but \(monthNames[Int(month) - 1]) \(year) has days 01 to "
                    + "\(monthDays)")
        }
        var fields = tm()
        fields.tm_year = Int32(year - 1900)
        fields.tm_mon = Int32(month - 1)
        fields.tm_mday = Int32(day)
        fields.tm_isdst = -1
        if input.atEnd { return Int64(mktime(&fields)) * 1_000 }
        guard input.skip(" ") || input.skip("T") || input.skip("t"), let clock = try clock(&input, text: text) else {
            throw notATime(text)
        }
        fields.tm_hour = Int32(clock.hour)
        fields.tm_min = Int32(clock.minute)
        fields.tm_sec = Int32(clock.second)
        if input.atEnd { return Int64(mktime(&fields)) * 1_000 + clock.milliseconds }
        let offset = try utcOffset(&input, text: text)
        return (Int64(timegm(&fields)) - offset) * 1_000 + clock.milliseconds
    }

    /// Reads `Z` or `±HH:MM` through to the end; returns seconds east of UTC.
    private static func utcOffset(_ input: inout Cursor, text: String) throws(InputError) -> Int64 {
        if (input.skip("Z") || input.skip("z")) && input.atEnd { return 0 }
        let sign: Int64 = input.skip("+") ? 1 : input.skip("-") ? -1 : 0
        guard sign != 0, let hours = input.digits(2...2), input.skip(":"), let minutes = input.digits(2...2),
            input.atEnd
        else { throw notATime(text) }
        try check(hours, "UTC offset hour", 0...23, text)
        try check(minutes, "UTC offset minute", 0...59, text)
        return sign * (hours * 3_600 + minutes * 60)
    }

    /// Today at `clock` in local time, or tomorrow if that is before `now`.
    private static func nextLocal(_ clock: Clock, now: Int64) -> Int64 {
        var seconds = time_t(floorDivision(now, 1_000))
        var today = tm()
        localtime_r(&seconds, &today)
        func on(dayOffset: Int32) -> Int64 {
            var fields = today
            fields.tm_mday += dayOffset
            fields.tm_hour = Int32(clock.hour)
            fields.tm_min = Int32(clock.minute)
            fields.tm_sec = Int32(clock.second)
            fields.tm_isdst = -1
            return Int64(mktime(&fields)) * 1_000 + clock.milliseconds
        }
        let candidate = on(dayOffset: 0)
        return candidate >= now ? candidate : on(dayOffset: 1)
    }

    private static func check(_ value: Int64, _ field: String, _ range: ClosedRange<Int64>, _ text: String)
        throws(InputError)
    {
        guard !range.contains(value) else { return }
        throw InputError(
            "\(InputError.quoted(text)) has \(field) \(value); use \(padded(range.lowerBound, 2)) to "
                + "\(padded(range.upperBound, 2))")
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static let monthNames = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ]

    private static func notATime(_ text: String) -> InputError {
        InputError(
            "\(InputError.quoted(text)) is not a time; use HH:MM[:SS], YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] "
                + "(also with T between, and Z or ±HH:MM after), or @EPOCHSECONDS")
    }

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }

    private static func padded(_ value: some BinaryInteger, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let sign = value < 0 ? "-" : ""
        return sign + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func date(_ fields: tm) -> String {
        padded(Int64(fields.tm_year) + 1900, 4) + "-" + padded(fields.tm_mon + 1, 2) + "-" + padded(fields.tm_mday, 2)
    }

    private static func time(_ fields: tm) -> String {
        padded(fields.tm_hour, 2) + ":" + padded(fields.tm_min, 2) + ":" + padded(fields.tm_sec, 2)
    }

    /// A position in the text's bytes, with the few reads the grammar needs.
    private struct Cursor {
        let bytes: [UInt8]
        var position = 0

        init(_ text: String) {
            var bytes = Array(text.utf8.drop { $0 == 0x20 || $0 == 0x09 })
            while bytes.last == 0x20 || bytes.last == 0x09 { bytes.removeLast() }
            self.bytes = bytes
        }

        var atEnd: Bool { position == bytes.count }

        mutating func rewind() { position = 0 }

        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { return false }
            position += 1
            return true
        }

        /// A run of ASCII digits whose length is in `count`, as a number.
        mutating func digits(_ count: ClosedRange<Int>) -> Int64? {
            var value: Int64 = 0
            var length = 0
            while position < bytes.count, length < count.upperBound, (48...57).contains(bytes[position]) {
                value = value * 10 + Int64(bytes[position] - 48)
                length += 1
                position += 1
            }
            return count.contains(length) ? value : nil
        }

        /// One to nine digits after a decimal point, as a numerator and its power-of-ten denominator.
        mutating func fraction() -> (Int64, Int64)? {
            let start = position
            guard let value = digits(1...9) else { return nil }
            var scale: Int64 = 1
            for _ in start..<position { scale *= 10 }
            return (value, scale)
        }
    }
}
