/// How a process ended, as `waitpid` reports it.
public enum ProcessOutcome: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case .exited(let code): return "exit \(code)"
        case .signaled(let signal): return "signal \(signal) (\(signalName(signal)))"
        }
    }
}

/// How an attempt of a job ended, as its worker reports it to the store.
public enum JobEnd: Sendable, Equatable {
    /// The process ended by itself: done when it exited 0, failed otherwise.
    case finished(ProcessOutcome)
    /// The process outlived its --timeout and was stopped.
    case timedOut(ProcessOutcome)
    /// `jobq cancel` stopped it (nil when it had not started).
    case cancelled(ProcessOutcome?)
    /// The process could not be started; the text says why.
    case spawnFailed(String)
    /// Its owner vanished without recording an outcome.
    case lost(String)

    /// The state and reason this end gives the job (before any automatic retry).
    public var result: (state: JobState, reason: FailureReason?) {
        switch self {
        case .finished(.exited(0)): return (.done, nil)
        case .finished(.exited): return (.failed, .exit)
        case .finished(.signaled): return (.failed, .signal)
        case .timedOut: return (.failed, .timeout)
        case .cancelled: return (.failed, .cancelled)
        case .spawnFailed: return (.failed, .spawn)
        case .lost: return (.failed, .lost)
        }
    }

    public var process: ProcessOutcome? {
        switch self {
        case .finished(let outcome), .timedOut(let outcome): return outcome
        case .cancelled(let outcome): return outcome
        case .spawnFailed, .lost: return nil
        }
    }

    public var errorText: String? {
        switch self {
        case .spawnFailed(let text), .lost(let text): return text
        case .timedOut: return "ran longer than its timeout"
        case .cancelled: return "cancelled"
        case .finished: return nil
        }
    }
}

/// A running attempt that ended, as its worker reports it: which, how, and the process that
/// ran it (recorded with the outcome if it was not recorded at start).
public struct AttemptEnd: Sendable, Equatable {
    public var id: JobID
    public var attempt: Int
    public var end: JobEnd
    public var process: ProcessIdentity?

    public init(id: JobID, attempt: Int, end: JobEnd, process: ProcessIdentity? = nil) {
        self.id = id
        self.attempt = attempt
        self.end = end
        self.process = process
    }
}

/// SIGTERM → "SIGTERM"; unknown numbers as "SIG42".
public func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
        8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
        14: "SIGALRM", 15: "SIGTERM", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP",
        21: "SIGTTIN", 22: "SIGTTOU", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF",
        31: "SIGSYS",
    ]
    return names[signal] ?? "SIG\(signal)"
}
