import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// One SQLite connection, configured the way jobq needs it: WAL, `synchronous=FULL` (a commit
/// that returned survives a power cut), foreign keys on, a bounded busy timeout, and
/// `BEGIN IMMEDIATE` for every write transaction, so a writer waits for the lock up front
/// instead of failing half-way with SQLITE_BUSY.
///
/// Not `Sendable`: a connection is used from one place at a time.
public final class Database {
    let handle: OpaquePointer
    public let path: String
    /// The busy handler's state (see shim.h), owned here so it lives as long as the connection.
    private let busyState = UnsafeMutablePointer<jobq_busy_state>.allocate(capacity: 1)
    private var statements: [String: Statement] = [:]

    /// SQLite's process-wide settings, made once before the first connection opens.
    private static let configured: Int32 = jobq_sqlite_configure()

    /// How long a statement waits for another connection's lock before giving up.
    public static let busyTimeoutMilliseconds: Int32 = 30_000

    /// Opens (and, when `create` is true, creates) the database at `path`.
    public init(path: String, create: Bool = true, readOnly: Bool = false) throws(SQLiteError) {
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        if readOnly {
            flags |= SQLITE_OPEN_READONLY
        } else {
            flags |= SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
        }
        _ = Self.configured
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message)
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        busyState.initialize(to: jobq_busy_state())
        _ = jobq_sqlite_set_busy_handler(db, busyState, Self.busyTimeoutMilliseconds)
        _ = jobq_sqlite_defensive(db)
        try execute("PRAGMA synchronous = FULL")  // What `commitsFlush` starts from.
    }

    deinit {
        if walDescriptor >= 0 { close(walDescriptor) }
        statements.removeAll()
        if logFrames != nil { sqlite3_wal_hook(handle, nil, nil) }
        sqlite3_close_v2(handle)
        busyState.deallocate()
        logFrames?.deallocate()
    }

    /// Leaves the checkpoints (copying the write-ahead log into the database file) to other
    /// connections: none after a commit that makes the log long (`logIsDueForCheckpoint` then
    /// says so), none on close. A commit is as durable without one: the log is what a commit
    /// flushes. For a large write (`SQLiteStore.leaveCheckpointToOthers`):
    /// 100,000 jobs added at once took 23 % less time without the copy and its fsyncs.
    public func leaveCheckpointsToOthers() throws(SQLiteError) {
        guard logFrames == nil else { return }
        // First what can fail, so that a failure leaves the connection checkpointing as before.
        let rc = jobq_sqlite_checkpoint_on_close(handle, 0)
        guard rc == SQLITE_OK else { throw error(code: rc, sql: nil) }
        // Read before the hook goes in: SQLite reports 0 once its own hook is replaced.
        checkpointThreshold = Int32(truncatingIfNeeded: try integer("PRAGMA wal_autocheckpoint") ?? 0)
        logFrames = .allocate(capacity: 1)
        logFrames!.initialize(to: 0)
        jobq_sqlite_record_log_frames(handle, logFrames)
    }

    /// After `leaveCheckpointsToOthers`: this connection checkpoints when it closes after all —
    /// and, the last one, removes the log file — as connections do by default.
    public func checkpointOnClose() throws(SQLiteError) {
        let rc = jobq_sqlite_checkpoint_on_close(handle, 1)
        guard rc == SQLITE_OK else { throw error(code: rc, sql: nil) }
    }

    /// After `leaveCheckpointsToOthers`: whether this connection's last commit left the log as
    /// long as SQLite would have checkpointed it at (`PRAGMA wal_autocheckpoint`).
    public var logIsDueForCheckpoint: Bool {
        guard let logFrames, checkpointThreshold > 0 else { return false }
        return logFrames.pointee >= checkpointThreshold
    }

    /// The write-ahead-log hook's count (see shim.h), owned here so it lives as long as the
    /// connection; nil until `leaveCheckpointsToOthers`.
    private var logFrames: UnsafeMutablePointer<Int32>?
    private var checkpointThreshold: Int32 = 0

    /// Copies what it can of the write-ahead log into the database file without waiting for
    /// anyone (a passive checkpoint: writers go on meanwhile; frames written after it began, or
    /// that a reader still needs, wait for the next one). Returns the frames in the log and how
    /// many of them are now copied.
    @discardableResult
    public func checkpoint() throws(SQLiteError) -> (logFrames: Int, copied: Int) {
        var log: Int32 = 0
        var copied: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &copied)
        guard rc == SQLITE_OK else { throw error(code: rc, sql: nil) }
        return (Int(log), Int(copied))
    }

    /// Runs one or more statements that take no parameters (schema, pragmas).
    public func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw SQLiteError(code: sqlite3_extended_errcode(handle), message: text, sql: sql)
        }
    }

    /// A statement prepared once per connection and reused (hot paths).
    public func statement(_ sql: String) throws(SQLiteError) -> Statement {
        if let cached = statements[sql] { return cached }
        let statement = try Statement(database: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// The first column of the first row of a parameterless query, as an integer.
    public func integer(_ sql: String) throws(SQLiteError) -> Int64? {
        let statement = try Statement(database: self, sql: sql)
        guard try statement.step() else { return nil }
        return Row(statement: statement).optionalInt64(0)
    }

    /// The first column of the first row of a parameterless query, as text.
    public func text(_ sql: String) throws(SQLiteError) -> String? {
        let statement = try Statement(database: self, sql: sql)
        guard try statement.step() else { return nil }
        return Row(statement: statement).optionalText(0)
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: committed when it returns, rolled back
    /// when it throws.
    public func write<T>(_ body: () throws -> T) throws -> T {
        try setCommitsFlush(true)
        return try transaction(body)
    }

    private func transaction<T>(_ body: () throws -> T) throws -> T {
        try statement("BEGIN IMMEDIATE").execute()
        do {
            let result = try body()
            try statement("COMMIT").execute()
            return result
        } catch {
            rollback()
            throw error
        }
    }

    /// Runs `body` in a write transaction whose commit is not flushed to disk (`synchronous =
    /// NORMAL`, see `commitsFlush`: in WAL mode that skips the commit's fsync but still syncs
    /// around checkpoints, so nothing can be corrupted). For facts that are worthless after a
    /// power cut anyway — a running job's PID — so they cost no fsync. The next durable commit
    /// flushes the WAL, and this one with it.
    public func writeWithoutFlush<T>(_ body: () throws -> T) throws -> T {
        try setCommitsFlush(false)
        return try transaction(body)
    }

    /// Whether this connection's commits are flushed (`synchronous` FULL, as opened) or not
    /// (NORMAL). The setting stays until the other kind of write needs the other one: SQLite
    /// prepares a PRAGMA statement again at every run, and switching there and back around
    /// every `writeWithoutFlush` cost two such preparations per add in the daemon and per job
    /// in a worker.
    private var commitsFlush = true

    private func setCommitsFlush(_ flush: Bool) throws(SQLiteError) {
        guard flush != commitsFlush else { return }
        try execute(flush ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
        commitsFlush = flush
    }

    /// Runs `body` with the tables' CHECK constraints off (`PRAGMA ignore_check_constraints`),
    /// for rows known to pass them, such as those of a bulk insert after its first statement.
    /// SQLite reads the setting when it prepares a statement, and changing it makes every
    /// statement of this connection be prepared again before its next run: inside `body`, any
    /// statement skips the checks; after it, every one enforces them again.
    public func withoutCheckConstraints<T>(_ body: () throws -> T) throws -> T {
        defer {
            // A connection left without its checks would go on writing unchecked rows: better stop.
            do { try execute("PRAGMA ignore_check_constraints = OFF") } catch {
                fatalError("cannot turn the CHECK constraints of \(path) back on: \(error)")
            }
        }
        try execute("PRAGMA ignore_check_constraints = ON")
        return try body()
    }

    /// fdatasync of the write-ahead log: what a `synchronous = FULL` commit does, for commits
    /// made with `writeWithoutFlush`. (Any descriptor of a file flushes that file.)
    public func syncLog() throws(SQLiteError) {
        logSyncs += 1
        if walDescriptor < 0 { walDescriptor = open(logPath, O_RDONLY | O_CLOEXEC) }
        guard walDescriptor >= 0, fdatasync(walDescriptor) == 0 else {
            throw SQLiteError(code: SQLITE_IOERR, message: "cannot sync \(logPath): \(String(cString: strerror(errno)))")
        }
    }

    private var walDescriptor: Int32 = -1
    /// How many times `syncLog` ran (the tests check which steps flush).
    private(set) var logSyncs = 0

    /// The write-ahead log's file, as SQLite names it (next to the database file that a
    /// symbolic link given as `path` points to, not next to the link).
    public var logPath: String {
        guard let main = sqlite3_db_filename(handle, "main"), let wal = sqlite3_filename_wal(main) else {
            return path + "-wal"
        }
        return String(cString: wal)
    }

    /// Runs `body` in a deferred (read) transaction, so that several queries see one snapshot.
    public func read<T>(_ body: () throws -> T) throws -> T {
        try statement("BEGIN DEFERRED").execute()
        defer { rollback() }
        return try body()
    }

    private func rollback() {
        if sqlite3_get_autocommit(handle) == 0 {
            _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
        }
    }

    /// Whether a transaction is open on this connection.
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// The rowid of the last successful INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by every statement so far on this connection.
    public var totalChanges: Int64 { sqlite3_total_changes64(handle) }

    /// Rows changed by the most recent statement.
    public var changes: Int { Int(sqlite3_changes64(handle)) }

    func error(code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}
