/// A supervisor's writes: one transaction per step records the jobs it started and how jobs
/// ended, hands it the jobs the daemon claimed for its free slots, and reserves more — and what
/// a crash leaves of its reservations.
///
/// Why reservations: a job may start only once its claim is on disk (at most once, even across
/// a power cut), and that flush (~0.5 ms here) is as long as a short job. So a supervisor
/// reserves the next few jobs and flushes that while its current jobs run. A reserved job then
/// starts the moment a slot frees, with no transaction first: the supervisor notes the start in
/// its journal (`StartJournal`, one pwrite), spawns the job, and records the start in a later
/// step, with the starts and ends that came meanwhile (`recordReservedStart`). If the supervisor
/// dies before that, the reconciler finds the start in the journal and settles the job as lost;
/// if the machine goes down before the step reaches the disk, every reservation may have
/// started, and the reconciler settles them all as lost (`settleReservations`). (While an
/// earlier daemon's supervisor runs jobs beyond the cap, starts are guarded writes instead:
/// `SupervisorStep.guardedStarts`.)
extension SQLiteStore {
    /// What one step does.
    public struct SupervisorStep {
        /// Reserved jobs it started since the last step (before the ends: such a job may have
        /// ended too).
        public var starts: [ReservedStart] = []
        /// Attempts that ended since the last step.
        public var ends: [AttemptEnd] = []
        /// Reservations `jobq cancel` took back, which it may not have cancelled yet.
        public var cancels: [JobID] = []
        /// Slots that run nothing now: each gets the job the daemon claimed for it, if any —
        /// else, with `guardedStarts`, the next of `reservations` that can still start.
        public var freeSlots: [Int] = []
        /// Whether to start reservations here, each in a guarded write that holds the cap:
        /// while an earlier daemon's supervisor runs jobs in slots beyond `maxRunning` (the
        /// supervisor's own starts, recorded after the spawn, could not hold it then), or when
        /// the supervisor cannot note its starts.
        public var guardedStarts = false
        /// Its flushed reservations, in claim order (for `guardedStarts`).
        public var reservations: [JobID] = []
        /// Whether to reserve more jobs: then up to `reserveUpTo` in all, counting `held` (its
        /// reservations not started yet) — once half of them are used (reserving costs pages
        /// of its own in a transaction's commit, so it comes in batches), or when a slot waits
        /// for one (`slotWaiting`).
        public var mayReserve = false
        public var reserveUpTo = 0
        public var held = 0
        public var slotWaiting = false
        /// Who reserves: the supervisor's first slot.
        public var reserver: Int
        /// The daemon's --workers: never more jobs running than this, in all.
        public var maxRunning: Int
        public var logDirectory: String

        public init(reserver: Int, maxRunning: Int, logDirectory: String) {
            self.reserver = reserver
            self.maxRunning = maxRunning
            self.logDirectory = logDirectory
        }
    }

    /// A reserved job a supervisor started (or tried to: `pid` nil) before recording it.
    public struct ReservedStart: Sendable {
        public let slot: Int
        public let id: JobID
        /// The attempt it started as (one more than the reservation's).
        public let attempt: Int
        public let startedAt: Int64
        public var process: ProcessIdentity?

        public init(slot: Int, id: JobID, attempt: Int, startedAt: Int64, process: ProcessIdentity? = nil) {
            self.slot = slot
            self.id = id
            self.attempt = attempt
            self.startedAt = startedAt
            self.process = process
        }
    }

    public struct SupervisorStepResult {
        /// For each of `starts`: whether a cancel was requested before it was recorded (the
        /// supervisor stops the job), or nil when it was not recorded (no longer its reservation).
        public var cancelRequested: [Bool?] = []
        /// How each of `ends` was recorded (in order).
        public var finished: [FinishResult] = []
        /// A job that ended done has jobs that run after it: the daemon should look for work.
        public var unblocksOthers = false
        /// A job to start now in a free slot: one the daemon claimed for it, or (`guardedStarts`)
        /// a reservation.
        public struct Start {
            public let slot: Int
            public let job: Job
        }

        public var started: [Start] = []
        /// New reservations, in claim order, with what it needs to start them: they may start
        /// once flushed.
        public var reserved: [Job] = []
        /// How many it tried to reserve, if it did: fewer reserved means the queue has no more.
        public var askedToReserve: Int?
        /// How many of `reservations` it used up (started, or found gone).
        public var reservationsUsed = 0
        /// A free slot got nothing because the cap is reached (with `guardedStarts`).
        public var capped = false
        /// Jobs running in slots beyond `maxRunning`, after this step: while there are any,
        /// starts must be guarded (see `guardedStarts`).
        public var runningBeyondCap = 0
    }

    /// One transaction, not flushed: the caller flushes before it starts a new reservation, and
    /// sees that the outcomes reach the disk soon. Jobs in `started` may start at once: the
    /// daemon's claims were flushed by it (or are of jobs not on disk either).
    public func supervisorStep(_ step: SupervisorStep, now: @autoclosure () -> Int64) throws -> SupervisorStepResult {
        try writeWithoutFlush {
            let now = now()  // With the write lock held (see `Store.claim`).
            var result = SupervisorStepResult()
            for start in step.starts {
                result.cancelRequested.append(
                    try database.statement(SQL.recordReservedStart).firstRow(
                        [
                            .integer(start.id.rawValue), .integer(start.startedAt), .integer(Int64(start.slot)),
                            .text(step.logDirectory), .integer(Int64(step.reserver)), .integer(Int64(start.attempt)),
                            start.process.map { .integer(Int64($0.pid)) } ?? .null,
                            start.process.map { .integer($0.startTime) } ?? .null,
                        ], { $0.int(0) == 1 }))
            }
            try cancelReservedInTransaction(step.cancels, of: step.reserver, now: now)
            for end in step.ends {
                let finished = try finishInTransaction(end, now: now)
                result.finished.append(finished)
                if finished == .done, !result.unblocksOthers {
                    result.unblocksOthers =
                        try database.statement(SQL.hasDependents).firstRow([.integer(end.id.rawValue)]) {
                            $0.int(0) == 1
                        } ?? false
                }
            }
            var running = step.guardedStarts && !step.freeSlots.isEmpty ? try runningCount() : 0
            for slot in step.freeSlots {
                if let assigned = try database.statement(SQL.runningInSlot).firstRow(
                    [.integer(Int64(slot))], decodeJobWithEnvironment)
                {
                    result.started.append(SupervisorStepResult.Start(slot: slot, job: assigned))
                    continue
                }
                guard step.guardedStarts else { continue }
                if running >= step.maxRunning {
                    result.capped = true
                    break
                }
                while result.reservationsUsed < step.reservations.count {
                    let id = step.reservations[result.reservationsUsed]
                    result.reservationsUsed += 1
                    // (One whose cancel was requested never starts: it is cancelled here.)
                    try cancelReservedInTransaction([id], of: step.reserver, now: now, onlyIfRequested: true)
                    if let job = try database.statement(SQL.startReserved).firstRow(
                        [
                            .integer(id.rawValue), .integer(now), .integer(Int64(step.maxRunning)),
                            .integer(Int64(slot)), .text(step.logDirectory), .integer(Int64(step.reserver)),
                        ], decodeJobWithEnvironment)
                    {
                        result.started.append(SupervisorStepResult.Start(slot: slot, job: job))
                        running += 1
                        break
                    }
                }
            }
            result.runningBeyondCap =
                try database.statement(SQL.runningBeyond).firstRow([.integer(Int64(step.maxRunning))]) { $0.int(0) } ?? 0
            let held = step.held - result.reservationsUsed
            let reserve = step.reserveUpTo - held
            let slotWaiting = step.slotWaiting && result.started.isEmpty
            if step.mayReserve && !result.capped && reserve > 0 && (held <= step.reserveUpTo / 2 || slotWaiting) {
                result.askedToReserve = reserve
                let rows = try database.statement(SQL.reserve).rows(
                    [.integer(Int64(reserve)), .integer(now), .null, .integer(Int64(step.reserver))]
                ) { (id: JobID($0.int64(0)), priority: $0.int(1), name: $0.optionalText(2)) }
                result.reserved = try rows.sorted { a, b in
                    claimOrder((a.priority, a.name, a.id), (b.priority, b.name, b.id))
                }.compactMap { row in
                    try database.statement(SQL.job).firstRow([.integer(row.id.rawValue)], decodeJobWithEnvironment)
                }
            }
            return result
        }
    }

    /// Puts a supervisor's reservations back in the queue — those whose cancel was requested
    /// are cancelled instead — flushed: after a power cut, a reservation left in the database
    /// would count as maybe started.
    public func releaseReservations(of reserver: Int, now: Int64) throws {
        try write { try releaseReservationsInTransaction(of: reserver, now: now) }
    }

    private func releaseReservationsInTransaction(of reserver: Int, now: Int64) throws {
        let cancelled = try database.statement(SQL.cancelRequestedReservations).rows([.integer(Int64(reserver))]) {
            JobID($0.int64(0))
        }
        try cancelReservedInTransaction(cancelled, of: reserver, now: now)
        try database.statement(SQL.releaseReservations).execute([.integer(Int64(reserver))])
    }

    /// Cancels reservations of supervisor `reserver` that it did not start (a cancel asked it to).
    public func cancelReserved(_ ids: [JobID], of reserver: Int, now: Int64) throws {
        try write { try cancelReservedInTransaction(ids, of: reserver, now: now) }
    }

    private func cancelReservedInTransaction(
        _ ids: [JobID], of reserver: Int, now: Int64, onlyIfRequested: Bool = false
    ) throws {
        for id in ids {
            try database.statement(onlyIfRequested ? SQL.cancelReservedIfRequested : SQL.cancelReserved).execute(
                [.integer(id.rawValue), .integer(now), .integer(Int64(reserver))])
            if database.changes > 0 {
                try database.statement(SQL.failDependents).execute([.integer(id.rawValue), .integer(now)])
            }
        }
    }

    /// After supervisor `reserver` is gone: the reservations its journal says it started
    /// (`started`: id and attempt, before it could record them) are settled as lost attempts.
    /// The others go back to the queue — unless the machine went down since they were made
    /// (`maybeStarted`), which may have lost the record of a start: then each is settled as a
    /// lost attempt too. Returns the jobs it settled as lost, with how each was settled.
    public func settleReservations(
        of reserver: Int, started: [(id: JobID, attempt: Int)], maybeStarted: Bool, why: String,
        whyStarted: String, logDirectory: String, now: Int64
    ) throws -> [(JobID, FinishResult)] {
        try write {
            func settle(_ id: JobID, attempt: Int?, why: String) throws -> (JobID, FinishResult)? {
                // One whose cancel was requested ends cancelled (and is not tried again).
                let cancelRequested =
                    try database.statement(SQL.job).firstRow([.integer(id.rawValue)], decodeJob)?.cancelRequestedAt != nil
                guard
                    let attempt = try database.statement(SQL.startReservedToSettle).firstRow(
                        [
                            .integer(id.rawValue), .integer(now), .null, .integer(Int64(reserver)),
                            .text(logDirectory), attempt.map { .integer(Int64($0)) } ?? .null,
                        ], { $0.int(0) })
                else { return nil }
                let end: JobEnd = cancelRequested ? .cancelled(nil) : .lost(why)
                return (id, try finishInTransaction(AttemptEnd(id: id, attempt: attempt, end: end), now: now))
            }
            var settled = try started.compactMap { try settle($0.id, attempt: $0.attempt, why: whyStarted) }
            guard maybeStarted else {
                try releaseReservationsInTransaction(of: reserver, now: now)
                return settled
            }
            let ids = try database.statement(SQL.reservedBy).rows([.integer(Int64(reserver))]) { JobID($0.int64(0)) }
            settled += try ids.compactMap { try settle($0, attempt: nil, why: why) }
            return settled
        }
    }

    /// The slots whose supervisors hold reservations.
    public func reservingSlots() throws -> [Int] {
        try database.statement(SQL.reservers).rows([]) { $0.int(0) }
    }

    /// The jobs supervisor `reserver` has reserved (for tests and the reconciler's messages).
    public func reservations(of reserver: Int) throws -> [JobID] {
        try database.statement(SQL.reservedBy).rows([.integer(Int64(reserver))]) { JobID($0.int64(0)) }
    }
}
