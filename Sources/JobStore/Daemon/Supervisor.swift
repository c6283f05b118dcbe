import CPosix
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A supervisor: the long-lived owner of worker slots — the daemon starts one for all of its
/// slots. It starts jobs in their slots, each in its own session, waits for them, and records
/// how they ended. It holds each slot's lock for as long as it lives, so "the lock is held"
/// means "this job's owner is alive", and it outlives the daemon: when the daemon goes away it
/// finishes the jobs it has, records their outcomes, and exits.
///
/// A job may start only once its claim is on disk. So that short jobs do not each wait for a
/// flush, it reserves the next few jobs and flushes that while its jobs run, on a thread of its
/// own (`LogFlusher`); a reserved job starts the moment a slot frees, its start committed but
/// not flushed (see `SQLiteStore.supervisorStep`). One process for all slots keeps claim order
/// (the next reservation goes to whichever slot frees first) and does one transaction for the
/// jobs that end together.
///
/// It is also a child subreaper: a job's orphaned descendants are re-parented to it, so it can
/// stop them with the job (they carry the job's JOBQ_JOB_ID) and reap them (no zombies).
public final class Supervisor {
    public struct Configuration: Sendable {
        public var home: Home
        /// The slots it owns; their locks are its descriptors 3, 4, …, in this order.
        public var slots: [Int]
        /// The daemon's --workers: never more jobs running than this, in all.
        public var workers: Int
        /// Between SIGTERM and SIGKILL when a job is cancelled or times out.
        public var killGraceMilliseconds: Int64

        public init(home: Home, slots: [Int], workers: Int, killGraceMilliseconds: Int64) {
            self.home = home
            self.slots = slots
            self.workers = workers
            self.killGraceMilliseconds = killGraceMilliseconds
        }
    }

    /// Why jobq is stopping a job.
    enum StopCause { case cancel, timeout }

    /// A job that runs now.
    struct Running {
        var job: Job
        var pid: pid_t
        var process: ProcessIdentity?
        var started: Int64
        var deadline: Int64?
        var stopping: StopCause?
        var killAt: Int64?
        var scriptPath: String?
        /// When to write the PID to the database, if the job still runs then (see `start`).
        var recordPIDAt: Int64?
    }

    /// One worker slot: its lock, its cancel FIFO, its log files, and the job it runs.
    final class Slot {
        let number: Int
        let lock: LockFile
        let cancelPoke: Poke
        let logs: SlotLogs
        var running: Running?

        init(number: Int, lock: LockFile, cancelPoke: Poke, logs: SlotLogs) {
            self.number = number
            self.lock = lock
            self.cancelPoke = cancelPoke
            self.logs = logs
        }
    }

    /// A job that ends sooner than this has its PID written with its outcome, saving a
    /// transaction per short job; a longer one gets it written after this long.
    static let pidRecordDelay: Int64 = 20
    /// Jobs reserved ahead, per slot: enough to bridge a flush between short jobs (measured:
    /// 4 per slot drained `true` jobs fastest; 2 per slot ~15 % slower).
    static let reservationsPerSlot = 4
    /// Reservations pay only while jobs are short: when every slot's job has run this long they
    /// go back to the queue, so that they never hold back a job added meanwhile with a higher
    /// priority, nor a job that a restarted daemon's supervisor could run.
    static let reservationHoldMilliseconds: Int64 = 20

    let configuration: Configuration
    let store: SQLiteStore
    let slots: [Slot]
    /// Its reservations carry its first slot.
    let reserver: Int
    let signals: SignalChannel
    let flusher: LogFlusher
    let logger = Logger(label: "jobq-worker")
    /// Commands from the daemon ('w' work may be ready, 'd' drain); EOF when it is gone.
    var daemonPipe: Int32
    var pendingEnds: [AttemptEnd] = []
    /// Flushed reservations, in claim order: each may start now.
    var reservations: [JobID] = []
    /// Reservations the flush in flight covers.
    var flushingReservations: [JobID] = []
    /// Reservations committed since that flush began: the next one covers them.
    var unflushedReservations: [JobID] = []
    /// Outcomes committed since the last flush began, which nobody was asked to flush yet.
    var outcomesNeedFlush = false
    var wakePending = true
    var draining = false
    /// Whether, since draining began, it looked once for jobs the daemon had already claimed
    /// for its free slots (which it must run rather than abandon).
    var checkedForAssignedJobs = false
    /// After a failed write (disk full, …): when to try again, and the next pause.
    var retryAt: Int64?
    var retryPause: Int64 = 250
    var idleTrim = IdleTrim()
    /// The last job's environment without its JOBQ_JOB_ID: the next job usually has the same.
    var lastEnvironment: [String]?
    var lastFilteredEnvironment: [String] = []
    let programs = ProgramPaths()
    /// The daemon's wake-up FIFO, kept open: the supervisor asks it to flush outcomes (see `step`).
    let flushRequests: PokeSender

    /// Takes over the slot locks (inherited from the daemon as descriptors 3, 4, …) and the
    /// daemon's pipe.
    public init(configuration: Configuration, firstLockFD: Int32, daemonPipe: Int32) throws {
        precondition(!configuration.slots.isEmpty)
        self.configuration = configuration
        signals = try SignalChannel([SIGCHLD, SIGTERM, SIGINT, SIGHUP])
        let home = configuration.home
        let bootNote = Reconciler.bootNote
        slots = try configuration.slots.enumerated().map { index, number in
            let lock = LockFile(adopting: firstLockFD + Int32(index), path: home.slotLockPath(number))
            lock.recordHolder(getpid(), note: bootNote)
            return Slot(
                number: number, lock: lock, cancelPoke: try Poke(listeningAt: home.slotPokePath(number)),
                logs: SlotLogs(home: home, slot: number))
        }
        reserver = configuration.slots[0]
        self.daemonPipe = daemonPipe
        _ = jq_set_cloexec(daemonPipe)
        _ = jq_set_nonblocking(daemonPipe)
        flushRequests = PokeSender(path: home.wakePath)
        // Never creates it: the daemon did, and a supervisor starting after its home was
        // deleted must fail rather than leave an empty database behind.
        store = try SQLiteStore(path: home.databasePath, create: false, cacheKilobytes: 256)
        // After the signal mask is set (SignalChannel): the thread inherits it.
        flusher = try LogFlusher(logPath: store.database.logPath)
    }

    /// Runs jobs until told to stop (or the daemon goes away) and every job it ran is recorded.
    public func run() -> Int32 {
        _ = jq_set_child_subreaper()
        IdleTrim.keepFreedMemoryUntilIdle()
        while true {
            if retryAt == nil && stepIsDue {
                step()
                continue
            }
            if draining && checkedForAssignedJobs && pendingEnds.isEmpty { giveBackIdleSlots() }
            if draining && retryAt == nil && pendingEnds.isEmpty && slots.allSatisfy({ $0.running == nil })
                && !flusher.isBusy
            {
                do { try store.flush() } catch { logger.error("cannot flush to disk: \(error)") }
                return 0
            }
            waitForEvents()
        }
    }

    private var freeSlots: [Slot] { slots.filter { $0.running == nil } }

    /// Draining, each slot whose job is recorded is given back at once (its lock dropped), and
    /// the home's daemon told: a daemon started meanwhile uses it while the other slots' jobs
    /// still run.
    private func giveBackIdleSlots() {
        var gaveBack = false
        for slot in slots where slot.running == nil && slot.lock.isLocked {
            slot.lock.unlock()
            gaveBack = true
        }
        if gaveBack { _ = flushRequests.send(Daemon.slotReleased) }
    }

    private var stepIsDue: Bool {
        if !pendingEnds.isEmpty { return true }
        let anyFree = slots.contains { $0.running == nil }
        if draining { return anyFree && !checkedForAssignedJobs }
        return wakePending || (anyFree && !reservations.isEmpty)
    }

    // MARK: Steps: record, start, reserve

    /// One transaction: the outcomes of the jobs that ended, the jobs that start now in the free
    /// slots (one the daemon claimed for a slot, else the next reservation), and more
    /// reservations while there may be jobs for them.
    private func step() {
        var request = SQLiteStore.SupervisorStep(
            reserver: reserver, maxRunning: configuration.workers, logDirectory: configuration.home.logsDirectory)
        request.ends = pendingEnds
        // Draining, it takes no new job — but one the daemon already claimed for it, it runs.
        request.freeSlots = draining && checkedForAssignedJobs ? [] : freeSlots.map(\.number)
        if !draining {
            request.reservations = reservations
            let held = reservations.count + flushingReservations.count + unflushedReservations.count
            // A step that records an end or follows a wake-up looks for more work (one that only
            // starts flushed reservations has nothing new to find) — once half of them are used:
            // reserving costs pages of its own in a transaction's commit, so it comes in batches.
            let most = Self.reservationsPerSlot * slots.count
            if (wakePending || !pendingEnds.isEmpty) && held <= most / 2 { request.reserve = most - held }
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
            flushWhatNeedsIt()
            if result.unblocksOthers { Poke.send(to: configuration.home.wakePath) }
            for (number, job) in result.started {
                if let slot = slots.first(where: { $0.number == number }) { start(job, in: slot) }
            }
        } catch {
            // Keep the outcomes and try again: a finished job's result is never dropped.
            logger.error("cannot write to the database (will retry in \(retryPause) ms): \(error)")
            retryAt = WallClock.monotonic() + retryPause
            retryPause = min(retryPause * 2, 30_000)
        }
    }

    /// New reservations need a flush before they may start: this supervisor's own, on its
    /// thread. Outcomes alone need one soon, not now: with a daemon it is asked to take them
    /// along with its next flush (usually an add's, which a stream of jobs added one by one
    /// brings anyway: one flush per job instead of two).
    private func flushWhatNeedsIt() {
        guard !flusher.isBusy else { return }
        if !unflushedReservations.isEmpty {
            flushingReservations = unflushedReservations
            unflushedReservations = []
            outcomesNeedFlush = false
            flusher.request()
        } else if outcomesNeedFlush {
            outcomesNeedFlush = false
            if daemonPipe < 0 || !flushRequests.send(Daemon.flushRequest) { flusher.request() }
        }
    }

    private func flushDone() {
        if flusher.collect() {
            reservations += flushingReservations
        } else {
            logger.error("cannot flush the database's log to disk (will retry in \(retryPause) ms)")
            unflushedReservations = flushingReservations + unflushedReservations
            outcomesNeedFlush = true
            retryAt = WallClock.monotonic() + retryPause
            retryPause = min(retryPause * 2, 30_000)
        }
        flushingReservations = []
        if retryAt == nil { flushWhatNeedsIt() }
    }

    /// Gives its reservations back to the queue: when draining, and when every slot runs a
    /// long job (see `reservationHoldMilliseconds`).
    private func releaseReservations() {
        guard !(reservations.isEmpty && flushingReservations.isEmpty && unflushedReservations.isEmpty) else { return }
        do {
            try store.releaseReservations(of: reserver)
            reservations = []
            flushingReservations = []
            unflushedReservations = []
        } catch {
            // The reconciler gives them back when this supervisor is gone.
            logger.error("cannot give reserved jobs back to the queue: \(error)")
        }
    }

    /// When reservations go back to the queue if every slot is still busy then.
    private var releaseAt: Int64? {
        guard !(reservations.isEmpty && flushingReservations.isEmpty && unflushedReservations.isEmpty) else { return nil }
        var latest: Int64 = 0
        for slot in slots {
            guard let running = slot.running else { return nil }
            latest = max(latest, running.started)
        }
        return latest + Self.reservationHoldMilliseconds
    }

    // MARK: Starting and ending jobs

    private func start(_ job: Job, in slot: Slot) {
        let attempt = job.attempt
        // Cancelled between its claim and now (the daemon may have claimed it for us).
        if job.cancelRequestedAt != nil {
            logger.info("job \(job.id) cancelled before it started")
            pendingEnds.append(AttemptEnd(id: job.id, attempt: attempt, end: .cancelled(nil)))
            return
        }
        func fail(_ text: String, stderr: Int32 = -1) {
            if stderr >= 0 {
                writeAll("jobq: \(text)\n", to: stderr)
                slot.logs.keep(stdoutPath: job.stdoutPath, stderrPath: job.stderrPath)
            }
            logger.warning("job \(job.id) could not start: \(text)")
            pendingEnds.append(AttemptEnd(id: job.id, attempt: attempt, end: .spawnFailed(text)))
        }
        let stdout: Int32
        let stderr: Int32
        switch slot.logs.open() {
        case .success(let fds): (stdout, stderr) = fds
        case .failure(let failure): return fail(failure.text)
        }
        defer {
            close(stdout)
            close(stderr)
        }
        var scriptPath: String?
        if case .script(let text) = job.payload {
            let path = configuration.home.scriptPath(job.id, attempt: attempt)
            guard writeScript(text, to: path) else { return fail("cannot write \(path): \(systemError(errno))", stderr: stderr) }
            scriptPath = path
        }
        let argv = commandLine(for: job.payload, scriptPath: scriptPath)
        switch Spawn.start(
            argv, environment: CStrings(environment(of: job)), cwd: job.cwd, stdout: stdout, stderr: stderr,
            programs: programs)
        {
        case .failed(let text):
            if let scriptPath { unlink(scriptPath) }
            fail(text, stderr: stderr)
        case .started(let pid):
            let now = WallClock.monotonic()
            let process = ProcessIdentity.current(pid)
            // At once, in the slot's lock file (no transaction): whoever settles this slot after
            // a crash finds the job's process there even before its PID reaches the database.
            if let process { slot.lock.recordJob(job.id, attempt: attempt, process: process) }
            slot.running = Running(
                job: job, pid: pid, process: process, started: now, deadline: job.timeoutMilliseconds.map { now + $0 },
                stopping: nil, killAt: nil, scriptPath: scriptPath, recordPIDAt: now + Self.pidRecordDelay)
            logger.info("job \(job.id) started: pid \(pid), worker \(slot.number), \(job.displayName)")
        }
    }

    /// The job's captured environment, with JOBQ_JOB_ID set to its id (a job added from inside
    /// another job captured that one's): the job can name itself, and its processes stay
    /// recognisable when they leave its session (`signalTree`).
    private func environment(of job: Job) -> [String] {
        let captured = job.environment ?? []
        if lastEnvironment != captured {
            lastEnvironment = captured
            lastFilteredEnvironment = captured.filter { !$0.hasPrefix(Self.jobIDVariable + "=") }
        }
        return lastFilteredEnvironment + [Self.jobIDVariable + "=\(job.id)"]
    }

    public static let jobIDVariable = "JOBQ_JOB_ID"

    private func writeScript(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o700)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    /// A job's process ended: note the outcome (written by the next step).
    private func ended(_ slot: Slot, status: Int32) {
        guard let running = slot.running else { return }
        let outcome: ProcessOutcome = jq_wifexited(status) != 0
            ? .exited(jq_wexitstatus(status)) : .signaled(jq_wtermsig(status))
        let end: JobEnd
        switch running.stopping {
        case .cancel?: end = .cancelled(outcome)
        case .timeout?: end = .timedOut(outcome)
        case nil: end = .finished(outcome)
        }
        slot.running = nil
        if running.stopping != nil { signalTree(of: running, SIGKILL, leaderReaped: true) }
        if let path = running.scriptPath { unlink(path) }
        slot.logs.keep(stdoutPath: running.job.stdoutPath, stderrPath: running.job.stderrPath)
        let seconds = Double(WallClock.monotonic() - running.started) / 1000
        logger.info("job \(running.job.id) ended: \(describe(end)) after \(formatSeconds((seconds * 1000).rounded() / 1000))s")
        pendingEnds.append(AttemptEnd(id: running.job.id, attempt: running.job.attempt, end: end, process: running.process))
    }

    private func logSettled(_ id: JobID, _ result: FinishResult) {
        switch result {
        case .requeued: logger.info("job \(id) queued again for another attempt (--retries)")
        case .notRunning: logger.warning("job \(id) was settled elsewhere meanwhile; its outcome was not recorded")
        case .done, .failed: break
        }
    }

    private func describe(_ end: JobEnd) -> String {
        switch end {
        case .finished(let outcome): return outcome.description
        case .timedOut(let outcome): return "timed out, \(outcome)"
        case .cancelled(let outcome): return "cancelled" + (outcome.map { ", \($0)" } ?? "")
        case .spawnFailed(let text): return "could not start: \(text)"
        case .lost(let text): return "lost: \(text)"
        }
    }

    // MARK: Events

    private func waitForEvents() {
        var fds = [signals.fd, flusher.fd] + slots.map(\.cancelPoke.fd)
        let daemonIndex = fds.count
        if daemonPipe >= 0 { fds.append(daemonPipe) }
        let now = WallClock.monotonic()
        var timers = [retryAt, releaseAt]
        for slot in slots {
            guard let running = slot.running else { continue }
            timers += [running.stopping == nil ? running.deadline : nil, running.killAt, running.recordPIDAt]
        }
        let timeout = timers.compactMap { $0 }.min().map { $0 - now }
        let ready = EventWait.wait(for: fds, timeout: [timeout, idleTrim.timeout].compactMap { $0 }.min())
        if ready.isEmpty { idleTrim.runIfDue() } else { idleTrim.noteActivity() }

        if ready.contains(0) {
            for signal in signals.drain() {
                if signal == SIGCHLD {
                    reapChildren()
                } else {
                    logger.info("supervisor of slots \(slotList) got signal \(signal): finishing the current jobs, then exiting")
                    beginDrain()
                }
            }
        }
        if ready.contains(1) { flushDone() }
        for (index, slot) in slots.enumerated() where ready.contains(2 + index) {
            slot.cancelPoke.drain()
            checkCancellation(slot)
        }
        if daemonPipe >= 0 && ready.contains(daemonIndex) { readDaemonPipe() }
        checkTimers()
    }

    private var slotList: String { slots.map { String($0.number) }.joined(separator: ",") }

    private func beginDrain() {
        guard !draining else { return }
        draining = true
        releaseReservations()
    }

    private func reapChildren() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            if let slot = slots.first(where: { $0.running?.pid == pid }) { ended(slot, status: status) }
        }
    }

    /// Reads everything there is: a wake-up that arrives together with the daemon's exit (EOF)
    /// must not start a new job.
    private func readDaemonPipe() {
        var buffer = [UInt8](repeating: 0, count: 256)
        var wake = false
        while true {
            let n = buffer.withUnsafeMutableBytes { read(daemonPipe, $0.baseAddress, $0.count) }
            if n > 0 {
                if buffer[0..<n].contains(UInt8(ascii: "w")) { wake = true }
                if buffer[0..<n].contains(UInt8(ascii: "d")) { beginDrain() }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { break }
            // The daemon is gone: finish these jobs, record them, and exit — and flush whatever
            // outcome was left to it.
            close(daemonPipe)
            daemonPipe = -1
            beginDrain()
            do { try store.flush() } catch { logger.error("cannot flush to disk: \(error)") }
            break
        }
        if wake && !draining { wakePending = true }
    }

    private func checkCancellation(_ slot: Slot) {
        guard let current = slot.running, current.stopping == nil else { return }
        let requested = (try? store.isCancelRequested(current.job.id, attempt: current.job.attempt)) ?? false
        if requested { beginStop(slot, .cancel) }
    }

    private func checkTimers() {
        let now = WallClock.monotonic()
        if let retry = retryAt, now >= retry {
            retryAt = nil
            flushWhatNeedsIt()
        }
        if let release = releaseAt, now >= release { releaseReservations() }
        for slot in slots {
            guard let current = slot.running else { continue }
            if let due = current.recordPIDAt, now >= due {
                slot.running?.recordPIDAt = nil
                do {
                    _ = try store.recordStart(
                        of: current.job.id, attempt: current.job.attempt, pid: current.pid,
                        pidStart: current.process?.startTime)
                } catch {
                    logger.error("cannot record the pid of job \(current.job.id): \(error)")
                }
            }
            if current.stopping == nil, let deadline = current.deadline, now >= deadline {
                logger.info("job \(current.job.id) ran past its timeout: stopping it")
                beginStop(slot, .timeout)
            } else if let killAt = current.killAt, now >= killAt {
                logger.info("job \(current.job.id) still running \(configuration.killGraceMilliseconds) ms after SIGTERM: SIGKILL")
                signalTree(of: current, SIGKILL, leaderReaped: false)
                slot.running?.killAt = nil
            }
        }
    }

    /// SIGTERM now, SIGKILL after the grace period unless it ended.
    private func beginStop(_ slot: Slot, _ cause: StopCause) {
        guard let current = slot.running else { return }
        slot.running?.stopping = cause
        slot.running?.killAt = WallClock.monotonic() + configuration.killGraceMilliseconds
        signalTree(of: current, SIGTERM, leaderReaped: false)
    }

    /// Signals everything the job is: its process group; every process below its leader,
    /// including those that left the group or the session; and the orphans re-parented to us
    /// that carry its JOBQ_JOB_ID, with what is below them. (Once the leader is reaped its PID
    /// may be reused, so the walk below it is only made while it is not.)
    private func signalTree(of running: Running, _ signal: Int32, leaderReaped: Bool) {
        kill(-running.pid, signal)
        var targets = leaderReaped ? [] : ProcessTree.descendants(of: running.pid)
        let leaders = Set(slots.compactMap { $0.running?.pid })
        let marker = Self.jobIDVariable + "=\(running.job.id)"
        for child in ProcessTree.children(of: getpid()) where child != running.pid && !leaders.contains(child) {
            guard let orphan = ProcessIdentity.current(child), orphan.environmentContains(marker) else { continue }
            targets += [child] + ProcessTree.descendants(of: child)
        }
        for pid in targets { kill(pid, signal) }
    }
}
