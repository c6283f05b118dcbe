/// The store on one SQLite file (see schema.sql): WAL, `synchronous=FULL`, every write in a
/// `BEGIN IMMEDIATE` transaction, hot statements prepared once per connection.
///
/// Not `Sendable`: each process (or thread) opens its own.
public final class SQLiteStore: Store {
    public let database: Database
    private var environmentCache: [Int64: [String]] = [:]
    /// `progress(of:)`'s last id list, as the JSON it binds (a waiter asks about the same ids
    /// many times).
    private var progressIDs: [JobID] = []
    private var progressList = "[]"

    /// Opens the database at `path`, creating it (unless `create` is false) or upgrading its
    /// schema as needed. A long-lived process that touches few pages (the daemon, a worker)
    /// passes a small `cacheKilobytes`.
    public init(path: String, create: Bool = true, migrator: Migrator = .jobq, cacheKilobytes: Int? = nil) throws {
        do {
            database = try Database(path: path, create: create)
            // Per connection: enforced references (Database makes commits durable).
            try database.execute("PRAGMA foreign_keys = ON")
            if let cacheKilobytes { try database.execute("PRAGMA cache_size = -\(cacheKilobytes)") }
            try migrator.prepare(database)
        } catch {
            throw StoreError.from(error, path: path)
        }
    }

    /// Opens the store of a home, creating the home first when needed.
    public convenience init(home: Home) throws {
        try home.prepare()
        try self.init(path: home.databasePath)
    }

    /// For a command that reads much and writes little (`list`, `errors`): SQLite reads the
    /// database file through a memory map instead of copying each page into its cache, and a
    /// 10,000-job `list` faults in a third of the pages. Not for the daemon and its workers, whose
    /// resident memory would then count the mapped file.
    public func readThroughMemoryMap() throws {
        try translatingErrors { try database.execute("PRAGMA mmap_size = \(256 << 20)") }
    }

    /// For a large write (`add --stdin`): this connection leaves copying the write-ahead log into
    /// the database file (the checkpoint) to another process, so the command returns once its
    /// jobs are on disk; the copy is the same work, done there afterwards. When
    /// `logIsDueForCheckpoint` after the write, the caller hands it over (`LogCopyHandOff`: the
    /// daemon, or a detached `jobq copy-log`) — it must: nobody else might copy it for a long time,
    /// and every process that opens the database alone would reread the whole log. Otherwise it
    /// calls `checkpointOnClose`.
    public func leaveCheckpointToOthers() throws {
        try translatingErrors { try database.leaveCheckpointsToOthers() }
    }

    /// After `leaveCheckpointToOthers`, when the write left the log short: the connection copies
    /// the log on close after all, as usual (the last one to close also removes the file).
    public func checkpointOnClose() throws {
        try translatingErrors { try database.checkpointOnClose() }
    }

    /// After `leaveCheckpointToOthers`: whether the last commit made the log long enough for
    /// SQLite to have copied it then.
    public var logIsDueForCheckpoint: Bool { database.logIsDueForCheckpoint }

    /// Copies the write-ahead log into the database file, as far as no reader needs it (a
    /// passive checkpoint: it does not wait, and writers go on meanwhile). Returns the frames in
    /// the log and how many of them are now copied.
    @discardableResult
    public func checkpointLog() throws -> (logFrames: Int, copied: Int) {
        try translatingErrors { try database.checkpoint() }
    }

    /// Runs `body` in a write transaction, turning SQLite's errors into `StoreError`s.
    func write<T>(_ body: () throws -> T) throws -> T {
        try translatingErrors { try database.write(body) }
    }

    /// Makes every commit so far durable (an fsync of the WAL), after `writeWithoutFlush`.
    public func flush() throws {
        try translatingErrors { try database.syncLog() }
    }

    /// Writes the write-ahead log's blocks ahead of the commits (see
    /// `Database.preallocateLog`); returns how many bytes it added.
    @discardableResult
    public func preallocateLog() throws -> Int {
        try translatingErrors { try database.preallocateLog(bytes: try database.logPreallocationBytes()) }
    }

    func writeWithoutFlush<T>(_ body: () throws -> T) throws -> T {
        try translatingErrors { try database.writeWithoutFlush(body) }
    }

    func read<T>(_ body: () throws -> T) throws -> T {
        try translatingErrors { try database.read(body) }
    }

    /// Runs `body`, turning SQLite's errors into `StoreError`s that name the database.
    private func translatingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw StoreError.from(error, path: database.path)
        }
    }

    // MARK: Enqueue

    public func insert(_ specs: [JobSpec], now: Int64) throws -> [JobID] {
        try write {
            var lastEnvironment: (vars: [String], id: Int64)?
            var ids: [JobID] = []
            ids.reserveCapacity(specs.count)
            for spec in specs {
                let environmentID = try environmentRow(for: spec.environment, last: &lastEnvironment)
                ids.append(try insertJob(spec, environmentID: environmentID, now: now))
            }
            return ids
        }
    }

    /// Enqueues, in one transaction, one job per word of `lastWords`: `template` with that word
    /// appended to its command (the jobs of `add --stdin`, whose template is `/bin/sh -c`), in
    /// that order. It is `insert` for many jobs that differ only there, at a third of the cost
    /// per job: what they share is bound once, and each statement inserts `jobsPerInsert`.
    public func insert(_ template: JobSpec, appendingToCommand lastWords: WordList, now: Int64) throws -> [JobID] {
        guard case .command(let words) = template.payload else {
            preconditionFailure("insert(_:appendingToCommand:) needs a command template")
        }
        return try write {
            let environmentID = try environmentRow(for: template.environment)
            let shared = NulSeparated.encode(words)
            let values = try jobValues(template, environmentID: environmentID, now: now)
            // One statement per chunk size (all full but the last), its shared values bound once.
            var prepared: (count: Int, statement: Statement)?
            func insert(_ range: Range<Int>) throws -> [JobID] {
                if prepared?.count != range.count {
                    let statement = try database.statement(SQL.insertJobs(count: range.count))
                    try statement.bind(values)
                    prepared = (range.count, statement)
                }
                return try insertChunk(lastWords, range, shared: shared, with: prepared!.statement)
            }
            var ids = try insert(0..<min(Self.jobsPerInsert, lastWords.count))
            ids.reserveCapacity(lastWords.count)
            if lastWords.count > Self.jobsPerInsert {
                // The rows differ only in argv, which is never NULL: the first statement's rows
                // passed the table's CHECK constraints, so every row does, and the statements
                // after it skip them: 12.4k -> 10.2k instructions a row (callgrind, 20,000 lines).
                try database.withoutCheckConstraints {
                    for start in stride(from: Self.jobsPerInsert, to: lastWords.count, by: Self.jobsPerInsert) {
                        ids += try insert(start..<min(start + Self.jobsPerInsert, lastWords.count))
                    }
                }
            }
            for id in ids { try insertDependencies(of: id, template.after) }
            return ids
        }
    }

    /// One statement of the bulk `insert` (`insert`, its shared values bound): the jobs of
    /// `lastWords[range]`, whose argvs are `shared` and their word.
    private func insertChunk(
        _ lastWords: WordList, _ range: Range<Int>, shared: [UInt8], with insert: Statement
    ) throws -> [JobID] {
        var argvs: [UInt8] = []
        var ranges: [Range<Int>] = []
        argvs.reserveCapacity(range.count * (shared.count + 128))
        ranges.reserveCapacity(range.count)
        for word in lastWords.ranges[range] {
            let first = argvs.count
            argvs.append(contentsOf: shared)
            argvs.append(contentsOf: lastWords.bytes[word])
            argvs.append(0)
            ranges.append(first..<argvs.count)
        }
        try insert.executeAgain(borrowing: argvs, ranges: ranges, from: SQL.firstInsertJobsArgvParameter)
        // The rows took consecutive ids, in order: this transaction holds the write lock, and a
        // new row's id is one more than the largest.
        let last = database.lastInsertRowID
        precondition(
            database.changes == range.count, "a multi-row insert inserted \(database.changes) of \(range.count) rows")
        return ((last - Int64(range.count) + 1)...last).map { JobID($0) }
    }

    /// The rows of one statement of the bulk `insert`: beyond about 50, each more saves little.
    static let jobsPerInsert = 64

    /// Enqueues jobs in one transaction, each on its own: one that is refused (say, --after an
    /// unknown job) does not stop the others. Then, in the same transaction, it claims for each of
    /// the `assigning` slots that is idle (runs nothing) the next job in claim order — if that is
    /// one of these new jobs — so that the slot's supervisor can start it at once, without a
    /// transaction of its own; it returns which slots got one.
    ///
    /// The commit is not flushed: the caller calls `flush()` before it tells anyone the jobs
    /// exist. The supervisor may start an assigned job before that: its claim and its very row
    /// are one transaction, and a power cut before the flush loses both, so nothing can ever
    /// start the job a second time. (A claim of an older job, queued durably before, could not
    /// start before its own flush; it is left to the supervisors.) `othersMayRun`: an idle slot
    /// got nothing while older or reserved jobs may be ready — the caller wakes the supervisors.
    public func insertEach(
        _ specs: [JobSpec], assigning slots: [Int] = [], claim request: ClaimRequest? = nil,
        now: @autoclosure () -> Int64
    ) throws -> (results: [Result<JobID, Error>], assigned: [Int], othersMayRun: Bool) {
        try writeWithoutFlush {
            let now = now()  // With the write lock held (see `Store.claim`).
            let results = try insertEachInTransaction(specs, now: now)
            let new = Set(results.compactMap { try? $0.get() })
            var assigned: [Int] = []
            var othersMayRun = false
            if let request, !slots.isEmpty {
                let busy = Set(try database.statement(SQL.busySlots).rows([]) { $0.int(0) })
                // Reserved jobs come before these in claim order: their supervisor starts them.
                let reserved = try database.statement(SQL.anyReservation).firstRow([]) { $0.int(0) == 1 } ?? false
                for slot in slots where !busy.contains(slot) {
                    if reserved {
                        othersMayRun = true
                        break
                    }
                    var forSlot = request
                    forSlot.worker = slot
                    forSlot.limit = 1
                    try database.statement("SAVEPOINT assign").execute()
                    let id = try claimIDsInTransaction(forSlot, now: now).first
                    let isNew = id.map { new.contains($0) } ?? false
                    if id != nil && !isNew {
                        try database.statement("ROLLBACK TO assign").execute()
                        othersMayRun = true
                    }
                    try database.statement("RELEASE assign").execute()
                    guard isNew else { break }
                    assigned.append(slot)
                }
            }
            return (results, assigned, othersMayRun)
        }
    }

    private func insertEachInTransaction(_ specs: [JobSpec], now: Int64) throws -> [Result<JobID, Error>] {
        var lastEnvironment: (vars: [String], id: Int64)?
        var results: [Result<JobID, Error>] = []
        for spec in specs {
            try database.statement("SAVEPOINT one_job").execute()
            do {
                let environmentID = try environmentRow(for: spec.environment, last: &lastEnvironment)
                let id = try insertJob(spec, environmentID: environmentID, now: now)
                try database.statement("RELEASE one_job").execute()
                results.append(.success(id))
            } catch {
                try database.statement("ROLLBACK TO one_job").execute()
                try database.statement("RELEASE one_job").execute()
                results.append(.failure(error))
            }
        }
        return results
    }

    public func insertInvalid(_ invalid: InvalidTaskFile, now: Int64) throws -> JobID {
        try write {
            if let key = invalid.sourceKey, let existing = try job(forSourceKey: key) { return existing.id }
            let environmentID = try environmentRow(for: [])
            try database.statement(SQL.insertJob).execute([
                .text(invalid.name), .integer(0), .text(JobState.failed.rawValue),
                .text(FailureReason.invalid.rawValue), .text("script"), .null, .text(invalid.text), .null, .null,
                .text(invalid.cwd), .integer(environmentID), .text(invalid.source),
                invalid.sourceKey.map(SQLValue.text) ?? .null, .null, .integer(0), .integer(0), .integer(now),
                .integer(now), .text(invalid.problem),
            ])
            return JobID(database.lastInsertRowID)
        }
    }

    /// The job a spool file with this identity became, if it was ingested already.
    public func job(forSourceKey key: String) throws -> Job? {
        try database.statement(SQL.jobBySourceKey).firstRow([.text(key)], decodeJob)
    }

    private func insertJob(_ spec: JobSpec, environmentID: Int64, now: Int64) throws -> JobID {
        try database.statement(SQL.insertJob).execute(try jobValues(spec, environmentID: environmentID, now: now))
        let id = JobID(database.lastInsertRowID)
        try insertDependencies(of: id, spec.after)
        return id
    }

    /// `SQL.insertJob`'s values for `spec`.
    private func jobValues(_ spec: JobSpec, environmentID: Int64, now: Int64) throws -> [SQLValue] {
        // A job whose dependency already failed for good fails at once: it can never run.
        var failedDependency: JobID?
        for dependency in spec.after {
            guard let state = try database.statement(SQL.jobState).firstRow([.integer(dependency.rawValue)], { $0.text(0) })
            else { throw StoreError.unknownJob(dependency) }
            if state == JobState.failed.rawValue && failedDependency == nil { failedDependency = dependency }
        }
        var argv = SQLValue.null
        var script = SQLValue.null
        var message = SQLValue.null
        var seconds = SQLValue.null
        switch spec.payload {
        case .command(let words): argv = .blob(NulSeparated.encode(words))
        case .script(let text): script = .text(text)
        case .message(let text, let duration):
            message = .text(text)
            seconds = .real(duration)
        }
        return [
            spec.name.map(SQLValue.text) ?? .null, .integer(Int64(spec.priority)),
            .text(failedDependency == nil ? JobState.queued.rawValue : JobState.failed.rawValue),
            failedDependency == nil ? .null : .text(FailureReason.dependency.rawValue),
            .text(spec.payload.kind), argv, script, message, seconds, .text(spec.cwd), .integer(environmentID),
            spec.source.map(SQLValue.text) ?? .null, spec.sourceKey.map(SQLValue.text) ?? .null,
            spec.timeoutMilliseconds.map(SQLValue.integer) ?? .null, .integer(Int64(spec.maxRetries)),
            .integer(spec.runAfter), .integer(now), failedDependency == nil ? .null : .integer(now),
            failedDependency.map { .text("job \($0), which it runs after, failed") } ?? .null,
        ]
    }

    private func insertDependencies(of id: JobID, _ after: [JobID]) throws {
        for dependency in after {
            try database.statement(SQL.insertDependency).execute([.integer(id.rawValue), .integer(dependency.rawValue)])
        }
    }

    /// The row id of an environment, inserting it the first time it is seen. `last` remembers
    /// the previous answer: the jobs of one `add` share one environment array, and comparing
    /// an array with itself costs nothing, unlike hashing it.
    private func environmentRow(for environment: [String], last: inout (vars: [String], id: Int64)?) throws -> Int64 {
        if let last, last.vars == environment { return last.id }
        let id = try environmentRow(for: environment)
        last = (environment, id)
        return id
    }

    private func environmentRow(for environment: [String]) throws -> Int64 {
        let vars = NulSeparated.encode(environment)
        let digest = NulSeparated.digest(vars)
        if let id = try database.statement(SQL.findEnvironment).firstRow([.integer(digest), .blob(vars)], { $0.int64(0) }) {
            return id
        }
        try database.statement(SQL.insertEnvironment).execute([.integer(digest), .blob(vars)])
        return database.lastInsertRowID
    }

    // MARK: Queries

    public func job(_ id: JobID) throws -> Job? {
        try read {
            guard var job = try database.statement(SQL.job).firstRow([.integer(id.rawValue)], decodeJobWithEnvironment)
            else {
                return nil
            }
            job.after = try database.statement(SQL.dependencies).rows([.integer(id.rawValue)]) { JobID($0.int64(0)) }
            return job
        }
    }

    public func jobs(state: JobState?, limit: Int?) throws -> [Job] {
        var jobs: [Job] = []
        try forEachJob(state: state, limit: limit) { jobs.append($0) }
        return jobs
    }

    /// `jobs(state:limit:)` one at a time, newest first, never more than a batch of them in
    /// memory: `list --json` of a million-job history streams instead of holding it all. The ids
    /// come first (8 bytes a job), then the jobs a batch at a time, each batch its own short read,
    /// so that no read stays open while `body` runs: a reader that stops (`list --json | less`)
    /// must not hold back the copy of the write-ahead log into the database file. A job that
    /// changed state since its id was read is left out when listing one state, and shown as it
    /// is now otherwise; one removed meanwhile (`clean`) is left out.
    public func forEachJob(state: JobState?, limit: Int?, _ body: (Job) throws -> Void) throws {
        do {
            let ids = try database.statement(state.map(SQL.idsNewestFirst(in:)) ?? SQL.idsNewestFirst)
                .rows([.integer(Int64(limit ?? -1))]) { JobID($0.int64(0)) }
            for start in stride(from: 0, to: ids.count, by: Self.jobsPerBatch) {
                let chunk = Array(ids[start..<min(start + Self.jobsPerBatch, ids.count)])
                var batch = try database.statement(SQL.jobsWithIDs).rows([.text(Self.jsonList(chunk))], decodeJob)
                if let state { batch.removeAll { $0.state != state } }
                // Their --after lists, one query per batch (most homes have none at all).
                if try database.statement(SQL.anyDependencies).firstRow([], { $0.int(0) }) == 1 {
                    try attachDependencies(to: &batch)
                }
                for job in batch { try body(job) }
            }
        } catch {
            throw StoreError.from(error, path: database.path)
        }
    }

    private static let jobsPerBatch = 1_000

    private func attachDependencies(to jobs: inout [Job]) throws {
        guard !jobs.isEmpty else { return }
        var after: [JobID: [JobID]] = [:]
        for (job, dependency) in try database.statement(SQL.dependenciesOfMany).rows([.text(Self.jsonList(jobs.map(\.id)))], {
            (JobID($0.int64(0)), JobID($0.int64(1)))
        }) {
            after[job, default: []].append(dependency)
        }
        for index in jobs.indices { jobs[index].after = after[jobs[index].id] ?? [] }
    }

    public func attempts(of id: JobID) throws -> [Attempt] {
        try database.statement(SQL.attempts).rows([.integer(id.rawValue)]) { row in
            Attempt(
                number: row.int(0), state: JobState(rawValue: row.text(1)) ?? .failed,
                reason: row.optionalText(2).flatMap(FailureReason.init(rawValue:)), startedAt: row.optionalInt64(3),
                finishedAt: row.optionalInt64(4), worker: row.optionalInt(5), pid: row.optionalInt(6).map(Int32.init),
                exitCode: row.optionalInt(7).map(Int32.init), signal: row.optionalInt(8).map(Int32.init),
                error: row.optionalText(9), stdoutPath: row.optionalText(10), stderrPath: row.optionalText(11))
        }
    }

    /// How many of `ids` exist, are done, failed, running — one query however many ids.
    public func progress(of ids: [JobID]) throws -> (found: Int, done: Int, failed: Int, running: Int) {
        if progressIDs != ids {
            progressIDs = ids
            progressList = Self.jsonList(ids)
        }
        return try database.statement(SQL.progress).firstRow([.text(progressList)]) {
            ($0.int(0), $0.int(1), $0.int(2), $0.int(3))
        } ?? (0, 0, 0, 0)
    }

    /// Ids as a JSON array, the one parameter of a statement that reads them with `json_each`.
    private static func jsonList(_ ids: [JobID]) -> String {
        "[" + ids.map { String($0.rawValue) }.joined(separator: ",") + "]"
    }

    /// Every job that is queued or running now.
    public func unfinishedJobIDs() throws -> [JobID] {
        try database.statement(SQL.unfinishedIDs).rows([]) { JobID($0.int64(0)) }
    }

    public func counts() throws -> [JobState: Int] {
        let (total, queued, running, failed) = try database.statement(SQL.counts).firstRow([]) {
            ($0.int(0), $0.int(1), $0.int(2), $0.int(3))
        } ?? (0, 0, 0, 0)
        return [.queued: queued, .running: running, .failed: failed, .done: total - queued - running - failed]
    }

    /// The lines of `jobq list`: `body` on each job, newest first, optionally of one state.
    public func forEachSummary(state: JobState?, limit: Int?, _ body: (JobSummary) throws -> Void) throws {
        let sql = state.map(SQL.summariesNewestFirst(in:)) ?? SQL.summariesNewestFirst
        do {
            try database.statement(sql).forEach([.integer(Int64(limit ?? -1))]) { try body(JobSummary(row: $0)) }
        } catch {
            throw StoreError.from(error, path: database.path)
        }
    }

    /// An environment row's variables, decoded once per connection.
    func environment(id: Int64) throws -> [String] {
        if let cached = environmentCache[id] { return cached }
        // Bounded: a long-lived worker sees many environments over time.
        if environmentCache.count >= 64 { environmentCache.removeAll(keepingCapacity: true) }
        let vars = try database.statement(SQL.environment).firstRow([.integer(id)]) { $0.blob(0) } ?? []
        let environment = NulSeparated.decode(vars)
        environmentCache[id] = environment
        return environment
    }

    /// `decodeJob`, with the job's environment loaded (for `show` and for running it).
    func decodeJobWithEnvironment(_ row: Row) throws -> Job {
        var job = decodeJob(row)
        job.environment = try environment(id: row.int64(28))
        return job
    }

    func decodeJob(_ row: Row) -> Job {
        let kind = row.text(5)
        let payload: Payload
        switch kind {
        case "command": payload = .command(NulSeparated.decode(row.blob(6)))
        case "message": payload = .message(row.text(8), seconds: row.double(9))
        default: payload = .script(row.text(7))
        }
        return Job(
            id: JobID(row.int64(0)), name: row.optionalText(1), priority: row.int(2), state: JobState(firstByte: row.firstByte(3)),
            reason: row.optionalText(4).flatMap(FailureReason.init(rawValue:)), payload: payload, cwd: row.text(10),
            environment: nil, source: row.optionalText(11), timeoutMilliseconds: row.optionalInt64(12),
            maxRetries: row.int(13), attempt: row.int(14), runAfter: row.int64(15), enqueuedAt: row.int64(16),
            startedAt: row.optionalInt64(17), finishedAt: row.optionalInt64(18), worker: row.optionalInt(19),
            pid: row.optionalInt(20).map(Int32.init(truncatingIfNeeded:)), pidStart: row.optionalInt64(21),
            exitCode: row.optionalInt(22).map(Int32.init(truncatingIfNeeded:)),
            signal: row.optionalInt(23).map(Int32.init(truncatingIfNeeded:)), error: row.optionalText(24),
            stdoutPath: row.optionalText(25), stderrPath: row.optionalText(26),
            cancelRequestedAt: row.optionalInt64(27), after: [])
    }
}
