/// A supervisor's steps: starting reserved jobs as slots free; one transaction that records
/// those starts and the jobs that ended, hands it the jobs the daemon claimed for its free
/// slots, and reserves more; then the flushes, and giving reservations back.
extension Supervisor {
    /// Starts flushed reservations in the free slots, each noted in the journal first — unless
    /// starts must be guarded (see `startsMustBeGuarded`): then the steps start them.
    func startReservations() {
        guard !draining, !releaseDue, !startsMustBeGuarded else { return }
        for slot in slots where slot.running == nil {
            guard !reservations.isEmpty, pendingStarts.count < StartJournal.startCapacity else { return }
            startReservation(in: slot)
        }
    }

    /// Whether a start must be a guarded write (`SQLiteStore.SupervisorStep.guardedStarts`):
    /// while an earlier daemon's supervisor runs jobs in slots this daemon does not have (a
    /// start recorded after the spawn could not hold the cap then; this daemon's slots alone
    /// never exceed it), or when the journal cannot be written.
    var startsMustBeGuarded: Bool { runningBeyondCap != 0 || !journalWritable }

    /// Every slot runs a job that started `reservationHoldMilliseconds` ago or longer: then
    /// reservations are not worth holding (see `releaseAt`).
    var everySlotRunsLong: Bool {
        let now = WallClock.monotonic()
        return slots.allSatisfy { slot in
            slot.running.map { now - $0.started >= Self.reservationHoldMilliseconds } ?? false
        }
    }

    /// One transaction: the reserved jobs it started and the jobs that ended since the last
    /// step, the jobs the daemon claimed for its free slots (or, guarded, reservations
    /// started there), and more reservations while there may be jobs for them.
    func step(reserving: Bool = true) {
        var request = SQLiteStore.SupervisorStep(
            reserver: reserver, maxRunning: configuration.workers, logDirectory: configuration.home.logsDirectory)
        request.starts = pendingStarts
        request.ends = pendingEnds
        request.cancels = cancelledReservations
        let guarded = startsMustBeGuarded && !draining && !releaseDue
        // The daemon claims a job for a slot of ours only while no job is reserved (and then
        // wakes us). Draining, it takes no new job — but one the daemon already claimed for it,
        // it runs.
        if draining ? !checkedForAssignedJobs : (heldReservations == 0 || guarded) {
            request.freeSlots = freeSlots.map(\.number)
        }
        if guarded {
            request.guardedStarts = true
            request.reservations = reservations.map(\.id)
        }
        if !draining {
            request.mayReserve = reserving && !releaseDue && !everySlotRunsLong
            request.reserveUpTo = Self.reservationsPerSlot * slots.count
            request.held = heldReservations
            request.slotWaiting = anySlotFree && reservations.isEmpty
        }
        do {
            let result = try store.supervisorStep(request, now: WallClock.now())
            if draining { checkedForAssignedJobs = true }
            for (start, cancelRequested) in zip(pendingStarts, result.cancelRequested) where cancelRequested != false {
                if cancelRequested == nil {
                    logger.warning("job \(start.id) started, but was not reserved for it any more: stopping it")
                }
                if let slot = slots.first(where: { $0.running?.job.id == start.id }), slot.running?.stopping == nil {
                    beginStop(slot, .cancel)
                }
            }
            for (end, finished) in zip(pendingEnds, result.finished) { logSettled(end.id, finished) }
            let wroteOutcomes = !(pendingEnds.isEmpty && pendingStarts.isEmpty)
            pendingStarts = []
            pendingEnds = []
            cancelledReservations = []
            unrecordedSince = nil
            wakePending = false
            retryAt = nil
            retryPause = 250
            runningBeyondCap = result.runningBeyondCap
            reservations.removeFirst(result.reservationsUsed)
            if let asked = result.askedToReserve { queueMayHaveMore = result.reserved.count == asked }
            if result.unblocksOthers { queueMayHaveMore = true }
            unflushedReservations += result.reserved
            if wroteOutcomes { outcomesNeedFlush = true }
            for start in result.started {
                if let slot = slots.first(where: { $0.number == start.slot }) { self.start(start.job, in: slot) }
            }
            flushWhatNeedsIt()
            if result.unblocksOthers { Poke.send(to: configuration.home.wakePath) }
            // At the cap (an earlier daemon's supervisor still runs jobs), reservations would
            // only wait: they go back; a job's end or a wake-up (the daemon's, when a slot of
            // that supervisor is given back) tries again.
            if result.capped {
                queueMayHaveMore = false
                releaseReservations()
            }
        } catch {
            // Keep the starts and outcomes and try again: a finished job's result is never dropped.
            logger.error("cannot write to the database (will retry in \(retryPause) ms): \(error)")
            retryLater()
        }
    }

    func retryLater() {
        retryAt = WallClock.monotonic() + retryPause
        retryPause = min(retryPause * 2, 30_000)
    }

    /// New reservations need a flush before they may start: this supervisor's own, on its
    /// thread. Outcomes alone need one soon, not now: with a daemon it is asked to take them
    /// along with its next flush (usually an add's, which a stream of jobs added one by one
    /// brings anyway: one flush per job instead of two).
    func flushWhatNeedsIt() {
        guard !flusher.isBusy else { return }
        if !unflushedReservations.isEmpty {
            let covered = unflushedReservations
            if flusher.request() {
                flushingReservations = covered
                unflushedReservations = []
                outcomesNeedFlush = false
            } else {
                flushHere { reservations += covered }
            }
        } else if outcomesNeedFlush {
            if daemonPipe >= 0 && flushRequests.send(Daemon.flushRequest) {
                outcomesNeedFlush = false
            } else if flusher.request() {
                outcomesNeedFlush = false
            } else {
                flushHere {}
            }
        }
    }

    /// A flush on this thread, when the flush thread cannot take it.
    private func flushHere(then: () -> Void) {
        do {
            try store.flush()
            unflushedReservations = []
            outcomesNeedFlush = false
            then()
        } catch {
            flushFailed(error)
        }
    }

    /// The flush thread is done with a flush.
    func flushDone() {
        switch flusher.collect() {
        case .flushed:
            reservations += flushingReservations
            flushingReservations = []
        case .failed:
            flushFailed(nil)
        case .gone:
            logger.error("the flush thread ended; flushing on the main thread from now on")
            unflushedReservations = flushingReservations + unflushedReservations
            flushingReservations = []
            outcomesNeedFlush = true
        }
        if retryAt == nil { flushWhatNeedsIt() }
    }

    /// After a failed fdatasync the kernel may have dropped the pages it could not write, so a
    /// later flush that succeeds proves nothing about them: the reservations it covered never
    /// start — they go back to the queue (a new, flushed write) — and the outcomes are flushed
    /// again.
    private func flushFailed(_ error: Error?) {
        logger.error(
            "cannot flush the database's log to disk\(error.map { ": \($0)" } ?? "") (will retry in \(retryPause) ms)")
        releaseDue = releaseDue || !(flushingReservations.isEmpty && unflushedReservations.isEmpty)
        flushingReservations = []
        unflushedReservations = []
        outcomesNeedFlush = true
        retryLater()
    }

    /// Gives its reservations back to the queue: when draining, when every slot runs a long job
    /// (see `reservationHoldMilliseconds`), at the cap, and after a failed flush. Those it holds
    /// are never started, whether or not the write succeeds (then it is tried again later).
    func releaseReservations() {
        guard (heldReservations > 0 || releaseDue) && !gaveBackFirstSlot else { return }
        // Those it started are still reserved until a step records them.
        if !pendingStarts.isEmpty { step(reserving: false) }
        reservations = []
        flushingReservations = []
        unflushedReservations = []
        guard pendingStarts.isEmpty else {
            releaseDue = true
            return
        }
        do {
            try store.releaseReservations(of: reserver, now: WallClock.now())
            releaseDue = false
        } catch {
            // Nobody else may start them meanwhile; the reconciler gives them back if this
            // supervisor goes away first.
            logger.error("cannot give reserved jobs back to the queue (will retry in \(retryPause) ms): \(error)")
            releaseDue = true
            retryLater()
        }
    }

    /// When reservations go back to the queue if every slot is still busy then.
    var releaseAt: Int64? {
        guard heldReservations > 0 else { return nil }
        var latest: Int64 = 0
        for slot in slots {
            guard let running = slot.running else { return nil }
            latest = max(latest, running.started)
        }
        return latest + Self.reservationHoldMilliseconds
    }

    /// Drops the reservations `jobq cancel` took back (listed in the journal; it cancelled them
    /// in the database), with the journal's lock held.
    /// Its next step cancels them in the database too (`cancel` does, but may have died first).
    func dropCancelledReservations() {
        let cancels = journal.takeCancels()
        guard !cancels.isEmpty else { return }
        func isCancelled(_ job: Job) -> Bool { cancels.contains { $0.id == job.id && $0.attempt == job.attempt } }
        let dropped = (reservations + flushingReservations + unflushedReservations).filter(isCancelled).map(\.id)
        reservations.removeAll(where: isCancelled)
        flushingReservations.removeAll(where: isCancelled)
        unflushedReservations.removeAll(where: isCancelled)
        cancelledReservations += dropped
    }

    func logSettled(_ id: JobID, _ result: FinishResult) {
        switch result {
        case .requeued: logger.info("job \(id) queued again for another attempt (--retries)")
        case .notRunning: logger.warning("job \(id) was settled elsewhere meanwhile; its outcome was not recorded")
        case .done, .failed: break
        }
    }
}
