import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// A supervisor's jobs: starting one in its slot, noting how it ended, and stopping it (cancel,
/// timeout) with everything it started.
extension Supervisor {
    /// Starts the next flushed reservation now, before any transaction: under the journal's
    /// lock it drops what `jobq cancel` took back and notes the start (so that whoever settles
    /// this supervisor after a crash knows it started); then it spawns the job, notes its
    /// process, and leaves the start to the next step to record.
    func startReservation(in slot: Slot) {
        let entry = reservedStartsNoted
        let now = WallClock.now()
        enum Next { case nothing, job(Job), journalFailed }
        let next =
            journal.withLock { () -> Next in
                dropCancelledReservations()
                guard let reserved = reservations.first else { return .nothing }
                guard journal.noteStart(entry: entry, reserved.id, attempt: reserved.attempt + 1, process: nil) else {
                    return .journalFailed
                }
                reservations.removeFirst()
                return .job(reserved)
            } ?? .journalFailed
        guard case .job(var job) = next else {
            if case .journalFailed = next {
                logger.error("cannot use \(journal.path): \(systemError(errno)); starting jobs with a transaction each")
                journalWritable = false
            }
            return
        }
        reservedStartsNoted += 1
        job.attempt += 1
        job.state = .running
        job.worker = slot.number
        job.startedAt = now
        let logs = configuration.home.logsDirectory
        job.stdoutPath = "\(logs)/\(job.id).\(job.attempt).out"
        job.stderrPath = "\(logs)/\(job.id).\(job.attempt).err"
        pendingStarts.append(SQLiteStore.ReservedStart(slot: slot.number, id: job.id, attempt: job.attempt, startedAt: now))
        start(job, in: slot)
        guard let running = slot.running, running.job.id == job.id, let process = running.process else { return }
        slot.running?.recordPIDAt = nil  // The start's record carries it.
        pendingStarts[pendingStarts.count - 1].process = process
        _ = journal.withLock { journal.noteStart(entry: entry, job.id, attempt: job.attempt, process: process) }
    }

    func start(_ job: Job, in slot: Slot) {
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
            guard writeScript(text, to: path) else {
                return fail("cannot write \(path): \(systemError(errno))", stderr: stderr)
            }
            scriptPath = path
        }
        let argv = commandLine(for: job.payload, scriptPath: scriptPath)
        let environment = CStrings(environment(of: job))
        // Without waiting for the exec where it can (its outcome comes through `exec`); a
        // failure to start that way is looked at again by the ordinary spawn, which says why.
        var started: (pid: pid_t, exec: DetachedExec?)?
        let bootTicksBefore = ProcessIdentity.bootTicks()
        if Spawn.canStartDetached,
            let detached = Spawn.startDetached(
                argv, environment: environment, cwd: job.cwd, stdout: stdout, stderr: stderr, programs: programs,
                block: slot.spawnBlock, blockSize: Slot.spawnBlockSize)
        {
            started = (detached.pid, detached.exec)
        } else {
            switch Spawn.start(
                argv, environment: environment, cwd: job.cwd, stdout: stdout, stderr: stderr, programs: programs)
            {
            case .failed(let text):
                if let scriptPath { unlink(scriptPath) }
                fail(text, stderr: stderr)
            case .started(let pid):
                started = (pid, nil)
            }
        }
        guard let (pid, exec) = started else { return }
        let process = ProcessIdentity.spawned(pid, bootTicksBefore: bootTicksBefore, after: ProcessIdentity.bootTicks())
        let now = WallClock.monotonic()
        // At once, in the slot's lock file (no transaction): whoever settles this slot after a
        // crash finds the job's process there even before its PID reaches the database.
        if let process { slot.lock.recordJob(job.id, attempt: attempt, process: process) }
        slot.running = Running(
            job: job, pid: pid, process: process, started: now, deadline: job.timeoutMilliseconds.map { now + $0 },
            stopping: nil, killAt: nil, scriptPath: scriptPath, recordPIDAt: now + Self.pidRecordDelay, exec: exec)
        logger.info("job \(job.id) started: pid \(pid), worker \(slot.number), \(job.displayName)")
    }

    /// The exec of a job started detached was reported: a failure ends the job as one that
    /// could not start (its process exits 127).
    func execReported(_ slot: Slot) {
        guard let outcome = slot.running?.exec?.outcome() else { return }
        slot.running?.exec = nil
        if case .failed(let text) = outcome { slot.running?.execFailure = text }
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

    /// Appends to a regular file (a job may have left a FIFO in its place: never waited on).
    private func appendLine(_ line: String, to path: String) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return }
        writeAll(line + "\n", to: fd)
    }

    private func writeScript(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o700)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    /// A job's process ended: note the outcome (written by the next step).
    func ended(_ slot: Slot, status: Int32) {
        execReported(slot)  // (Its process is gone: the report is there.)
        guard let running = slot.running else { return }
        let outcome: ProcessOutcome =
            jq_wifexited(status) != 0
            ? .exited(jq_wexitstatus(status)) : .signaled(jq_wtermsig(status))
        let end: JobEnd
        if let failure = running.execFailure {
            end = .spawnFailed(failure)
        } else {
            switch running.stopping {
            case .cancel?: end = .cancelled(outcome)
            case .timeout?: end = .timedOut(outcome)
            case nil: end = .finished(outcome)
            }
        }
        slot.running = nil
        if running.stopping != nil { signalTree(of: running, SIGKILL, leaderReaped: true) }
        if let path = running.scriptPath { unlink(path) }
        if let failure = running.execFailure {
            // Into the slot's stderr file before it becomes the job's log (as a spawn that fails
            // at once writes it).
            logger.warning("job \(running.job.id) could not start: \(failure)")
            appendLine("jobq: \(failure)", to: SlotLogs.scratchPath(configuration.home, slot: slot.number, stderr: true))
        }
        slot.logs.keep(stdoutPath: running.job.stdoutPath, stderrPath: running.job.stderrPath)
        let seconds = Double(WallClock.monotonic() - running.started) / 1000
        logger.info(
            "job \(running.job.id) ended: \(describe(end)) after \(formatSeconds((seconds * 1000).rounded() / 1000))s")
        pendingEnds.append(
            AttemptEnd(id: running.job.id, attempt: running.job.attempt, end: end, process: running.process))
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

    // MARK: Stopping

    func checkCancellation(_ slot: Slot) {
        guard let current = slot.running, current.stopping == nil else { return }
        let requested = (try? store.isCancelRequested(current.job.id, attempt: current.job.attempt)) ?? false
        if requested { beginStop(slot, .cancel) }
    }

    /// The PID to record, the timeout, and the grace period after SIGTERM.
    func checkTimers(of slot: Slot, now: Int64) {
        guard let current = slot.running else { return }
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
            logger.info(
                "job \(current.job.id) still running \(configuration.killGraceMilliseconds) ms after SIGTERM: SIGKILL")
            signalTree(of: current, SIGKILL, leaderReaped: false)
            slot.running?.killAt = nil
        }
    }

    /// SIGTERM now, SIGKILL after the grace period unless it ended.
    func beginStop(_ slot: Slot, _ cause: StopCause) {
        guard let current = slot.running else { return }
        slot.running?.stopping = cause
        slot.running?.killAt = WallClock.monotonic() + configuration.killGraceMilliseconds
        signalTree(of: current, SIGTERM, leaderReaped: false)
    }

    /// Signals everything the job is: its process group; every process below its leader,
    /// including those that left the group or the session; and the orphans re-parented to us
    /// that are the job's, with what is below them. (Once the leader is reaped its PID may be
    /// reused, so the walk below it is only made while it is not.)
    private func signalTree(of running: Running, _ signal: Int32, leaderReaped: Bool) {
        kill(-running.pid, signal)
        // (A job started detached may not have made its own process group yet: until its exec
        // is reported, its leader is signalled by itself too.)
        if !leaderReaped && running.exec != nil { kill(running.pid, signal) }
        var targets = leaderReaped ? [] : ProcessTree.descendants(of: running.pid)
        let leaders = Set(slots.compactMap { $0.running?.pid })
        for child in ProcessTree.children(of: getpid()) where child != running.pid && !leaders.contains(child) {
            guard let orphan = ProcessIdentity.current(child), isOrphan(orphan, of: running) else { continue }
            targets += [child] + ProcessTree.descendants(of: child)
        }
        for pid in targets { kill(pid, signal) }
    }

    /// Whether an orphan re-parented to us is the job's: it carries the job's JOBQ_JOB_ID — or,
    /// when it carries none (it cleared its environment, or it cannot be read: setuid), it
    /// started after the job did and no other job of ours started before it.
    private func isOrphan(_ orphan: ProcessIdentity, of running: Running) -> Bool {
        switch orphan.environmentValue(of: Self.jobIDVariable) {
        case .value(let id): return id == "\(running.job.id)"
        case .absent:
            guard let jobStart = running.process?.startTime, orphan.startTime >= jobStart else { return false }
            return !slots.contains { slot in
                guard let other = slot.running, other.job.id != running.job.id,
                    let otherStart = other.process?.startTime
                else { return false }
                return otherStart <= orphan.startTime
            }
        }
    }
}
