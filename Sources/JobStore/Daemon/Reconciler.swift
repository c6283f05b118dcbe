import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Settles running jobs whose owner is gone: a worker killed with `kill -9`, an OOM kill, a
/// power cut. The caller proves the owner is gone by holding the slot's lock (the kernel
/// dropped it when the worker died). Such a job is `failed` with reason `lost`, or queued again
/// when it has retries left — and whatever is left of its processes is killed first, so a
/// retry never runs alongside an unsupervised first attempt.
public struct Reconciler {
    let store: SQLiteStore
    let home: Home
    let logger = Logger(label: "jobq-daemon")

    public init(store: SQLiteStore, home: Home) {
        self.store = store
        self.home = home
    }

    /// Settles the running jobs owned by `slot`, whose lock the caller now holds (`lock`: its
    /// file also names the process of the job the supervisor ran last in it, and the boot it
    /// ran in), and the jobs reserved by a supervisor whose first slot it was. Returns how many
    /// jobs it settled or put back in the queue.
    @discardableResult
    public func settleJobs(ofDeadSlot slot: Int, lock: LockFile?, now: Int64) throws -> Int {
        let reserved = try store.reservations(of: slot).count
        if reserved > 0 {
            // Its supervisor noted in its journal the reserved jobs it started and had not
            // recorded yet. Every other start was recorded, without a flush: only a crash of the
            // machine can have lost that. The slot file names the boot its supervisor ran in (and
            // a file written before a crash may have lost that too).
            let note = Reconciler.bootNote
            let sameBoot = note != nil && lock?.holderNote() == note
            var started: [(id: JobID, attempt: Int)] = []
            for entry in StartJournal(path: home.slotStartsPath(slot), create: false).starts() {
                guard let job = try store.job(entry.id), job.state == .queued, job.worker == slot,
                    job.attempt == entry.attempt - 1
                else { continue }  // Recorded since (or an older attempt's entry).
                started.append((entry.id, entry.attempt))
                // What is left of it goes first: a retry must never run beside it. (After a
                // reboot its PID and start time may name another process.)
                if sameBoot, let process = entry.process { stopRemains(of: entry.id, process) }
            }
            let settled = try store.settleReservations(
                of: slot, started: started, maybeStarted: !sameBoot,
                why: "it was reserved to start in worker slot \(slot) when the machine went down, and may have started",
                whyStarted: "its supervisor (slot \(slot)) vanished as it started it",
                logDirectory: home.logsDirectory, now: now)
            for (id, result) in settled {
                let how: String
                switch result {
                case .requeued: how = "queued again"
                case .failed(.cancelled): how = "cancelled (as asked)"
                default: how = "settled as lost"
                }
                logger.warning("job \(id) may have started before its supervisor went away: \(how)")
            }
            if sameBoot {
                logger.info("jobs reserved by the supervisor of slot \(slot) went back to the queue")
            }
        }
        let orphans = try store.runningJobs().filter { $0.worker == slot }
        let recorded = lock?.recordedJob()
        for var job in orphans {
            // A job that died young may have its PID in the slot file only.
            if job.pid == nil, let recorded, recorded.id == job.id, recorded.attempt == job.attempt {
                job.pid = recorded.process.pid
                job.pidStart = recorded.process.startTime
            }
            // The slot's log files hold the output of the job its file names: after a crash of the
            // machine that may be a later job than this one (its start, not this one's end, made
            // it to disk).
            let ranLast = recorded.map { $0.id == job.id && $0.attempt == job.attempt } ?? true
            try settle(
                job, why: "its supervisor (slot \(slot)) vanished without recording how it ended", now: now,
                keepSlotLogs: ranLast)
        }
        return orphans.count + reserved
    }

    /// Kills what is left of a job whose supervisor is gone. Only the job's own processes: a
    /// PID reused since then has another start time. The leader (killed with its supervisor,
    /// PR_SET_PDEATHSIG) may be gone while the rest of its session lives on.
    private func stopRemains(of id: JobID, _ leader: ProcessIdentity) {
        leader.signalGroup(SIGKILL)
        // If the PID now belongs to another process, so may the session id: leave it alone.
        let reused = ProcessIdentity.startTime(of: leader.pid).map { $0 != leader.startTime } ?? false
        let rest = reused ? [] : leader.sessionMembers()
        for member in rest { member.signalGroup(SIGKILL) }
        if !rest.isEmpty { logger.warning("job \(id): killed \(rest.count) unsupervised processes") }
    }

    /// What a supervisor writes as its slot files' note: the boot it runs in.
    public static var bootNote: String? { ProcessIdentity.bootID().map { "boot " + $0 } }

    /// Settles one running job whose owner is known to be gone: `lost`, unless the caller
    /// says otherwise (a cancel of an unsupervised job).
    public func settle(_ job: Job, why: String, now: Int64, end: JobEnd? = nil, keepSlotLogs: Bool = true) throws {
        if let pid = job.pid, let start = job.pidStart {
            stopRemains(of: job.id, ProcessIdentity(pid: pid, startTime: start))
        }
        let result = try store.finish(job.id, attempt: job.attempt, end: end ?? .lost(why), now: now)
        guard result != .notRunning else { return }
        if job.attempt > 0 { unlink(home.scriptPath(job.id, attempt: job.attempt)) }
        // What it wrote before its worker vanished becomes its log.
        if keepSlotLogs, let slot = job.worker {
            SlotLogs(home: home, slot: slot).keep(stdoutPath: job.stdoutPath, stderrPath: job.stderrPath)
        }
        switch result {
        case .requeued: logger.warning("job \(job.id) lost (\(why)); queued again for another attempt")
        case .notRunning: break
        default: logger.warning("job \(job.id) lost: \(why)")
        }
    }
}
