import ArgumentParser
import Glibc
import JobStore

/// `jobq cancel`: a queued job never runs; a running one is stopped by its worker. (A job its
/// supervisor had just started, before recording it, counts as running: `cancelReserved`.)
struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", _superCommandName: "jobq",
        abstract: "Cancel jobs: a queued job never runs; a running one gets SIGTERM, then SIGKILL after a grace.",
        discussion: """
            A job its supervisor had just started, before recording the start, counts as running.
            A running job's whole process group gets SIGTERM; if it is still there after the daemon's
            --kill-grace (default 10s), SIGKILL. Either way the job ends failed with reason `cancelled`.
            Jobs that run --after a cancelled job fail too (reason `dependency`).

            Examples:
              jobq cancel 42
              jobq cancel 42 43 44

            Exit codes: 0 all cancelled (or asked to stop), 1 an id is unknown or already finished
            (then nothing is cancelled), 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The jobs to cancel.", valueName: "ID"))
    var ids: [JobID]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("name the jobs to cancel, e.g. jobq cancel 42") }
    }

    func run() throws {
        let home = global.resolvedHome
        let store = try SQLiteStore(home: home)
        let results = try store.cancel(ids, now: WallClock.now())
        var terminal = Terminal()
        for (id, result) in zip(ids, results) {
            switch result {
            case .cancelledQueued:
                terminal.print("job \(id) cancelled (it had not started)")
            case .stopRequested(let worker):
                // Holding the slot's lock proves its worker is gone — and keeps a new one from
                // taking the slot while this settles the job.
                let slotLock = try worker.map { try LockFile(path: home.slotLockPath($0)) }
                if let worker, slotLock?.tryLock() == false {
                    Poke.send(to: home.slotPokePath(worker))
                    terminal.print("job \(id) is being stopped")
                } else if let job = try store.job(id) {
                    // Nobody supervises it any more: stop what is left of it and record it here.
                    try Reconciler(store: store, home: home).settle(
                        job, why: "cancelled while its worker was gone", now: WallClock.now(), end: .cancelled(nil))
                    terminal.print("job \(id) cancelled (its worker was gone)")
                }
            case .cancelRequested(let reserver):
                terminal.print("job \(id) \(try cancelReserved(id, reserver: reserver, store: store, home: home))")
            }
        }
        terminal.flush()
        DaemonControl.poke(home)
    }

    /// A job reserved by a supervisor, which may have just started it (it records a reserved
    /// job's start after the spawn). Under its journal's lock, which the supervisor takes to
    /// start a reservation, the job is listed as cancelled unless the journal says it started —
    /// then its supervisor stops it. What became of the job, as the rest of a sentence.
    private func cancelReserved(_ id: JobID, reserver: Int, store: SQLiteStore, home: Home) throws -> String {
        let slotLock = try LockFile(path: home.slotLockPath(reserver))
        if slotLock.tryLock() {
            // Its supervisor is gone: settle its reservations here (a cancelled one is cancelled).
            try Reconciler(store: store, home: home).settleJobs(ofDeadSlot: reserver, lock: slotLock, now: WallClock.now())
            return describe(try store.job(id), reserver: reserver)
        }
        let journal = StartJournal(path: home.slotStartsPath(reserver), create: false)
        let deadline = WallClock.monotonic() + 2_000
        while true {
            enum Step { case listed, started, listFull }
            guard let job = try store.job(id), job.state == .queued, job.worker == reserver else { break }
            // (A supervisor without a journal, of a jobq before it, records a start before the
            // spawn: cancelling in the database is enough.)
            let step =
                journal.isOpen
                ? journal.withLock { () -> Step in
                    if journal.starts().contains(where: { $0.id == id && $0.attempt == job.attempt + 1 }) {
                        return .started
                    }
                    return journal.addCancel(id, attempt: job.attempt) ? .listed : .listFull
                } ?? .listFull
                : .listed
            // Once listed, the supervisor never starts it: the database may follow, outside the
            // lock (a step of the supervisor's does it too, should this process die first).
            if step == .listed { try store.cancelReserved([id], of: reserver, now: WallClock.now()) }
            // It drops the job from its reservations, or stops it once it records its start.
            Poke.send(to: home.slotPokePath(reserver))
            if step == .listed || WallClock.monotonic() >= deadline { break }
            if step == .started {
                while let job = try store.job(id), job.state == .queued, WallClock.monotonic() < deadline {
                    usleep(2_000)
                }
                break
            }
            usleep(2_000)  // Its cancel list is full (or locked): the supervisor empties it.
        }
        return describe(try store.job(id), reserver: reserver)
    }

    private func describe(_ job: Job?, reserver: Int) -> String {
        guard let job else { return "is gone" }
        switch job.state {
        case .queued where job.worker != nil: return "will be cancelled or stopped by its supervisor (slot \(reserver))"
        case .queued: return "is queued again"
        case .running: return "had just started: it is being stopped"
        case .failed where job.reason == .cancelled:
            return job.startedAt == nil ? "cancelled (it had not started)" : "had just started: it was stopped"
        default: return "had just started, and ended before the cancel reached it: \(job.resultSummary)"
        }
    }
}
