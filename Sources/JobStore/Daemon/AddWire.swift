import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// How `jobq add` hands a job to a running daemon over the home's socket (`run/daemon.sock`),
/// so that the short-lived `add` process never opens the database: the daemon, whose
/// connection is open and whose statements are prepared, commits it (several at once when
/// they arrive together) and answers with the id.
///
/// A message is a 4-byte little-endian length and a payload. A request's payload is a list
/// of NUL-terminated fields, each a one-letter tag and a value (an argv or environment entry
/// cannot contain NUL, so none is ambiguous); the answer is `ok`, id — or `error`, message.
public enum AddWire {
    /// The first field of every request. (This and the tags are defined in cposix.h, for
    /// `jobq add`'s quick path, which writes requests before the Swift runtime starts.)
    static let version = JQ_ADD_WIRE_VERSION

    /// The one-letter tags of a request's fields.
    public enum Tag {
        public static let version = UInt8(JQ_ADD_TAG_VERSION)
        public static let cwd = UInt8(JQ_ADD_TAG_CWD)
        public static let priority = UInt8(JQ_ADD_TAG_PRIORITY)
        public static let retries = UInt8(JQ_ADD_TAG_RETRIES)
        public static let runAfter = UInt8(JQ_ADD_TAG_RUN_AFTER)
        public static let name = UInt8(JQ_ADD_TAG_NAME)
        public static let timeout = UInt8(JQ_ADD_TAG_TIMEOUT)
        public static let after = UInt8(JQ_ADD_TAG_AFTER)
        public static let argument = UInt8(JQ_ADD_TAG_ARGUMENT)
        public static let environment = UInt8(JQ_ADD_TAG_ENVIRONMENT)
    }

    /// The framed request for `spec` (nil when it cannot travel this way: a task file's script).
    public static func request(_ spec: JobSpec) -> RequestWriter? {
        guard case .command(let argv) = spec.payload else { return nil }
        var writer = RequestWriter(
            capacity: spec.environment.reduce(256 + argv.reduce(0) { $0 + $1.utf8.count + 2 }) { $0 + $1.utf8.count + 2 })
        writer.header(cwd: spec.cwd, priority: spec.priority, maxRetries: spec.maxRetries, runAfter: spec.runAfter)
        if let name = spec.name { writer.field(Tag.name, name) }
        if let timeout = spec.timeoutMilliseconds { writer.field(Tag.timeout, timeout) }
        for id in spec.after { writer.field(Tag.after, id.rawValue) }
        for word in argv { writer.field(Tag.argument, word) }
        for entry in spec.environment { writer.field(Tag.environment, entry) }
        return writer
    }

    /// The request's payload (without its length), as the daemon reads it.
    public static func encode(_ spec: JobSpec) -> [UInt8]? {
        guard var writer = request(spec) else { return nil }
        return Array(writer.message().dropFirst(4))
    }

    /// The job a request describes (nil: not a request of this version). Read field by field
    /// from the bytes — each value becomes its string once, each field's end found by `memchr`
    /// (the environment makes a request a few KiB) — since the daemon does this for every
    /// `jobq add`.
    public static func decode(_ payload: [UInt8]) -> JobSpec? {
        payload.withUnsafeBufferPointer { bytes -> JobSpec? in
            guard let base = bytes.baseAddress else { return nil }
            var spec = JobSpec(payload: .command([]), cwd: "", environment: [])
            var argv: [String] = []
            var sawVersion = false
            var start = 0
            while start < bytes.count {
                // Whole fields only: the last one ends with its NUL too.
                guard let nul = memchr(base + start, 0, bytes.count - start) else { return nil }
                let end = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(nul))
                defer { start = end + 1 }
                guard end > start else { return nil }  // every field has its tag
                let tag = bytes[start]
                let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[(start + 1)..<end]), as: UTF8.self)
                if !sawVersion {
                    guard tag == Tag.version, value == version else { return nil }
                    sawVersion = true
                    continue
                }
                switch tag {
                case Tag.cwd: spec.cwd = value
                case Tag.priority: spec.priority = Int(value) ?? 0
                case Tag.retries: spec.maxRetries = Int(value) ?? 0
                case Tag.runAfter: spec.runAfter = Int64(value) ?? 0
                case Tag.name: spec.name = value
                case Tag.timeout: spec.timeoutMilliseconds = Int64(value)
                case Tag.after: guard let id = Int64(value) else { return nil }; spec.after.append(JobID(id))
                case Tag.argument: argv.append(value)
                case Tag.environment: spec.environment.append(value)
                default: return nil
                }
            }
            // The command and cwd given.
            guard sawVersion, !argv.isEmpty, !spec.cwd.isEmpty else { return nil }
            spec.payload = .command(argv)
            return spec
        }
    }

    public static func answer(_ result: Result<JobID, Error>) -> [UInt8] {
        switch result {
        case .success(let id): return NulSeparated.encode(["ok", String(id.rawValue)])
        case .failure(let error): return NulSeparated.encode(["error", String(describing: error)])
        }
    }

    /// What the daemon answered.
    public enum Answer: Equatable {
        case added(JobID)
        /// Its refusal, in its words.
        case refused(String)
    }

    /// Length prefix + payload.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)]
            + payload
    }

    /// The payload length a message starts with (nil: fewer than 4 bytes yet).
    static func length(_ buffer: UnsafeRawBufferPointer) -> Int? {
        guard buffer.count >= 4 else { return nil }
        return Int(buffer[0]) | Int(buffer[1]) << 8 | Int(buffer[2]) << 16 | Int(buffer[3]) << 24
    }

    /// A complete message at the start of `buffer`: its payload and the bytes it took.
    public static func unframe(_ buffer: [UInt8]) -> (payload: [UInt8], consumed: Int)? {
        guard let length = buffer.withUnsafeBytes(length), buffer.count >= 4 + length else { return nil }
        return (Array(buffer[4..<(4 + length)]), 4 + length)
    }

    /// The largest request the daemon reads (a job's argv and environment included).
    public static let maximumMessage = JQ_ADD_MAXIMUM_MESSAGE
}

/// A framed request written field by field into one `ByteWriter` (for `AddWire.request`).
/// `jobq add`'s quick path writes the same format in C (Sources/CQuickAdd/quick_add.c) for a job
/// with no option; `QuickAddTests` compares the two byte for byte.
public struct RequestWriter: ~Copyable {
    private var bytes: ByteWriter
    /// Bytes written, the 4-byte length included.
    public var count: Int { bytes.count }

    public init(capacity: Int = 4096) {
        bytes = ByteWriter(capacity: max(capacity, 64))
        bytes.append(0, times: 4)  // The length, filled in by `message()`.
    }

    /// The fields every request starts with, in their order; then come the optional fields, the
    /// arguments and the environment.
    public mutating func header(cwd: String, priority: Int, maxRetries: Int, runAfter: Int64) {
        field(AddWire.Tag.version, AddWire.version)
        field(AddWire.Tag.cwd, cwd)
        field(AddWire.Tag.priority, Int64(priority))
        field(AddWire.Tag.retries, Int64(maxRetries))
        field(AddWire.Tag.runAfter, runAfter)
    }

    public mutating func field(_ tag: UInt8, _ value: UnsafeRawBufferPointer) {
        bytes.append(tag)
        bytes.append(value)
        bytes.append(0)
    }

    public mutating func field(_ tag: UInt8, _ value: String) {
        var value = value
        value.withUTF8 { field(tag, UnsafeRawBufferPointer($0)) }
    }

    /// A number in decimal, as `String(value)` writes it.
    public mutating func field(_ tag: UInt8, _ value: Int64) {
        withDecimal(value) { field(tag, $0) }
    }

    /// The whole message, its length written first. Valid until the next write.
    public mutating func message() -> UnsafeRawBufferPointer {
        let length = UInt32(truncatingIfNeeded: count - 4).littleEndian
        withUnsafeBytes(of: length) { bytes.overwrite(at: 0, with: $0) }
        return bytes.bytes
    }
}

/// The daemon refused a job (the same refusal a direct insert would give).
public struct AddRefused: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
