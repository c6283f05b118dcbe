/// A job as one line of `jobq list`: what the table shows and nothing more, read without
/// building a whole `Job` (a list of 10,000 jobs should take milliseconds, not tens of them).
public struct JobSummary: Sendable {
    public var id: JobID
    public var name: String?
    public var priority: Int
    public var state: JobState
    public var reason: FailureReason?
    public var exitCode: Int32?
    public var signal: Int32?
    public var pid: Int32?
    public var runAfter: Int64
    public var enqueuedAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    /// What it runs, as stored: the NUL-separated argv, the script, or the message.
    public var kind: Kind
    public var payload: [UInt8]

    public enum Kind: Sendable {
        case command, script, message

        /// From the first byte of the schema's `kind` column.
        public init(firstByte: UInt8) {
            switch firstByte {
            case UInt8(ascii: "c"): self = .command
            case UInt8(ascii: "m"): self = .message
            default: self = .script
            }
        }
    }
    public var seconds: Double?

    public var displayName: String { name ?? "#\(id)" }

    public var resultSummary: String {
        ResultText.describe(
            state: state, reason: reason, exitCode: exitCode, signal: signal, pid: pid, runAfter: runAfter)
    }

    /// Appends the one-line summary of what it runs (as `Payload.summary` words it) to `out`.
    public func appendCommandSummary(to out: inout [UInt8]) {
        switch kind {
        case .command: CommandText.appendQuoted(argvBlob: payload, to: &out)
        case .message:
            out += payload
            out.append(UInt8(ascii: ";"))
            out += formatSeconds(seconds ?? 0).utf8
        case .script: out += Payload.script(String(decoding: payload, as: UTF8.self)).summary.utf8
        }
    }
}

/// How the current attempt ended, for tables: "exit 3", "signal 9", "timeout signal 15", …
public enum ResultText {
    public static func describe(
        state: JobState, reason: FailureReason?, exitCode: Int32?, signal: Int32?, pid: Int32?, runAfter: Int64
    ) -> String {
        switch state {
        case .queued: return runAfter > 0 ? "delayed" : ""
        case .running: return pid.map { "pid \($0)" } ?? "starting"
        case .done: return "exit 0"
        case .failed:
            let prefix = reason.map { $0 == .exit || $0 == .signal ? "" : $0.rawValue + " " } ?? ""
            if let signal { return prefix + "signal \(signal)" }
            if let exitCode { return prefix + "exit \(exitCode)" }
            return reason?.rawValue ?? "failed"
        }
    }
}

/// Command lines as a shell would read them back, built as bytes.
public enum CommandText {
    /// Appends `word`, quoted with single quotes when it holds anything but safe characters.
    public static func appendQuoted(_ word: some Collection<UInt8>, to out: inout [UInt8]) {
        if !word.isEmpty && word.allSatisfy(isSafe) {
            out += word
            return
        }
        out.append(UInt8(ascii: "'"))
        for byte in word {
            if byte == UInt8(ascii: "'") {
                out += "'\\''".utf8
            } else {
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "'"))
    }

    /// Appends the words of a NUL-separated argv, each quoted as needed, separated by spaces.
    /// (Over the raw bytes: `jobq list` does this for every job it shows.)
    public static func appendQuoted(argvBlob: [UInt8], to out: inout [UInt8]) {
        argvBlob.withUnsafeBufferPointer { blob in
            var start = 0
            for index in 0..<blob.count where blob[index] == 0 {
                if start > 0 { out.append(UInt8(ascii: " ")) }
                appendQuoted(UnsafeBufferPointer(rebasing: blob[start..<index]), to: &out)
                start = index + 1
            }
        }
    }

    static func isSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "+"),
            UInt8(ascii: "%"), UInt8(ascii: "@"):
            return true
        default:
            return false
        }
    }
}
