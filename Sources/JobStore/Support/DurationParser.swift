/// Durations as people type them for `--timeout`, `--delay` and `clean --older-than`, in milliseconds.
///
/// Grammar: a bare number is seconds (`90`, `1.5`); otherwise one or more `NUMBER UNIT` parts with no spaces
/// between them (`1h30m`, not `1h 30m`), units from largest to smallest, each at most once. Units (lowercase):
/// `w` (7 days), `d`, `h`, `m` (minutes), `s`, `ms`. A number is decimal digits with an optional fraction
/// (`1.5h`, `.5s`); no sign, no exponent. Spaces around the whole text are ignored. The total is rounded to
/// the nearest millisecond; zero is accepted (callers decide whether it makes sense), anything longer than
/// `maximumMilliseconds` (366 days) is refused as absurd.
public enum DurationParser {
    /// 366 days: longer durations (and times further away than this) are almost certainly typos.
    public static let maximumMilliseconds: Int64 = 366 * 86_400_000

    private static let units: [(name: String, milliseconds: Int64)] = [
        ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// The most fraction digits that take part in rounding; later digits cannot change the result.
    private static let fractionDigits = 18

    /// Parses `text` into milliseconds; see the type's documentation for the grammar.
    public static func milliseconds(_ text: String) throws(InputError) -> Int64 {
        var trimmed = Array(text.utf8.drop { $0 == 0x20 || $0 == 0x09 })
        while trimmed.last == 0x20 || trimmed.last == 0x09 { trimmed.removeLast() }
        guard !trimmed.isEmpty else { throw InputError("a duration cannot be empty; \(examples)") }
        if trimmed.first == UInt8(ascii: "-") {
            throw InputError("\(InputError.quoted(text)) is negative; a duration is zero or more, \(examples)")
        }
        var total: Int128 = 0
        var position = 0
        var previousUnit: Int?
        while position < trimmed.count {
            guard let number = number(in: trimmed, at: &position) else { throw notADuration(text) }
            let unitStart = position
            while position < trimmed.count, isLetter(trimmed[position]) { position += 1 }
            let unitName = String(decoding: trimmed[unitStart..<position], as: UTF8.self)
            let unitIndex: Int
            if unitName.isEmpty {
                guard previousUnit == nil, position == trimmed.count else { throw notADuration(text) }
                unitIndex = units.firstIndex { $0.name == "s" }!
            } else {
                guard let index = units.firstIndex(where: { $0.name == unitName }) else { throw notADuration(text) }
                unitIndex = index
            }
            if let previousUnit, unitIndex <= previousUnit {
                throw InputError(
                    "\(InputError.quoted(text)) is not a duration: write each unit once, largest first, e.g. 1h30m")
            }
            previousUnit = unitIndex
            guard let part = number.milliseconds(unit: units[unitIndex].milliseconds) else { throw tooLong(text) }
            total += part
            if total > Int128(maximumMilliseconds) { throw tooLong(text) }
        }
        return Int64(total)
    }

    /// Formats a duration for display, largest units first: `1h30m`, `45s`, `1.5s`, `250ms`, `2d3h`, `0s`.
    /// Days are the largest unit shown. `milliseconds(format(x)) == x` for every x from 0 to the maximum.
    public static func format(milliseconds: Int64) -> String {
        if milliseconds < 0 { return "-" + format(magnitude: milliseconds.magnitude) }
        return format(magnitude: milliseconds.magnitude)
    }

    private static func format(magnitude: UInt64) -> String {
        let days = magnitude / 86_400_000
        let hours = magnitude / 3_600_000 % 24
        let minutes = magnitude / 60_000 % 60
        let seconds = magnitude / 1_000 % 60
        let fraction = magnitude % 1_000
        var result = ""
        if days > 0 { result += "\(days)d" }
        if hours > 0 { result += "\(hours)h" }
        if minutes > 0 { result += "\(minutes)m" }
        if fraction == 0 {
            if seconds > 0 || result.isEmpty { result += "\(seconds)s" }
        } else if seconds == 0 {
            result += "\(fraction)ms"
        } else {
            var digits = Array(String(fraction + 1_000).utf8.dropFirst())
            while digits.last == UInt8(ascii: "0") { digits.removeLast() }
            result += "\(seconds)." + String(decoding: digits, as: UTF8.self) + "s"
        }
        return result
    }

    /// A decimal number split into exact integers, so `0.1h` is exactly 360000 ms.
    private struct Number {
        var whole: Int128 = 0
        var fraction: Int128 = 0
        var scale: Int128 = 1

        /// The value times `unit`, rounded half up; nil when the whole part alone is absurdly large.
        func milliseconds(unit: Int64) -> Int128? {
            guard whole <= Int128(maximumMilliseconds) else { return nil }
            return whole * Int128(unit) + (fraction * Int128(unit) * 2 + scale) / (scale * 2)
        }
    }

    /// Reads `digits[.digits]` or `.digits` at `position`; nil when there is no number there.
    private static func number(in bytes: [UInt8], at position: inout Int) -> Number? {
        var result = Number()
        var wholeDigits = 0
        while position < bytes.count, let digit = digitValue(bytes[position]) {
            if result.whole <= Int128(maximumMilliseconds) { result.whole = result.whole * 10 + digit }
            wholeDigits += 1
            position += 1
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            var fractionCount = 0
            while position < bytes.count, let digit = digitValue(bytes[position]) {
                if fractionCount < fractionDigits {
                    result.fraction = result.fraction * 10 + digit
                    result.scale *= 10
                }
                fractionCount += 1
                position += 1
            }
            guard fractionCount > 0 else { return nil }
        } else if wholeDigits == 0 {
            return nil
        }
        return result
    }

    private static func digitValue(_ byte: UInt8) -> Int128? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int128(byte - UInt8(ascii: "0")) : nil
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static let examples = "use e.g. 90s, 10m, 1h30m, 2d"

    private static func notADuration(_ text: String) -> InputError {
        InputError("\(InputError.quoted(text)) is not a duration; \(examples)")
    }

    private static func tooLong(_ text: String) -> InputError {
        InputError("\(InputError.quoted(text)) is longer than 366 days, the longest duration jobq accepts")
    }
}
