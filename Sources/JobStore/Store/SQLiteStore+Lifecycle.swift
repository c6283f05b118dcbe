/// The state changes of a job's life: claim (queued → running), start and finish of an attempt
/// (running → done | failed | queued for a retry), and `jobq retry` (failed → queued).
extension SQLiteStore {
    public func claim(_ request: ClaimRequest, now: @autoclosure () -> Int64) throws -> [Job] {
        guard request.limit > 0 else { return [] }
        return try write { try claimInTransaction(request, now: now()) }
    }

    /// The claim statement, in claim order (RETURNING gives none).
    func claimInTransaction(_ request: ClaimRequest, now: Int64) throws -> [Job] {
        try database.statement(SQL.claim).rows(claimParameters(request, now: now), decodeJobWithEnvironment)
            .sorted(by: claimOrder)
    }

    /// The claim statement, returning only the ids (the daemon's claims for idle workers: the
    /// worker reads its job; decoding it here too cost every such add a job and its environment).
    func claimIDsInTransaction(_ request: ClaimRequest, now: Int64) throws -> [JobID] {
        try database.statement(SQL.claimIDs).rows(claimParameters(request, now: now)) { JobID($0.int64(0)) }
    }

    private func claimParameters(_ request: ClaimRequest, now: Int64) -> [SQLValue] {
        let cap = Int64(request.maxRunning ?? Int(Int32.max))
        return [.integer(Int64(request.limit)), .integer(now), .integer(cap), .integer(Int64(request.worker)),
                .text(request.logDirectory)]
    }

    public func recordStart(of id: JobID, attempt: Int, pid: Int32, pidStart: Int64?) throws -> Bool {
        // Not flushed: after a power cut the process is gone and the job is settled as lost
        // whether or not its PID was recorded.
        try writeWithoutFlush {
            try database.statement(SQL.recordStart).execute([
                .integer(id.rawValue), .integer(Int64(attempt)), .integer(Int64(pid)),
                pidStart.map(SQLValue.integer) ?? .null,
            ])
            return database.changes == 1
        }
    }

    public func finish(_ id: JobID, attempt: Int, end: JobEnd, now: @autoclosure () -> Int64) throws -> FinishResult {
        try write { try finishInTransaction(AttemptEnd(id: id, attempt: attempt, end: end), now: now()) }
    }

    /// `finish` for use inside a transaction that does more (a worker's finish-and-claim-next).
    func finishInTransaction(_ ended: AttemptEnd, now: Int64) throws -> FinishResult {
        let (id, attempt, end) = (ended.id, ended.attempt, ended.end)
        let (state, reason) = end.result
        var exitCode = SQLValue.null
        var signal = SQLValue.null
        switch end.process {
        case .exited(let code)?: exitCode = .integer(Int64(code))
        case .signaled(let number)?: signal = .integer(Int64(number))
        case nil: break
        }
        let finished = try database.statement(SQL.finish).firstRow(
            [.integer(id.rawValue), .integer(Int64(attempt)), .text(state.rawValue),
             reason.map { .text($0.rawValue) } ?? .null, .integer(now), exitCode, signal,
             end.errorText.map(SQLValue.text) ?? .null, ended.process.map { .integer(Int64($0.pid)) } ?? .null,
             ended.process.map { .integer($0.startTime) } ?? .null]
        ) { (retries: $0.int(0), cancelRequested: $0.int(1) == 1) }
        guard let (maxRetries, cancelRequested) = finished else { return .notRunning }
        guard let reason else { return .done }
        // A job someone asked to cancel is not tried again.
        if reason.isRetryable && attempt <= maxRetries && !cancelRequested {
            try requeue(id, now: now)
            return .requeued
        }
        try database.statement(SQL.failDependents).execute([.integer(id.rawValue), .integer(now)])
        return .failed(reason)
    }

    public func retry(_ ids: [JobID], now: Int64) throws {
        try write {
            for id in ids {
                guard let state = try database.statement(SQL.jobState).firstRow([.integer(id.rawValue)], { $0.text(0) })
                else { throw StoreError.unknownJob(id) }
                guard state == JobState.failed.rawValue else {
                    throw StoreError.wrongState(id, JobState(rawValue: state) ?? .failed, "only failed jobs can be retried")
                }
                // It would wait forever for a dependency that failed — unless that one is retried too.
                let failedDependencies = try database.statement(SQL.failedDependencies).rows([.integer(id.rawValue)]) {
                    JobID($0.int64(0))
                }
                if let blocking = failedDependencies.first(where: { !ids.contains($0) }) {
                    throw StoreError.wrongState(
                        id, .failed, "it runs after job \(blocking), which failed: retry both (jobq retry \(blocking) \(id))")
                }
                try requeue(id, now: now)
            }
        }
    }

    /// failed → queued as a new attempt, the finished one kept in `attempts`.
    private func requeue(_ id: JobID, now: Int64) throws {
        try database.statement(SQL.archiveAttempt).execute([.integer(id.rawValue)])
        try database.statement(SQL.requeue).execute([.integer(id.rawValue), .integer(0)])
    }
}

/// Claim order: priority (higher first), then name in byte order with unnamed jobs first, then id.
/// The same order as the claim statement's ORDER BY (SQLite compares text bytewise).
public func claimOrder(_ a: Job, _ b: Job) -> Bool {
    claimOrder((a.priority, a.name, a.id), (b.priority, b.name, b.id))
}

/// `claimOrder` of what decides it: (priority, name, id).
func claimOrder(_ a: (priority: Int, name: String?, id: JobID), _ b: (priority: Int, name: String?, id: JobID)) -> Bool {
    if a.priority != b.priority { return a.priority > b.priority }
    switch (a.name, b.name) {
    case (nil, .some): return true
    case (.some, nil): return false
    case (let x?, let y?) where x != y: return x.utf8.lexicographicallyPrecedes(y.utf8)
    default: return a.id < b.id
    }
}

/// What the daemon, its workers and `jobq cancel` need beyond the basic transitions.
extension SQLiteStore {
    /// How many jobs are running (through the partial index of running jobs).
    public func runningCount() throws -> Int {
        try database.statement(SQL.runningCount).firstRow([]) { $0.int(0) } ?? 0
    }

    /// Every running job, oldest first (the reconciler settles the ones whose owner is gone).
    public func runningJobs() throws -> [Job] {
        try database.statement(SQL.runningJobs).rows([], decodeJob)
    }

    /// Whether `jobq cancel` asked for this running attempt to stop.
    public func isCancelRequested(_ id: JobID, attempt: Int) throws -> Bool {
        try database.statement(SQL.cancelRequested).firstRow([.integer(id.rawValue), .integer(Int64(attempt))]) {
            $0.int(0) == 1
        } ?? false
    }

    /// What `cancel` did to one job.
    public enum CancelResult: Sendable, Equatable {
        /// It was queued; it is now failed (cancelled) and will never run.
        case cancelledQueued
        /// It is running; its worker was asked to stop it.
        case stopRequested(worker: Int?)
        /// It is queued, reserved by the supervisor of slot `reserver`, which may have just
        /// started it: its cancel is requested, and the caller settles it with that supervisor's
        /// journal (`StartJournal`).
        case cancelRequested(reserver: Int)
    }

    /// Cancels jobs, all or none: a job that is done or failed already is an error.
    public func cancel(_ ids: [JobID], now: Int64) throws -> [CancelResult] {
        try write {
            try ids.map { id in
                guard let state = try database.statement(SQL.jobState).firstRow([.integer(id.rawValue)], { $0.text(0) })
                    .flatMap(JobState.init(rawValue:))
                else { throw StoreError.unknownJob(id) }
                switch state {
                case .queued:
                    try database.statement(SQL.cancelQueued).execute([.integer(id.rawValue), .integer(now)])
                    if database.changes == 0 {
                        try database.statement(SQL.requestCancelReserved).execute([.integer(id.rawValue), .integer(now)])
                        let reserver = try database.statement(SQL.job).firstRow([.integer(id.rawValue)], decodeJob)?.worker
                        if let reserver { return .cancelRequested(reserver: reserver) }
                    }
                    try database.statement(SQL.failDependents).execute([.integer(id.rawValue), .integer(now)])
                    return .cancelledQueued
                case .running:
                    try database.statement(SQL.requestCancel).execute([.integer(id.rawValue), .integer(now)])
                    let worker = try database.statement(SQL.job).firstRow([.integer(id.rawValue)], decodeJob)?.worker
                    return .stopRequested(worker: worker)
                case .done, .failed:
                    throw StoreError.wrongState(id, state, "only queued or running jobs can be cancelled")
                }
            }
        }
    }

    /// The time the next delayed job comes due after `now`, if any.
    public func nextDueTime(after now: Int64) throws -> Int64? {
        try database.statement(SQL.nextDue).firstRow([.integer(now)]) { $0.optionalInt64(0) } ?? nil
    }
}

/// `jobq clean`: removing finished history.
extension SQLiteStore {
    /// Removes done and failed jobs that finished by `cutoff` (ms since the epoch), with
    /// their earlier attempts, in batches of `batch` jobs (so the write lock is never held long),
    /// and returns how many went and the log files they leave to delete. The newest job is
    /// always kept: ids come from the highest one, so keeping it means no id is ever reused.
    public func pruneFinished(finishedBy cutoff: Int64, batch: Int = 5_000) throws -> (count: Int, logFiles: [String]) {
        var count = 0
        var logFiles: [String] = []
        while true {
            let removed = try write { () throws -> Int in
                let rows = try database.statement(SQL.prunable).rows([.integer(cutoff), .integer(Int64(batch))]) { row in
                    (id: row.int64(0), paths: [row.optionalText(1), row.optionalText(2)].compactMap { $0 }
                        + (row.optionalText(3).map { $0.split(separator: "\u{0}").map(String.init) } ?? []))
                }
                for row in rows {
                    try database.statement(SQL.deleteJob).execute([.integer(row.id)])
                    logFiles += row.paths.filter { !$0.isEmpty }
                }
                if rows.count < batch { try database.statement(SQL.deleteUnusedEnvironments).execute() }
                return rows.count
            }
            count += removed
            if removed < batch { return (count, logFiles) }
        }
    }
}
