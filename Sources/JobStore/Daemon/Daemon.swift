import CPosix
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `jobq daemon`: one per home. It keeps its N worker slots run by supervisors (one process for
/// all the slots it takes over together, see `Supervisor`),
/// turns spool files into jobs, and wakes the workers when there may be work: a `jobq add`
/// poked it, a spool file arrived, a delayed job came due, a finished job unblocked others.
/// It never sleeps in a loop: it waits in `poll` for whichever comes first — a signal (a
/// worker exited, SIGTERM), a poke, a spool event, an old worker's exit, or the next timer.
///
/// The workers, not the daemon, own running jobs: the daemon may be restarted or killed while
/// jobs run. At start it settles what a crash left behind (Reconciler) and takes over each
/// slot whose lock is free; a slot still held by a worker of an earlier daemon is taken over
/// when that worker exits.
public final class Daemon {
    public struct Configuration: Sendable {
        public var home: Home
        public var workers: Int
        public var spool: String
        public var killGraceMilliseconds: Int64
        /// The jobq binary, started as `jobq worker` for each slot.
        public var executable: String

        public init(home: Home, workers: Int, spool: String, killGraceMilliseconds: Int64, executable: String) {
            self.home = home
            self.workers = workers
            self.spool = spool
            self.killGraceMilliseconds = killGraceMilliseconds
            self.executable = executable
        }
    }

    /// A supervisor process, and the slots it owns.
    struct SupervisorProcess {
        let pid: pid_t
        let slots: [Int]
        /// Our end of the pipe to the supervisor: 'w' wakes it, 'd' drains it, closing it tells
        /// it we are gone.
        let pipe: Int32
        let started: Int64
    }

    let configuration: Configuration
    let store: SQLiteStore
    let lock: LockFile
    let signals: SignalChannel
    let wake: Poke
    let spool: SpoolIngestor
    let watcher: DirectoryWatcher
    let reconciler: Reconciler
    /// Copies the write-ahead log into the database file when a large add asks (`checkpointRequest`).
    let logCopier: LogCopier
    /// Takes jobs from `jobq add` (nil when the socket cannot be made; adds then go directly).
    let addServer: AddServer?
    let logger = Logger(label: "jobq-daemon")

    /// The supervisors we started, by PID.
    var supervisors: [pid_t: SupervisorProcess] = [:]
    /// The slots a supervisor of ours runs, and its PID.
    var slotOwners: [Int: pid_t] = [:]
    /// Slots held by a worker of an earlier daemon: a pidfd that becomes readable when it exits.
    var heldSlots: [Int: Int32] = [:]
    /// Slots whose worker died young: when to start it again, and the pause after that.
    var restartAt: [Int: Int64] = [:]
    var restartPause: [Int: Int64] = [:]
    var nextDue: Int64?
    /// When to look at the spool again: a file was still being written, or could not be recorded.
    var spoolRetryAt: Int64?
    var draining = false
    var idleTrim = IdleTrim()
    /// The slot given the last job from `jobq add` (see `acceptJobs`).
    var lastAssignedSlot = -1
    /// A worker committed an outcome and left its fsync to us (its `flushRequest` poke): when to
    /// flush, unless the flush of an add comes first and takes it along. Outcomes are then on
    /// disk within a few milliseconds, and the flushes of a stream of short jobs added one by one
    /// are the adds' own, one per job instead of two (the worker's competed with the next add's).
    var workerFlushDue: Int64?
    static let workerFlushDelay: Int64 = 2
    /// The byte a worker pokes the wake-up FIFO with to hand over its flush.
    public static let flushRequest = UInt8(ascii: "f")
    /// The byte a large `add` (`--stdin`) pokes with after its commit: new jobs, and a log that
    /// it left for us to copy into the database file (see `SQLiteStore.leaveCheckpointToOthers`).
    public static let checkpointRequest = UInt8(ascii: "c")
    /// The byte a draining supervisor (of an earlier daemon) pokes with when it gave back slots.
    public static let slotReleased = UInt8(ascii: "r")

    /// Takes the home's daemon lock (refusing when another daemon holds it), then sets up the
    /// signals, the wake-up FIFO and the spool. Nothing runs until `run`.
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        // Signals first, before anything can start a thread.
        signals = try SignalChannel([SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1])
        let home = configuration.home
        try home.prepare()
        lock = try LockFile(path: home.daemonLockPath)
        guard lock.tryLock() else {
            throw StoreError.daemonRunning(home: home.path, pid: lock.holderPID())
        }
        lock.recordHolder(getpid(), note: "workers \(configuration.workers)")
        store = try SQLiteStore(path: home.databasePath, cacheKilobytes: 256)
        wake = try Poke(listeningAt: home.wakePath)
        spool = try SpoolIngestor(directory: configuration.spool, store: store, environment: ProcessEnvironment.entries())
        watcher = try DirectoryWatcher(directory: configuration.spool, events: DirectoryWatcher.newFiles)
        reconciler = Reconciler(store: store, home: home)
        logCopier = LogCopier(databasePath: home.databasePath, logger: logger)
        addServer = AddServer(path: home.socketPath)
    }

    /// Runs until SIGTERM/SIGINT (exit at once; running jobs stay with their workers) or, after
    /// SIGUSR1, until the running jobs are done (drain).
    public func run() throws -> Int32 {
        _ = jq_set_child_subreaper()
        IdleTrim.keepFreedMemoryUntilIdle()
        if addServer == nil {
            logger.warning("cannot listen on \(configuration.home.socketPath); `jobq add` will write to the database itself")
        }
        do {
            let added = try store.preallocateLog()
            if added > 0 { logger.info("write-ahead log preallocated: \(added / 1024) KiB") }
        } catch {
            logger.warning("\(error) (commits will grow the log instead)")
        }
        logger.info(
            "daemon started: home \(configuration.home.path), \(configuration.workers) workers, spool \(configuration.spool)")
        try takeOverSlots()
        ingest(spool.scan())
        refreshTimers()
        wakeWorkers()
        while true {
            if draining && supervisors.isEmpty && heldSlots.isEmpty {
                logger.info("drained: no job is running; daemon exits")
                return 0
            }
            let slots = Array(heldSlots.keys)
            let socketFDs = addServer?.descriptors ?? []
            let fds = [signals.fd, wake.fd, watcher.fd] + slots.map { heldSlots[$0]! } + socketFDs
            let ready = EventWait.wait(for: fds, timeout: [nextTimer(), idleTrim.timeout].compactMap { $0 }.min())
            if ready.isEmpty { idleTrim.runIfDue() } else { idleTrim.noteActivity() }
            let readySockets = Set(socketFDs.indices.filter { ready.contains(3 + slots.count + $0) }.map { socketFDs[$0] })
            // Read the pokes before the adds are committed: a worker's flush request read now is
            // for a commit made before the adds' flush, which therefore takes it along.
            let pokes = ready.contains(1) ? wake.drain() : []
            if pokes.contains(Self.flushRequest) { workerFlushDue = workerFlushDue ?? WallClock.monotonic() + Self.workerFlushDelay }
            if !readySockets.isEmpty { acceptJobs(readySockets) }
            if ready.contains(0) {
                for signal in signals.drain() {
                    switch signal {
                    case SIGCHLD: reapChildren()
                    case SIGUSR1: beginDrain()
                    default:
                        stop(signal)
                        return 0
                    }
                }
            }
            if pokes.contains(where: { $0 != Self.flushRequest }) {
                refreshTimers()
                wakeWorkers()
            }
            // After waking the workers: they claim and start jobs while the copy runs.
            if pokes.contains(Self.checkpointRequest) { logCopier.request() }
            if ready.contains(2) {
                let (names, overflowed) = watcher.drain()
                if !draining { ingest(overflowed ? spool.scan() : names.filter { spool.ingest($0) == .busy }) }
            }
            var freed = slots.enumerated().filter { ready.contains(3 + $0.offset) }.map(\.element)
            if pokes.contains(Self.slotReleased) {
                freed += heldSlots.keys.filter { !freed.contains($0) && !isHeld($0) }
            }
            if !freed.isEmpty {
                for slot in freed { if let pidfd = heldSlots.removeValue(forKey: slot) { close(pidfd) } }
                takeOverOrRetry(freed.sorted())
                // An earlier daemon's supervisor ended or gave slots back: its jobs no longer
                // count against --workers.
                wakeWorkers()
            }
            runDueTimers()
        }
    }

    // MARK: Jobs from `jobq add`

    /// Commits every job that arrived on the socket in this turn in one transaction, answers
    /// each sender with its id, and wakes the workers.
    private func acceptJobs(_ ready: Set<Int32>) {
        guard let server = addServer else { return }
        let requests = server.read(ready: ready)
        guard !requests.isEmpty else { return }
        // Idle workers get a job claimed for them in the same transaction: they start it at once,
        // without a commit (and an fsync) of their own between the add and the job's start.
        // They are offered in turn, starting after the slot that got the last one: a worker whose
        // job just ended is still writing its outcome (an fsync), and the next job should not wait
        // for that while another worker is free.
        let slots = slotOwners.keys.sorted()
        let idle = draining ? [] : slots.filter { $0 > lastAssignedSlot } + slots.filter { $0 <= lastAssignedSlot }
        let request = ClaimRequest(
            limit: 1, worker: 0, maxRunning: configuration.workers, logDirectory: configuration.home.logsDirectory)
        var results: [Result<JobID, Error>]
        var assigned: [Int] = []
        do {
            let othersMayRun: Bool
            (results, assigned, othersMayRun) = try store.insertEach(
                requests.map(\.spec), assigning: idle, claim: request, now: WallClock.now())
            if let last = assigned.last { lastAssignedSlot = last }
            // A supervisor given one of these new jobs starts it while the commit goes to disk
            // (see insertEach). The adders hear of their jobs only once they are on disk.
            do {
                wake(assigned)
                try store.flush()
                workerFlushDue = nil  // Its outcomes were committed before this flush began.
                if othersMayRun { wakeWorkers() }
            } catch {
                // Committed but maybe not on disk: say exactly that, so nobody adds it twice.
                results = results.map { result in
                    result.flatMap { id in
                        .failure(AddRefused(message: "job \(id) was added, but writing it to disk failed (\(error)); "
                            + "it may be lost if the machine goes down: check `jobq show \(id)`"))
                    }
                }
            }
        } catch {
            results = requests.map { _ in .failure(error) }
        }
        for (request, result) in zip(requests, results) { server.answer(request.fd, result) }
        // Every idle slot was offered a job in that transaction: unless `othersMayRun`, one that
        // got none found nothing it could run, so there is nobody to wake (waking the supervisor
        // after every add cost each add a second process wake-up and a write transaction). Only
        // a delayed job can move the next timer.
        if requests.contains(where: { $0.spec.runAfter > 0 }) { refreshTimers() }
    }

    // MARK: Slots and workers

    /// At start: every slot we will use, and every slot a running job names, is either free —
    /// then whatever its last worker left running is settled and a worker starts — or held by
    /// a worker of an earlier daemon, which we wait for.
    private func takeOverSlots() throws {
        // Also every slot whose supervisor reserved jobs: after a crash of the machine they may
        // have started, and nobody else may run them before they are settled.
        var slots = Set(0..<configuration.workers).union(try store.reservingSlots())
        for job in try store.runningJobs() {
            if let slot = job.worker {
                slots.insert(slot)
            } else {
                try reconciler.settle(job, why: "it names no worker", now: WallClock.now())
            }
        }
        takeOverOrRetry(slots.sorted())
    }

    /// `takeOver` of each slot, then one supervisor for all those it may use; a slot it cannot
    /// take over now (a full disk while settling, no file descriptors left) is tried again
    /// later: the daemon keeps running.
    private func takeOverOrRetry(_ slots: [Int]) {
        var taken: [(slot: Int, lock: LockFile)] = []
        for slot in slots {
            do {
                if let lock = try takeOver(slot) { taken.append((slot, lock)) }
            } catch {
                logger.error("cannot take over worker slot \(slot) (will retry): \(error)")
                scheduleRestart(slot)
            }
        }
        if !taken.isEmpty { startSupervisor(taken) }
    }

    /// Takes slot `slot` when no process holds it: settles whatever its last supervisor left,
    /// and returns its lock if a supervisor should run it now.
    private func takeOver(_ slot: Int) throws -> LockFile? {
        let slotLock = try LockFile(path: configuration.home.slotLockPath(slot))
        guard slotLock.tryLock() else {
            watchHolder(of: slot, lock: slotLock)
            return nil
        }
        let settled = try reconciler.settleJobs(ofDeadSlot: slot, lock: slotLock, now: WallClock.now())
        if settled > 0 { wakeWorkers() }
        return slot < configuration.workers && !draining ? slotLock : nil
    }

    /// Whether a process holds `slot`'s lock now.
    private func isHeld(_ slot: Int) -> Bool {
        (try? LockFile(path: configuration.home.slotLockPath(slot)))?.isHeldByOther ?? true
    }

    /// Waits for the earlier daemon's worker that holds `slot` to exit (its pidfd becomes readable).
    private func watchHolder(of slot: Int, lock slotLock: LockFile) {
        // A holder that has not written its PID yet, or one that just exited: look again soon.
        guard let pid = slotLock.holderPID() else {
            restartAt[slot] = WallClock.monotonic() + 50
            return
        }
        let pidfd = jq_pidfd_open(pid)
        guard pidfd >= 0 else {
            restartAt[slot] = WallClock.monotonic() + 50
            return
        }
        logger.info("worker slot \(slot) is still held by pid \(pid) (an earlier daemon's worker); waiting for it")
        heldSlots[slot] = pidfd
    }

    private func startSupervisor(_ taken: [(slot: Int, lock: LockFile)]) {
        let slots = taken.map(\.slot)
        var fds: [Int32] = [-1, -1]
        guard jq_pipe_cloexec(&fds) == 0 else {
            logger.error("cannot create a pipe for the supervisor of slots \(slots): \(systemError(errno))")
            for slot in slots { restartAt[slot] = WallClock.monotonic() + 1000 }
            return
        }
        let arguments = [
            configuration.executable, "worker", "--home", configuration.home.path, "--slots",
            slots.map(String.init).joined(separator: ","), "--workers", String(configuration.workers),
            "--kill-grace-ms", String(configuration.killGraceMilliseconds),
        ]
        // The supervisor gets the slot locks as descriptors 3, 4, … (so it holds them from its
        // first instant) and the read end of the pipe after them.
        let result = Spawn.start(
            arguments, environment: ProcessEnvironment.entries(), cwd: nil, stdout: STDOUT_FILENO,
            stderr: STDERR_FILENO, extraFDs: taken.map(\.lock.fd) + [fds[0]], diesWithParent: false)
        close(fds[0])
        switch result {
        case .started(let pid):
            _ = jq_set_nonblocking(fds[1])
            supervisors[pid] = SupervisorProcess(pid: pid, slots: slots, pipe: fds[1], started: WallClock.monotonic())
            for slot in slots { slotOwners[slot] = pid }
        case .failed(let text):
            close(fds[1])
            logger.error("cannot start the supervisor of slots \(slots): \(text)")
            for slot in slots { scheduleRestart(slot) }
        }
    }

    private func reapChildren() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            // Other children are orphans re-parented to us (subreaper): reaping them is all.
            guard let worker = supervisors.removeValue(forKey: pid) else { continue }
            for slot in worker.slots { slotOwners[slot] = nil }
            close(worker.pipe)
            let how = jq_wifexited(status) != 0 ? "exit \(jq_wexitstatus(status))" : "signal \(jq_wtermsig(status))"
            if draining {
                logger.info("supervisor of slots \(worker.slots) finished (\(how))")
                continue
            }
            let slots = worker.slots
            if jq_wifexited(status) != 0 && jq_wexitstatus(status) == 0 {
                // It drained on a signal of its own (someone sent it SIGTERM) and finished its jobs.
                logger.info("supervisor of slots \(slots) (pid \(pid)) stopped on a signal; starting a new one")
            } else {
                logger.warning("supervisor of slots \(slots) (pid \(pid)) ended unexpectedly (\(how)); settling, restarting")
            }
            for slot in worker.slots {
                if WallClock.monotonic() - worker.started < 1000 {
                    scheduleRestart(slot)
                } else {
                    restartPause[slot] = nil
                    restartAt[slot] = WallClock.monotonic()
                }
            }
        }
    }

    /// A supervisor that dies young is restarted after a pause that doubles, up to 30 s.
    private func scheduleRestart(_ slot: Int) {
        let pause = restartPause[slot].map { min($0 * 2, 30_000) } ?? 100
        restartPause[slot] = pause
        restartAt[slot] = WallClock.monotonic() + pause
    }

    /// Tells every worker there may be work. A busy worker just notes it; the byte waits in
    /// the pipe, so a worker that was about to sleep cannot miss it. When every slot is busy
    /// nobody could claim anything, so nobody is woken (a worker that finishes claims on its
    /// own; its finish commits before or after our count, never unseen by both).
    private func wakeWorkers() {
        if let running = try? store.runningCount(), running >= configuration.workers { return }
        for worker in supervisors.values { send("w", to: worker) }
    }

    private func wake(_ slots: [Int]) {
        var woken = Set<pid_t>()
        for slot in slots {
            if let pid = slotOwners[slot], let worker = supervisors[pid], woken.insert(pid).inserted {
                send("w", to: worker)
            }
        }
    }

    private func send(_ command: Character, to worker: SupervisorProcess) {
        var byte = command.asciiValue!
        _ = write(worker.pipe, &byte, 1)
    }

    // MARK: Spool and timers

    private func ingest(_ busy: [String]) {
        // A file still being written comes back with its IN_CLOSE_WRITE event; one that could not
        // be recorded (a full disk), or whose writer the kernel cannot tell us about (no leases),
        // does not: so look at the spool again in a moment while any is pending.
        if !busy.isEmpty {
            logger.debug("spool: \(busy.joined(separator: ", ")) not taken yet; looking again soon")
            spoolRetryAt = spoolRetryAt ?? WallClock.monotonic() + 1000
        }
        refreshTimers()
        wakeWorkers()
    }

    private func refreshTimers() {
        nextDue = (try? store.nextDueTime(after: WallClock.now())) ?? nil
    }

    /// Milliseconds until the next timer, or nil when there is none.
    private func nextTimer() -> Int64? {
        let due = nextDue.map { max(0, $0 - WallClock.now()) }
        let monotonicTimers = Array(restartAt.values) + [spoolRetryAt, workerFlushDue].compactMap { $0 }
        let soonest = monotonicTimers.min().map { max(0, $0 - WallClock.monotonic()) }
        return [due, soonest].compactMap { $0 }.min()
    }

    private func runDueTimers() {
        if let due = nextDue, due <= WallClock.now() {
            refreshTimers()
            wakeWorkers()
        }
        let now = WallClock.monotonic()
        if let due = workerFlushDue, due <= now {
            do {
                try store.flush()
                workerFlushDue = nil
            } catch {
                logger.error("cannot flush the workers' outcomes to disk (will retry): \(error)")
                workerFlushDue = now + 1000
            }
        }
        let due = restartAt.filter { $0.value <= now }.map(\.key).sorted()
        for slot in due { restartAt[slot] = nil }
        if !due.isEmpty { takeOverOrRetry(due) }
        if let retry = spoolRetryAt, retry <= now, !draining {
            spoolRetryAt = nil
            ingest(spool.scan())
        }
    }

    // MARK: Stopping

    /// SIGTERM/SIGINT: stop dispatching and exit now. Closing the pipes tells each worker to
    /// finish its job, record it, and exit; the jobs keep running meanwhile.
    private func stop(_ signal: Int32) {
        let busy = (try? store.runningCount()) ?? 0
        logger.info("daemon stopping on signal \(signal); \(busy) running jobs are left to their workers")
        for worker in supervisors.values { close(worker.pipe) }
        supervisors.removeAll()
        slotOwners.removeAll()
    }

    /// SIGUSR1 (`jobq stop --drain`): start nothing new, let running jobs finish, then exit.
    private func beginDrain() {
        guard !draining else { return }
        draining = true
        logger.info("draining: no new jobs start; exiting when the running ones are done")
        for worker in supervisors.values { send("d", to: worker) }
        restartAt.removeAll()
    }
}
