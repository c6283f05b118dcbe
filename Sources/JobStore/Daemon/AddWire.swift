/// How `jobq add` hands a job to a running daemon over the home's socket (`run/daemon.sock`),
/// so that the short-lived `add` process never opens the database: the daemon, whose
/// connection is open and whose statements are prepared, commits it (several at once when
/// they arrive together) and answers with the id.
///
/// A message is a 4-byte little-endian length and a payload. A request's payload is a list
/// of NUL-terminated fields, each a one-letter tag and a value (an argv or environment entry
/// cannot contain NUL, so none is ambiguous); the answer is `ok`, id — or `error`, message.
public enum AddWire {
    static let version = "1"

    public static func encode(_ spec: JobSpec) -> [UInt8]? {
        guard case .command(let argv) = spec.payload else { return nil }
        // Written straight into bytes: this runs in every `jobq add`.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(spec.environment.reduce(256) { $0 + $1.utf8.count + 2 })
        func field(_ tag: Character, _ value: some StringProtocol) {
            bytes.append(tag.asciiValue!)
            bytes.append(contentsOf: value.utf8)
            bytes.append(0)
        }
        field("v", version)
        field("c", spec.cwd)
        field("p", String(spec.priority))
        field("r", String(spec.maxRetries))
        field("w", String(spec.runAfter))
        if let name = spec.name { field("n", name) }
        if let timeout = spec.timeoutMilliseconds { field("t", String(timeout)) }
        for id in spec.after { field("d", String(id.rawValue)) }
        for word in argv { field("a", word) }
        for entry in spec.environment { field("e", entry) }
        return bytes
    }

    public static func decode(_ payload: [UInt8]) -> JobSpec? {
        let fields = NulSeparated.decode(payload)
        guard fields.first == "v" + version else { return nil }
        var spec = JobSpec(payload: .command([]), cwd: "", environment: [])
        var argv: [String] = []
        for field in fields.dropFirst() {
            guard let tag = field.first else { return nil }
            let value = String(field.dropFirst())
            switch tag {
            case "c": spec.cwd = value
            case "p": spec.priority = Int(value) ?? 0
            case "r": spec.maxRetries = Int(value) ?? 0
            case "w": spec.runAfter = Int64(value) ?? 0
            case "n": spec.name = value
            case "t": spec.timeoutMilliseconds = Int64(value)
            case "d": guard let id = Int64(value) else { return nil }; spec.after.append(JobID(id))
            case "a": argv.append(value)
            case "e": spec.environment.append(value)
            default: return nil
            }
        }
        guard !argv.isEmpty, !spec.cwd.isEmpty else { return nil }
        spec.payload = .command(argv)
        return spec
    }

    public static func answer(_ result: Result<JobID, Error>) -> [UInt8] {
        switch result {
        case .success(let id): return NulSeparated.encode(["ok", String(id.rawValue)])
        case .failure(let error): return NulSeparated.encode(["error", String(describing: error)])
        }
    }

    /// The id, or the daemon's error message (nil: not an answer at all).
    public static func decodeAnswer(_ payload: [UInt8]) -> Result<JobID, AddRefused>? {
        let fields = NulSeparated.decode(payload)
        guard fields.count == 2 else { return nil }
        switch fields[0] {
        case "ok": return Int64(fields[1]).map { .success(JobID($0)) }
        case "error": return .failure(AddRefused(message: fields[1]))
        default: return nil
        }
    }

    /// Length prefix + payload.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)]
            + payload
    }

    /// A complete message at the start of `buffer`: its payload and the bytes it took.
    public static func unframe(_ buffer: [UInt8]) -> (payload: [UInt8], consumed: Int)? {
        guard buffer.count >= 4 else { return nil }
        let length = Int(buffer[0]) | Int(buffer[1]) << 8 | Int(buffer[2]) << 16 | Int(buffer[3]) << 24
        guard buffer.count >= 4 + length else { return nil }
        return (Array(buffer[4..<(4 + length)]), 4 + length)
    }

    /// The largest request the daemon reads (a job's argv and environment included).
    public static let maximumMessage = 8 << 20
}

/// The daemon refused a job (the same refusal a direct insert would give).
public struct AddRefused: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
