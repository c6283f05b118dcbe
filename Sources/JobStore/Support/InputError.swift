/// Bad input from a person: a flag value, a task file line. `description` is one sentence that says what is
/// wrong and what would be right, e.g. `--retries needs a whole number from 0 to 100, not 'x'`.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// Shows a value inside a one-line message: in single quotes, control characters escaped (`\n`, `\t`,
    /// `\u{1B}`), cut short after `limit` characters so a huge value cannot flood the message.
    static func quoted(_ value: some StringProtocol, limit: Int = 60) -> String {
        var result = "'"
        var count = 0
        for scalar in value.unicodeScalars {
            if count == limit {
                result += "…"
                break
            }
            count += 1
            switch scalar {
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case "\0": result += "\\0"
            default:
                if scalar.properties.generalCategory == .control {
                    result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "'"
    }
}
