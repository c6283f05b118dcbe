import JobStore

/// A JSON value, written with a fixed key order so that `--json` output is stable for scripts.
enum JSON {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    /// Keys in the order given.
    case object([(String, JSON)])

    static func string(_ value: String?) -> JSON { value.map(JSON.string) ?? .null }
    static func int(_ value: Int?) -> JSON { value.map { .int(Int64($0)) } ?? .null }
    static func int(_ value: Int32?) -> JSON { value.map { .int(Int64($0)) } ?? .null }
    static func int(_ value: Int64?) -> JSON { value.map(JSON.int) ?? .null }

    /// Compact when `pretty` is false, else pretty-printed.
    func serialized(pretty: Bool = true) -> String {
        var out = ByteWriter(capacity: 1 << 12)
        write(to: &out, pretty: pretty)
        return out.string
    }

    /// Written as bytes: `list --json` of 10,000 jobs writes ~8 MB, and appending to a `String`
    /// a piece at a time took half a second of it.
    func write(to out: inout ByteWriter, pretty: Bool = true, depth: Int = 0) {
        switch self {
        case .null: out.append(literal: "null")
        case .bool(let value): if value { out.append(literal: "true") } else { out.append(literal: "false") }
        case .int(let value): out.appendDecimal(value)
        case .double(let value): if value.isFinite { out.append(String(value)) } else { out.append(literal: "null") }
        case .string(let value): JSON.quote(value, into: &out)
        case .array(let values):
            var array = ArrayWriter(pretty: pretty, depth: depth)
            for value in values { array.append(value, to: &out) }
            array.end(&out)
        case .object(let members):
            if members.isEmpty {
                out.append(literal: "{}")
                return
            }
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { JSON.newline(depth + 1, into: &out) }
                JSON.quote(key, into: &out)
                if pretty { out.append(literal: ": ") } else { out.append(UInt8(ascii: ":")) }
                value.write(to: &out, pretty: pretty, depth: depth + 1)
            }
            if pretty { JSON.newline(depth, into: &out) }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Writes an array one element at a time, so that a long one (`list --json`) never has to
    /// be in memory whole: `[`, the elements, `]` — byte for byte what `.array` writes.
    struct ArrayWriter {
        let pretty: Bool
        let depth: Int
        private var count = 0

        init(pretty: Bool = true, depth: Int = 0) {
            self.pretty = pretty
            self.depth = depth
        }

        mutating func append(_ value: JSON, to out: inout ByteWriter) {
            out.append(UInt8(ascii: count == 0 ? "[" : ","))
            if pretty { JSON.newline(depth + 1, into: &out) }
            value.write(to: &out, pretty: pretty, depth: depth + 1)
            count += 1
        }

        func end(_ out: inout ByteWriter) {
            if count == 0 {
                out.append(literal: "[]")
                return
            }
            if pretty { JSON.newline(depth, into: &out) }
            out.append(UInt8(ascii: "]"))
        }
    }

    fileprivate static func newline(_ depth: Int, into out: inout ByteWriter) {
        out.append(UInt8(ascii: "\n"))
        out.append(UInt8(ascii: " "), times: 2 * depth)
    }

    /// A JSON string: a Swift string's UTF-8 is valid, so only quotes, backslashes and control
    /// characters need escapes; every other byte is copied as it is.
    private static func quote(_ text: String, into out: inout ByteWriter) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var plainStart = 0
            for (index, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[plainStart..<index]))
                plainStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): out.append(literal: "\\\"")
                case UInt8(ascii: "\\"): out.append(literal: "\\\\")
                case UInt8(ascii: "\n"): out.append(literal: "\\n")
                case UInt8(ascii: "\r"): out.append(literal: "\\r")
                case UInt8(ascii: "\t"): out.append(literal: "\\t")
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out.append(literal: "\\u00")
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 0xF)])
                }
            }
            out.append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[plainStart...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}
