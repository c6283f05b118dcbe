import CPosix
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A worker: the long-lived supervisor of one worker slot. It claims a job, runs it in its own
/// session, waits for it, records how it ended, and claims the next — the outcome and the next
/// claim in one transaction. It holds its slot's lock for as long as it lives, so "the lock is
/// held" means "this job's owner is alive", and it outlives the daemon: when the daemon goes
/// away it finishes the job it has, records the outcome, and exits.
///
/// It is also a child subreaper: a job's orphaned descendants are re-parented to it, so it
/// can stop them with the job and reap them (no zombies).
public final class Supervisor {
    public struct Configuration: Sendable {
        public var home: Home
        public var slot: Int
        /// The daemon's --workers: never more jobs running than this, in all.
        public var workers: Int
        /// Between SIGTERM and SIGKILL when a job is cancelled or times out.
        public var killGraceMilliseconds: Int64

        public init(home: Home, slot: Int, workers: Int, killGraceMilliseconds: Int64) {
            self.home = home
            self.slot = slot
            self.workers = workers
            self.killGraceMilliseconds = killGraceMilliseconds
        }
    }

    /// Why jobq is stopping a job.
    enum StopCause { case cancel, timeout }

    /// The job this worker runs now.
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

    /// A job that ends sooner than this has its PID written with its outcome, saving a
    /// transaction per short job; a longer one gets it written after this long.
    static let pidRecordDelay: Int64 = 20

    let configuration: Configuration
    let store: SQLiteStore
    let slotLock: LockFile
    let signals: SignalChannel
    let cancelPoke: Poke
    let logs: SlotLogs
    let logger = Logger(label: "jobq-worker")
    /// Commands from the daemon ('w' work may be ready, 'd' drain); EOF when it is gone.
    var daemonPipe: Int32
    var running: Running?
    var pendingEnd: AttemptEnd?
    var wakePending = true
    var draining = false
    /// Whether, since draining began, it looked once for a job the daemon had already claimed
    /// for it (which it must run rather than abandon).
    var checkedForAssignedJob = false
    /// After a failed write (disk full, …): when to try again, and the next pause.
    var retryAt: Int64?
    var retryPause: Int64 = 250
    var idleTrim = IdleTrim()
    /// The last job's environment in C form: the next job usually has the same (one `add`).
    var lastEnvironment: CStrings?
    let programs = ProgramPaths()
    /// The daemon's wake-up FIFO, kept open: a worker asks it to flush an outcome (see `settleAndClaim`).
    let flushRequests: PokeSender

    /// Takes over the slot lock (`lockFD`, inherited from the daemon) and the daemon's pipe.
    public init(configuration: Configuration, lockFD: Int32, daemonPipe: Int32) throws {
        self.configuration = configuration
        signals = try SignalChannel([SIGCHLD, SIGTERM, SIGINT, SIGHUP])
        slotLock = LockFile(adopting: lockFD, path: configuration.home.slotLockPath(configuration.slot))
        slotLock.recordHolder(getpid())
        self.daemonPipe = daemonPipe
        _ = jq_set_cloexec(daemonPipe)
        _ = jq_set_nonblocking(daemonPipe)
        cancelPoke = try Poke(listeningAt: configuration.home.slotPokePath(configuration.slot))
        flushRequests = PokeSender(path: configuration.home.wakePath)
        // Never creates it: the daemon did, and a worker starting after its home was deleted
        // must fail rather than leave an empty database behind.
        store = try SQLiteStore(path: configuration.home.databasePath, create: false, cacheKilobytes: 256)
        logs = SlotLogs(home: configuration.home, slot: configuration.slot)
    }

    /// Runs jobs until told to stop (or the daemon goes away) and the current job is recorded.
    public func run() -> Int32 {
        _ = jq_set_child_subreaper()
        IdleTrim.keepFreedMemoryUntilIdle()
        while true {
            if running == nil && retryAt == nil {
                if pendingEnd != nil || (wakePending && !draining) || (draining && !checkedForAssignedJob) {
                    if draining { checkedForAssignedJob = true }
                    settleAndClaim()
                    continue
                }
                if draining { return 0 }
            }
            waitForEvents()
        }
    }

    // MARK: Claim, start, finish

    private func settleAndClaim() {
        // Draining, it takes no new job — but one the daemon already claimed for it, it runs.
        let request = ClaimRequest(
            limit: 1, worker: configuration.slot, maxRunning: configuration.workers,
            logDirectory: configuration.home.logsDirectory)
        do {
            // With a daemon, an outcome that no claim follows is left for it to flush (see
            // `Daemon.workerFlushDue`); alone, the worker flushes it itself.
            let result = try store.finishAndClaim(
                finishing: pendingEnd, claiming: request, claimNew: !draining, mayLeaveFlush: daemonPipe >= 0,
                now: WallClock.now())
            if result.unflushed && !flushRequests.send(Daemon.flushRequest) { try store.flush() }
            if let pendingEnd, let finished = result.finished { logSettled(pendingEnd.id, finished) }
            pendingEnd = nil
            wakePending = false
            retryAt = nil
            retryPause = 250
            if result.unblocksOthers { Poke.send(to: configuration.home.wakePath) }
            if let job = result.claimed.first { start(job) }
        } catch {
            // Keep the outcome and try again: a finished job's result is never dropped.
            logger.error("cannot write to the database (will retry in \(retryPause) ms): \(error)")
            retryAt = WallClock.monotonic() + retryPause
            retryPause = min(retryPause * 2, 30_000)
        }
    }

    private func start(_ job: Job) {
        let attempt = job.attempt
        // Cancelled between its claim and now (the daemon may have claimed it for us).
        if job.cancelRequestedAt != nil {
            logger.info("job \(job.id) cancelled before it started")
            pendingEnd = AttemptEnd(id: job.id, attempt: attempt, end: .cancelled(nil))
            return
        }
        func fail(_ text: String, stderr: Int32 = -1) {
            if stderr >= 0 {
                writeAll("jobq: \(text)\n", to: stderr)
                logs.keep(stdoutPath: job.stdoutPath, stderrPath: job.stderrPath)
            }
            logger.warning("job \(job.id) could not start: \(text)")
            pendingEnd = AttemptEnd(id: job.id, attempt: attempt, end: .spawnFailed(text))
        }
        let stdout: Int32
        let stderr: Int32
        switch logs.open() {
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
        let environment = job.environment ?? []
        if lastEnvironment?.strings != environment { lastEnvironment = CStrings(environment) }
        switch Spawn.start(
            argv, environment: lastEnvironment!, cwd: job.cwd, stdout: stdout, stderr: stderr, programs: programs)
        {
        case .failed(let text):
            if let scriptPath { unlink(scriptPath) }
            fail(text, stderr: stderr)
        case .started(let pid):
            let now = WallClock.monotonic()
            let process = ProcessIdentity.current(pid)
            // At once, in the slot's lock file (no transaction): whoever settles this slot after
            // a crash finds the job's process there even before its PID reaches the database.
            if let process { slotLock.recordJob(job.id, attempt: attempt, process: process) }
            running = Running(
                job: job, pid: pid, process: process, started: now, deadline: job.timeoutMilliseconds.map { now + $0 },
                stopping: nil, killAt: nil, scriptPath: scriptPath, recordPIDAt: now + Self.pidRecordDelay)
            logger.info("job \(job.id) started: pid \(pid), worker \(configuration.slot), \(job.displayName)")
        }
    }

    private func writeScript(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o700)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    /// The job's process ended: note the outcome (written with the next claim).
    private func ended(_ running: Running, status: Int32) {
        let outcome: ProcessOutcome = jq_wifexited(status) != 0
            ? .exited(jq_wexitstatus(status)) : .signaled(jq_wtermsig(status))
        let end: JobEnd
        switch running.stopping {
        case .cancel?: end = .cancelled(outcome)
        case .timeout?: end = .timedOut(outcome)
        case nil: end = .finished(outcome)
        }
        if running.stopping != nil { signalTree(of: running, SIGKILL) }
        if let path = running.scriptPath { unlink(path) }
        logs.keep(stdoutPath: running.job.stdoutPath, stderrPath: running.job.stderrPath)
        let seconds = Double(WallClock.monotonic() - running.started) / 1000
        logger.info("job \(running.job.id) ended: \(describe(end)) after \(formatSeconds((seconds * 1000).rounded() / 1000))s")
        pendingEnd = AttemptEnd(id: running.job.id, attempt: running.job.attempt, end: end, process: running.process)
        self.running = nil
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
        var fds = [signals.fd, cancelPoke.fd]
        if daemonPipe >= 0 { fds.append(daemonPipe) }
        let now = WallClock.monotonic()
        let deadline = running?.stopping == nil ? running?.deadline : nil
        let timeout = [deadline, running?.killAt, running?.recordPIDAt, retryAt].compactMap { $0 }.min().map { $0 - now }
        let ready = EventWait.wait(for: fds, timeout: [timeout, idleTrim.timeout].compactMap { $0 }.min())
        if ready.isEmpty { idleTrim.runIfDue() } else { idleTrim.noteActivity() }

        if ready.contains(0) {
            for signal in signals.drain() {
                if signal == SIGCHLD {
                    reapChildren()
                } else {
                    logger.info("worker \(configuration.slot) got signal \(signal): finishing the current job, then exiting")
                    draining = true
                }
            }
        }
        if ready.contains(1) {
            cancelPoke.drain()
            checkCancellation()
        }
        if ready.contains(2) { readDaemonPipe() }
        checkTimers()
    }

    private func reapChildren() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            if let current = running, current.pid == pid { ended(current, status: status) }
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
                if buffer[0..<n].contains(UInt8(ascii: "d")) { draining = true }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { break }
            // The daemon is gone: finish this job, record it, and exit — and flush whatever
            // outcome was left to it.
            close(daemonPipe)
            daemonPipe = -1
            draining = true
            do { try store.flush() } catch { logger.error("cannot flush to disk: \(error)") }
            break
        }
        if wake && !draining { wakePending = true }
    }

    private func checkCancellation() {
        guard let current = running, current.stopping == nil else { return }
        let requested = (try? store.isCancelRequested(current.job.id, attempt: current.job.attempt)) ?? false
        if requested { beginStop(.cancel) }
    }

    private func checkTimers() {
        let now = WallClock.monotonic()
        if let retry = retryAt, now >= retry { retryAt = nil }
        guard let current = running else { return }
        if let due = current.recordPIDAt, now >= due {
            running?.recordPIDAt = nil
            do {
                _ = try store.recordStart(
                    of: current.job.id, attempt: current.job.attempt, pid: current.pid, pidStart: current.process?.startTime)
            } catch {
                logger.error("cannot record the pid of job \(current.job.id): \(error)")
            }
        }
        if current.stopping == nil, let deadline = current.deadline, now >= deadline {
            logger.info("job \(current.job.id) ran past its timeout: stopping it")
            beginStop(.timeout)
        } else if let killAt = current.killAt, now >= killAt {
            logger.info("job \(current.job.id) still running \(configuration.killGraceMilliseconds) ms after SIGTERM: SIGKILL")
            signalTree(of: current, SIGKILL)
            running?.killAt = nil
        }
    }

    /// SIGTERM now, SIGKILL after the grace period unless it ended.
    private func beginStop(_ cause: StopCause) {
        guard let current = running else { return }
        running?.stopping = cause
        running?.killAt = WallClock.monotonic() + configuration.killGraceMilliseconds
        signalTree(of: current, SIGTERM)
    }

    /// Signals everything the job is: its process group, and every process below this worker
    /// that started since the job did — the worker being a subreaper that runs one job at a
    /// time, that is the job's whole tree, including grandchildren that left the group or the
    /// session, and its orphans re-parented to us (leftovers of earlier jobs started earlier).
    private func signalTree(of running: Running, _ signal: Int32) {
        kill(-running.pid, signal)
        for pid in ProcessTree.descendants(of: getpid(), startedSince: running.process?.startTime ?? 0) {
            kill(pid, signal)
        }
    }
}
