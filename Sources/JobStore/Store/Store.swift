/// Everything jobq keeps about jobs, behind one interface: the seam where a PostgreSQL store
/// will plug in next to `SQLiteStore`. Every state change is a guarded write: it names the
/// state it expects, and reports when the job was no longer in it.
public protocol Store: AnyObject {
    /// Enqueues jobs, all or none, and returns their ids in order.
    func insert(_ specs: [JobSpec], now: Int64) throws -> [JobID]
    /// Records a task file that could not be understood as a failed job (reason `invalid`).
    func insertInvalid(_ invalid: InvalidTaskFile, now: Int64) throws -> JobID

    func job(_ id: JobID) throws -> Job?
    /// Jobs newest first, optionally of one state.
    func jobs(state: JobState?, limit: Int?) throws -> [Job]
    /// Earlier attempts of a job, oldest first.
    func attempts(of id: JobID) throws -> [Attempt]
    func counts() throws -> [JobState: Int]

    /// Takes up to `request.limit` ready jobs (queued, due, dependencies done) in claim order:
    /// priority (higher first), name (byte order; unnamed first), id. They become `running`,
    /// owned by `request.worker`, as a new attempt.
    ///
    /// `now` (like `finish`'s) is read inside the transaction, once the write lock is held: a
    /// time read before waiting for the lock could put two workers' start times out of the
    /// order of their claims.
    func claim(_ request: ClaimRequest, now: @autoclosure () -> Int64) throws -> [Job]
    /// Records the PID of a running attempt.
    func recordStart(of id: JobID, attempt: Int, pid: Int32, pidStart: Int64?) throws -> Bool
    /// Records how a running attempt ended: done or failed, or queued again when it failed
    /// and has retries left. `.notRunning` when the attempt was not running any more.
    func finish(_ id: JobID, attempt: Int, end: JobEnd, now: @autoclosure () -> Int64) throws -> FinishResult

    /// Puts failed jobs back in the queue as a new attempt, keeping the old one in `attempts`.
    func retry(_ ids: [JobID], now: Int64) throws
}

/// What a worker asks for when it claims.
public struct ClaimRequest: Sendable {
    public var limit: Int
    /// The worker slot that will own the jobs.
    public var worker: Int
    /// Never more than this many jobs running in all (nil: no cap), also across restarts.
    public var maxRunning: Int?
    /// Where the attempts' stdout and stderr files go.
    public var logDirectory: String

    public init(limit: Int, worker: Int, maxRunning: Int?, logDirectory: String) {
        self.limit = limit
        self.worker = worker
        self.maxRunning = maxRunning
        self.logDirectory = logDirectory
    }
}

/// What `finish` did.
public enum FinishResult: Sendable, Equatable {
    case done
    case failed(FailureReason)
    /// Failed, and queued again for another attempt (--retries).
    case requeued
    /// The attempt was not running (cancelled meanwhile, or already settled): nothing changed.
    case notRunning
}

/// A task file that did not parse, recorded so that it is not silently dropped.
public struct InvalidTaskFile: Sendable {
    public var name: String
    public var source: String
    public var sourceKey: String?
    public var text: String
    public var problem: String
    public var cwd: String

    public init(name: String, source: String, sourceKey: String?, text: String, problem: String, cwd: String) {
        self.name = name
        self.source = source
        self.sourceKey = sourceKey
        self.text = text
        self.problem = problem
        self.cwd = cwd
    }
}
