/// A job as the store records it: what it runs, where it is in its life, and how its current
/// attempt went. Earlier attempts are `Attempt`s.
public struct Job: Sendable, Equatable {
    public var id: JobID
    public var name: String?
    public var priority: Int
    public var state: JobState
    public var reason: FailureReason?
    public var payload: Payload
    public var cwd: String
    /// The captured environment; loaded only where needed (`show`, running the job).
    public var environment: [String]?
    public var source: String?
    public var timeoutMilliseconds: Int64?
    public var maxRetries: Int
    /// Attempts started so far (1 while the first runs).
    public var attempt: Int
    public var runAfter: Int64
    public var enqueuedAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    public var worker: Int?
    public var pid: Int32?
    public var pidStart: Int64?
    public var exitCode: Int32?
    public var signal: Int32?
    public var error: String?
    public var stdoutPath: String?
    public var stderrPath: String?
    public var cancelRequestedAt: Int64?
    /// Jobs this one runs after; loaded only by `show`.
    public var after: [JobID]

    /// The name, or `#ID` for a job added without one.
    public var displayName: String { name ?? "#\(id)" }

    /// "exit 3", "signal 9", "lost", … — how the current attempt ended, for tables.
    public var resultSummary: String {
        ResultText.describe(
            state: state, reason: reason, exitCode: exitCode, signal: signal, pid: pid, runAfter: runAfter)
    }
}

/// An earlier attempt of a job, kept when it was retried.
public struct Attempt: Sendable, Equatable {
    public var number: Int
    public var state: JobState
    public var reason: FailureReason?
    public var startedAt: Int64?
    public var finishedAt: Int64?
    public var worker: Int?
    public var pid: Int32?
    public var exitCode: Int32?
    public var signal: Int32?
    public var error: String?
    public var stdoutPath: String?
    public var stderrPath: String?
}
