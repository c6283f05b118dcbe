/// A supervisor's steps: starting reserved jobs as slots free; one transaction that records
/// those starts and the jobs that ended, hands it the jobs the daemon claimed for its free
/// slots, and reserves more; then the flushes, and giving reservations back.
extension Supervisor {
    /// Starts flushed reservations in the free slots — within the cap, and while the slot file
    /// has room to note the start.
    func startReservations() {
        guard !draining, !releaseDue else { return }
        for slot in slots where slot.running == nil {
            let runningHere = slots.filter { $0.running != nil }.count
            guard !reservations.isEmpty, pendingStarts.count < LockFile.reservedStartCapacity,
                runningHere + othersRunning < configuration.workers
            else { return }
            startReservation(reservations.removeFirst(), in: slot)
        }
    }

    /// One transaction: the reserved jobs it started and the jobs that ended since the last
    /// step, the jobs the daemon claimed for its free slots, and more reservations while there
    /// may be jobs for them.
    func step() {
        var request = SQLiteStore.SupervisorStep(reserver: reserver, logDirectory: configuration.home.logsDirectory)
        request.starts = pendingStarts
        request.ends = pendingEnds
        // The daemon claims a job for a slot of ours only while no job is reserved (and then
        // wakes us). Draining, it takes no new job — but one the daemon already claimed for it,
        // it runs.
        if draining ? !checkedForAssignedJobs : heldReservations == 0 { request.freeSlots = freeSlots.map(\.number) }
        if !draining {
            request.mayReserve = !releaseDue
            request.reserveUpTo = Self.reservationsPerSlot * slots.count
            request.held = heldReservations
            request.slotWaiting = slots.contains { $0.running == nil } && reservations.isEmpty
        }
        do {
            let result = try store.supervisorStep(request, now: WallClock.now())
            if draining { checkedForAssignedJobs = true }
            for (start, cancelRequested) in zip(pendingStarts, result.cancelRequested) {
                guard cancelRequested != false else { continue }
                if cancelRequested == nil {
                    logger.warning("job \(start.id) started, but was not reserved for it any more: stopping it")
                }
                if let slot = slots.first(where: { $0.running?.job.id == start.id }) { beginStop(slot, .cancel) }
            }
            for (end, finished) in zip(pendingEnds, result.finished) { logSettled(end.id, finished) }
            let wroteOutcomes = !(pendingEnds.isEmpty && pendingStarts.isEmpty)
            pendingStarts = []
            pendingEnds = []
            unrecordedSince = nil
            wakePending = false
            retryAt = nil
            retryPause = 250
            if let asked = result.askedToReserve { queueMayHaveMore = result.reserved.count == asked }
            if result.unblocksOthers { queueMayHaveMore = true }
            unflushedReservations += result.reserved
            if wroteOutcomes { outcomesNeedFlush = true }
            for start in result.started {
                if let slot = slots.first(where: { $0.number == start.slot }) { self.start(start.job, in: slot) }
            }
            let runningHere = slots.filter { $0.running != nil }.count
            othersRunning = max(0, result.running - runningHere)
            flushWhatNeedsIt()
            if result.unblocksOthers { Poke.send(to: configuration.home.wakePath) }
            // At the cap (an earlier daemon's supervisor still runs jobs), reservations would
            // only wait: they go back; a job's end or a wake-up (the daemon's, when a slot of
            // that supervisor is given back) tries again.
            if runningHere + othersRunning >= configuration.workers && runningHere < slots.count
                && heldReservations > 0
            {
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
        guard heldReservations > 0 || releaseDue else { return }
        // Those it started are still reserved until a step records them.
        if !pendingStarts.isEmpty { step() }
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

    /// A cancel poke: its reservations whose cancel was requested are cancelled, or stopped if
    /// it started them already.
    func cancelReservationsOnRequest() {
        let requested: [JobID]
        do {
            requested = try store.cancelRequestedReservations(of: reserver)
        } catch {
            logger.error("cannot read the cancel requests of reserved jobs: \(error)")
            return
        }
        var notStarted: [JobID] = []
        for id in requested {
            if let slot = slots.first(where: { $0.running?.job.id == id }) {
                if slot.running?.stopping == nil { beginStop(slot, .cancel) }
            } else if !pendingStarts.contains(where: { $0.id == id }) {
                notStarted.append(id)
            }  // (else it started and ended already: its outcome stands)
        }
        guard !notStarted.isEmpty else { return }
        reservations.removeAll { notStarted.contains($0.id) }
        flushingReservations.removeAll { notStarted.contains($0.id) }
        unflushedReservations.removeAll { notStarted.contains($0.id) }
        do {
            try store.cancelReserved(notStarted, of: reserver, now: WallClock.now())
        } catch {
            // It no longer holds them in memory: giving its reservations back cancels them.
            logger.error("cannot cancel reserved jobs (will retry in \(retryPause) ms): \(error)")
            releaseDue = true
            retryLater()
        }
    }

    func logSettled(_ id: JobID, _ result: FinishResult) {
        switch result {
        case .requeued: logger.info("job \(id) queued again for another attempt (--retries)")
        case .notRunning: logger.warning("job \(id) was settled elsewhere meanwhile; its outcome was not recorded")
        case .done, .failed: break
        }
    }
}
