/// A supervisor's steps: one transaction records the jobs that ended, starts jobs in the free
/// slots and reserves more; then the flushes, and giving reservations back.
extension Supervisor {
    /// One transaction: the outcomes of the jobs that ended, the jobs that start now in the free
    /// slots (one the daemon claimed for a slot, else the next reservation), and more
    /// reservations while there may be jobs for them.
    func step() {
        var request = SQLiteStore.SupervisorStep(
            reserver: reserver, maxRunning: configuration.workers, logDirectory: configuration.home.logsDirectory)
        request.ends = pendingEnds
        // Draining, it takes no new job — but one the daemon already claimed for it, it runs.
        request.freeSlots = draining && checkedForAssignedJobs ? [] : freeSlots.map(\.number)
        if !draining {
            request.reservations = reservations
            request.mayReserve = !releaseDue
            request.reserveUpTo = Self.reservationsPerSlot * slots.count
            request.heldElsewhere = flushingReservations.count + unflushedReservations.count
        }
        do {
            let result = try store.supervisorStep(request, now: WallClock.now())
            if draining { checkedForAssignedJobs = true }
            for (end, finished) in zip(pendingEnds, result.finished) { logSettled(end.id, finished) }
            let wroteOutcomes = !pendingEnds.isEmpty
            pendingEnds = []
            wakePending = false
            retryAt = nil
            retryPause = 250
            reservations.removeFirst(result.reservationsUsed)
            unflushedReservations += result.reserved
            if wroteOutcomes { outcomesNeedFlush = true }
            // At the cap (an earlier daemon's supervisor still runs jobs), reservations would
            // only wait, and keep the step due: they go back; a job's end or a wake-up (the
            // daemon's, when a slot of that supervisor is given back) tries again.
            if result.capped { releaseReservations() }
            flushWhatNeedsIt()
            if result.unblocksOthers { Poke.send(to: configuration.home.wakePath) }
            for start in result.started {
                if let slot = slots.first(where: { $0.number == start.slot }) { self.start(start.job, in: slot) }
            }
        } catch {
            // Keep the outcomes and try again: a finished job's result is never dropped.
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
        let held = !(reservations.isEmpty && flushingReservations.isEmpty && unflushedReservations.isEmpty)
        guard held || releaseDue else { return }
        reservations = []
        flushingReservations = []
        unflushedReservations = []
        do {
            try store.releaseReservations(of: reserver)
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
        guard !(reservations.isEmpty && flushingReservations.isEmpty && unflushedReservations.isEmpty) else {
            return nil
        }
        var latest: Int64 = 0
        for slot in slots {
            guard let running = slot.running else { return nil }
            latest = max(latest, running.started)
        }
        return latest + Self.reservationHoldMilliseconds
    }

    func logSettled(_ id: JobID, _ result: FinishResult) {
        switch result {
        case .requeued: logger.info("job \(id) queued again for another attempt (--retries)")
        case .notRunning: logger.warning("job \(id) was settled elsewhere meanwhile; its outcome was not recorded")
        case .done, .failed: break
        }
    }
}
