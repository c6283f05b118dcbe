/// The four states of a job. `queued → running → done | failed`, and `failed → queued` for a
/// retry. The same four are a CHECK in schema.sql, and every change is a guarded write.
public enum JobState: String, CaseIterable, Sendable {
    case queued
    case running
    case done
    case failed

    /// From the schema's `state` column (which its CHECK keeps to these four): by first letter,
    /// cheaper than matching whole strings when listing thousands.
    init(firstByte: UInt8) {
        switch firstByte {
        case UInt8(ascii: "q"): self = .queued
        case UInt8(ascii: "r"): self = .running
        case UInt8(ascii: "d"): self = .done
        default: self = .failed
        }
    }

    /// True for the states a job ends in.
    public var isFinished: Bool { self == .done || self == .failed }
}

/// Why a failed job failed.
public enum FailureReason: String, CaseIterable, Sendable {
    /// It exited with a non-zero status.
    case exit
    /// It was killed by a signal that jobq did not send.
    case signal
    /// It ran longer than its --timeout and was stopped.
    case timeout
    /// `jobq cancel` stopped it, or it never ran.
    case cancelled
    /// Its worker vanished (killed, crashed, power cut) without recording how it ended.
    case lost
    /// It could not be started: missing program, bad working directory, …
    case spawn
    /// Its task file could not be understood.
    case invalid
    /// A job it runs --after failed.
    case dependency

    /// Whether an automatic retry (`--retries N`) may run the job again after this failure.
    /// A job that could not be started, was cancelled, or whose input is invalid would fail
    /// the same way again.
    public var isRetryable: Bool {
        switch self {
        case .exit, .signal, .timeout, .lost: return true
        case .cancelled, .spawn, .invalid, .dependency: return false
        }
    }
}
