/// The state changes of a job's life: claim (queued → running), start and finish of an attempt
/// (running → done | failed | queued for a retry), and `jobq retry` (failed → queued).
extension SQLiteStore {
    public func claim(_ request: ClaimRequest, now: Int64) throws -> [Job] {
        guard request.limit > 0 else { return [] }
        let cap = Int64(request.maxRunning ?? Int(Int32.max))
        let jobs = try write {
            try database.statement(SQL.claim).rows(
                [.integer(Int64(request.limit)), .integer(now), .integer(cap), .integer(Int64(request.worker)),
                 .text(request.logDirectory)],
                decodeJobWithEnvironment)
        }
        // RETURNING gives no order; hand them out in claim order.
        return jobs.sorted(by: claimOrder)
    }

    public func recordStart(of id: JobID, attempt: Int, pid: Int32, pidStart: Int64?) throws -> Bool {
        try write {
            try database.statement(SQL.recordStart).execute([
                .integer(id.rawValue), .integer(Int64(attempt)), .integer(Int64(pid)),
                pidStart.map(SQLValue.integer) ?? .null,
            ])
            return database.changes == 1
        }
    }

    public func finish(_ id: JobID, attempt: Int, end: JobEnd, now: Int64) throws -> FinishResult {
        try write { try finishInTransaction(id, attempt: attempt, end: end, now: now) }
    }

    /// `finish` for use inside a transaction that does more (a worker's finish-and-claim-next).
    func finishInTransaction(_ id: JobID, attempt: Int, end: JobEnd, now: Int64) throws -> FinishResult {
        let (state, reason) = end.result
        var exitCode = SQLValue.null
        var signal = SQLValue.null
        switch end.process {
        case .exited(let code)?: exitCode = .integer(Int64(code))
        case .signaled(let number)?: signal = .integer(Int64(number))
        case nil: break
        }
        let maxRetries = try database.statement(SQL.finish).firstRow(
            [.integer(id.rawValue), .integer(Int64(attempt)), .text(state.rawValue),
             reason.map { .text($0.rawValue) } ?? .null, .integer(now), exitCode, signal,
             end.errorText.map(SQLValue.text) ?? .null]
        ) { $0.int(0) }
        guard let maxRetries else { return .notRunning }
        guard let reason else { return .done }
        if reason.isRetryable && attempt <= maxRetries {
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
    if a.priority != b.priority { return a.priority > b.priority }
    switch (a.name, b.name) {
    case (nil, .some): return true
    case (.some, nil): return false
    case (let x?, let y?) where x != y: return x.utf8.lexicographicallyPrecedes(y.utf8)
    default: return a.id < b.id
    }
}
