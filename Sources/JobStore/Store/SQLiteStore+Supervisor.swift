/// A supervisor's writes: one transaction per step records how jobs ended, starts the next ones
/// in the slots that freed, and reserves more — and what a crash leaves of its reservations.
///
/// Why reservations: a job may start only once its claim is on disk (at most once, even across
/// a power cut), and that flush (~0.5 ms here) is as long as a short job. So a supervisor
/// reserves the next few jobs and flushes that while its current jobs run; a reserved job then
/// starts the moment a slot frees, after a commit that is not flushed (`startReserved`). If
/// the machine goes down before that commit reaches the disk, the job may have started without
/// a trace: the reconciler settles such reservations as lost (`settleReservations`).
extension SQLiteStore {
    /// What one step does.
    public struct SupervisorStep {
        /// Attempts that ended since the last step.
        public var ends: [AttemptEnd] = []
        /// Slots that run nothing now: each gets the job the daemon claimed for it, if any,
        /// else the next reservation that can still start.
        public var freeSlots: [Int] = []
        /// The supervisor's flushed reservations, in claim order.
        public var reservations: [JobID] = []
        /// Whether to reserve more jobs: then up to `reserveUpTo` in all, counting `heldElsewhere`
        /// (reservations waiting for a flush) — once half of them are used (reserving costs
        /// pages of its own in a transaction's commit, so it comes in batches), or when a free
        /// slot got nothing.
        public var mayReserve = false
        public var reserveUpTo = 0
        public var heldElsewhere = 0
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

    public struct SupervisorStepResult {
        /// How each of `ends` was recorded (in order).
        public var finished: [FinishResult] = []
        /// A job that ended done has jobs that run after it: the daemon should look for work.
        public var unblocksOthers = false
        /// A job to start now, in its slot.
        public struct Start {
            public let slot: Int
            public let job: Job
        }

        /// Jobs to start now.
        public var started: [Start] = []
        /// How many of `reservations` this step used up (started, or found gone: cancelled, or
        /// claimed for an idle slot by the daemon).
        public var reservationsUsed = 0
        /// New reservations, in claim order: they may start once flushed.
        public var reserved: [JobID] = []
        /// A free slot got nothing because the cap is reached (`maxRunning` jobs run, some of an
        /// earlier daemon's supervisor): reservations would only wait.
        public var capped = false
    }

    /// One transaction, not flushed: the caller flushes before it starts a new reservation, and
    /// sees that the outcomes reach the disk soon. Jobs in `started` may start at once: the
    /// daemon's claims were flushed by it (or are of jobs not on disk either), and a reservation
    /// was flushed before this step.
    public func supervisorStep(_ step: SupervisorStep, now: @autoclosure () -> Int64) throws -> SupervisorStepResult {
        try writeWithoutFlush {
            let now = now()  // With the write lock held (see `Store.claim`).
            var result = SupervisorStepResult()
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
            var running = step.freeSlots.isEmpty ? 0 : try runningCount()
            for slot in step.freeSlots {
                if let assigned = try database.statement(SQL.runningInSlot).firstRow(
                    [.integer(Int64(slot))], decodeJobWithEnvironment)
                {
                    result.started.append(SupervisorStepResult.Start(slot: slot, job: assigned))
                    continue
                }
                // (The cap holds across restarts: an earlier daemon's supervisor may still run jobs.)
                if running >= step.maxRunning {
                    result.capped = true
                    break
                }
                while result.reservationsUsed < step.reservations.count {
                    let id = step.reservations[result.reservationsUsed]
                    result.reservationsUsed += 1
                    let job = try database.statement(SQL.startReserved).firstRow(
                        [
                            .integer(id.rawValue), .integer(now), .integer(Int64(step.maxRunning)),
                            .integer(Int64(slot)),
                            .text(step.logDirectory), .integer(Int64(step.reserver)),
                        ], decodeJobWithEnvironment)
                    if let job {
                        result.started.append(SupervisorStepResult.Start(slot: slot, job: job))
                        running += 1
                        break
                    }
                }
            }
            let held = step.reservations.count - result.reservationsUsed + step.heldElsewhere
            let slotLeftFree = result.started.count < step.freeSlots.count
            let reserve = step.reserveUpTo - held
            if step.mayReserve && !result.capped && reserve > 0 && (held <= step.reserveUpTo / 2 || slotLeftFree) {
                let rows = try database.statement(SQL.reserve).rows(
                    [.integer(Int64(reserve)), .integer(now), .null, .integer(Int64(step.reserver))]
                ) { (id: JobID($0.int64(0)), priority: $0.int(1), name: $0.optionalText(2)) }
                result.reserved = rows.sorted { a, b in
                    claimOrder((a.priority, a.name, a.id), (b.priority, b.name, b.id))
                }.map(\.id)
            }
            return result
        }
    }

    /// Puts a supervisor's reservations back in the queue (flushed: after a power cut, a
    /// reservation left in the database would count as maybe started).
    public func releaseReservations(of reserver: Int) throws {
        try write { try database.statement(SQL.releaseReservations).execute([.integer(Int64(reserver))]) }
    }

    /// After supervisor `reserver` is gone: its reservations go back to the queue — unless the
    /// machine went down since it made them (`maybeStarted`), which may have lost the commit of a
    /// reserved job's start: then each is settled as an attempt that was lost. Returns the jobs
    /// it settled as lost, with how each was settled.
    public func settleReservations(
        of reserver: Int, maybeStarted: Bool, why: String, logDirectory: String, now: Int64
    ) throws -> [(JobID, FinishResult)] {
        try write {
            guard maybeStarted else {
                try database.statement(SQL.releaseReservations).execute([.integer(Int64(reserver))])
                return []
            }
            let ids = try database.statement(SQL.reservedBy).rows([.integer(Int64(reserver))]) { JobID($0.int64(0)) }
            return try ids.compactMap { id in
                guard
                    let attempt = try database.statement(SQL.startReservedToSettle).firstRow(
                        [.integer(id.rawValue), .integer(now), .null, .integer(Int64(reserver)), .text(logDirectory)],
                        { $0.int(0) })
                else { return nil }
                return (id, try finishInTransaction(AttemptEnd(id: id, attempt: attempt, end: .lost(why)), now: now))
            }
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
