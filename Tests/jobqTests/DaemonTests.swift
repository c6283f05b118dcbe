import Glibc
import JobStore
import Testing
import TestSupport

/// `jobq daemon` running real jobs: the tutorial's scenario, ordering, exit codes, signals,
/// cancel and retry, one daemon per home.
@Suite struct DaemonTests {
    /// Four task files in the tutorial's MESSAGE;SECONDS form dropped into the spool of a
    /// daemon with 4 workers: all four start in name order and run at the same time, each in its
    /// own process, and end done with their message in their log.
    @Test func tutorialScenario() throws {
        let test = DaemonTestCase("tutorial")
        try #require(test.daemon.start(["--workers", "4"]))
        let spool = test.home + "/spool"
        let delays = ["1": "1.5", "2": "2", "3": "1", "4": "2.5"]
        // Written elsewhere and moved in, so they arrive whole and at once.
        for (name, delay) in delays.sorted(by: { $0.key < $1.key }) {
            test.folder.write("\(name).task", "I am task \(name);\(delay)\n")
        }
        for name in delays.keys.sorted() {
            rename(test.folder.file("\(name).task"), spool + "/\(name).task")
        }
        let store = try test.store()
        try #require(try waitUntil(seconds: 30) { try store.counts()[.done] == 4 }, "log:\n\(test.daemon.log)")
        let jobs = try store.jobs(state: nil, limit: nil).sorted { $0.name! < $1.name! }
        #expect(jobs.map(\.name) == ["1.task", "2.task", "3.task", "4.task"])
        #expect(Set(jobs.compactMap(\.pid)).count == 4)
        for job in jobs {
            #expect(job.state == .done && job.exitCode == 0)
            let log = readFile(try #require(job.stdoutPath)) ?? ""
            #expect(log == "I am task \(job.name!.prefix(1))\n")
        }
        // They ran at the same time: each started before any of them finished.
        let lastStart = try #require(jobs.compactMap(\.startedAt).max())
        let firstEnd = try #require(jobs.compactMap(\.finishedAt).min())
        #expect(lastStart < firstEnd)
        // And were queued in name order, the order they are claimed in — and stamped in: the
        // start time is read with the write lock held.
        #expect(jobs.map(\.id) == jobs.map(\.id).sorted())
        let starts = jobs.compactMap(\.startedAt)
        #expect(starts == starts.sorted(), "start times out of claim order: \(starts)")
    }

    /// Before it says it has started, the daemon writes the write-ahead log's blocks ahead of the
    /// commits (see `Database.preallocateLog`): enqueues then overwrite the log, not grow it.
    @Test func theDaemonPreallocatesTheWriteAheadLog() throws {
        let test = DaemonTestCase("prealloc")
        try #require(test.daemon.start(["--workers", "1"]))
        let target = try test.store().database.logPreallocationBytes()
        var info = stat()
        #expect(stat(test.home + "/jobq.db-wal", &info) == 0)
        #expect(Int(info.st_size) >= target, "log:\n\(test.daemon.log)")
        #expect(test.daemon.log.contains("write-ahead log preallocated"))
    }

    /// `add --stdin` while the daemon runs leaves copying the write-ahead log into the database
    /// file to the daemon (`Daemon.checkpointRequest`, `LogCopier`). The daemon is stopped
    /// (SIGSTOP) while the add runs: the add returns with the copy not done — the database file
    /// has not grown. Once the daemon goes on, the file grows by the jobs' pages, though nothing
    /// else would copy them (the jobs wait an hour, so no worker commits).
    @Test func theDaemonCopiesTheLogOfALargeAdd() throws {
        let test = DaemonTestCase("bulk-checkpoint")
        try #require(test.daemon.start(["--workers", "1"]))
        let path = test.home + "/jobq.db"
        let sizeBefore = try #require(fileSize(path))
        // Past the 1,000-page checkpoint threshold: ~1,500 pages.
        let count = 30_000
        let line = "echo " + String(repeating: "x", count: 100) + "\n"
        test.daemon.signal(SIGSTOP)
        let added = test.jobq(["add", "--stdin", "--delay", "1h"], stdin: String(repeating: line, count: count))
        let sizeAfterAdd = fileSize(path)
        test.daemon.signal(SIGCONT)
        try #require(added.status == 0, "\(added.stderr)")
        #expect(sizeAfterAdd == sizeBefore, "the add copied the log itself")
        #expect(try test.store().counts()[.queued] == count)
        // The file grows while the copy runs; the daemon's line comes when it is done.
        let copied = waitUntil(seconds: 20) { test.daemon.log.contains("write-ahead log copied into the database") }
        #expect(copied, "log:\n\(test.daemon.log)")
        #expect((fileSize(path) ?? 0) > sizeBefore + 4_000_000, "database file: \(fileSize(path) ?? -1) bytes, was \(sizeBefore)")
    }

    /// With one worker, jobs start in the order the store promises.
    @Test func oneWorkerRunsJobsInClaimOrder() throws {
        let test = DaemonTestCase("order")
        let out = test.folder.file("order.txt")
        for (name, priority) in [("b", "0"), ("10", "0"), ("a", "0"), ("2", "0"), ("late", "5")] {
            _ = try test.add(["--name", name, "--priority", priority, "--", "/bin/sh", "-c", "echo \(name) >> \(out)"])
        }
        let unnamed = try test.addShell("echo unnamed >> \(out)")
        try #require(test.daemon.start(["--workers", "1"]))
        try test.waitFor(unnamed)
        try #require(try waitUntil(seconds: 30) { try test.store().counts()[.done] == 6 })
        #expect(test.lines("order.txt") == ["late", "unnamed", "10", "2", "a", "b"])
    }

    @Test func exitCodesSignalsAndSpawnFailures() throws {
        let test = DaemonTestCase("exits")
        try #require(test.daemon.start(["--workers", "2"]))
        let three = try test.addShell("exit 3")
        let killed = try test.addShell("kill -9 $$")
        let missing = try test.add(["--", "no-such-program-jobq-test"])
        let badCwd = try test.add(["--cwd", "/no/such/folder", "--", "true"])
        // Found and executable, but no program: its exec fails in the child (started detached:
        // the failure comes after the supervisor went on).
        let notAProgram = test.folder.file("not-a-program")
        #expect(writeFile(notAProgram, [0x7f, 0x45, 0x4c, 0x46, 0, 0], mode: 0o755))
        let badFormat = try test.add(["--", notAProgram])
        let ok = try test.addShell("echo out; echo err >&2")

        let exited = try test.waitFor(three)
        #expect(exited.state == .failed && exited.reason == .exit && exited.exitCode == 3)
        let signaled = try test.waitFor(killed)
        #expect(signaled.state == .failed && signaled.reason == .signal && signaled.signal == 9)
        let notFound = try test.waitFor(missing)
        #expect(notFound.state == .failed && notFound.reason == .spawn)
        #expect(notFound.error?.contains("command not found: no-such-program-jobq-test") == true)
        let noCwd = try test.waitFor(badCwd)
        #expect(noCwd.reason == .spawn && noCwd.error?.contains("/no/such/folder") == true)
        let cannotExec = try test.waitFor(badFormat)
        #expect(cannotExec.reason == .spawn && cannotExec.error?.contains("Exec format error") == true, "\(cannotExec)")
        #expect(test.jobq(["log", "\(badFormat)", "--stderr"]).stdout.contains("jobq: cannot run"))
        let done = try test.waitFor(ok)
        #expect(done.state == .done && done.exitCode == 0)
        #expect(test.jobq(["log", "\(ok)"]).stdout == "out\n")
        #expect(test.jobq(["log", "\(ok)", "--stderr"]).stdout == "err\n")

        let errors = test.jobq(["errors"])
        #expect(errors.stdout.contains("exit 3"))
        #expect(errors.stdout.contains("signal 9"))
        #expect(errors.stdout.contains("command not found"))
        let show = test.jobq(["show", "\(three)"]).stdout
        #expect(show.contains("pid"))
        #expect(show.contains("stdout"))
        #expect(test.daemon.log.contains("job \(three) started: pid"))
        #expect(test.daemon.log.contains("job \(three) ended: exit 3"))
    }

    @Test func jobsRunWithTheirCapturedCwdAndEnvironmentOnly() throws {
        let test = DaemonTestCase("env")
        let result = JobQProcess.run(
            ["add", "--env", "EXTRA=x", "--", "/bin/sh", "-c", "pwd; echo $CAPTURED $EXTRA; echo ${DAEMON_ONLY:-unset}"],
            home: test.home, environment: ["CAPTURED": "yes"], cwd: test.folder.path)
        try #require(result.status == 0)
        let id = try #require(JobID(parsing: String(result.stdout.dropLast())))
        try #require(test.daemon.start(["--workers", "1"], environment: ["DAEMON_ONLY": "leak"]))
        let job = try test.waitFor(id)
        #expect(job.state == .done)
        #expect(test.jobq(["log", "\(id)"]).stdout == "\(test.folder.path)\nyes x\nunset\n")
        test.daemon.signal(SIGTERM)
        #expect(test.daemon.waitForExit() == 0)
    }

    @Test func aSecondDaemonOnTheSameHomeRefusesToStart() throws {
        let test = DaemonTestCase("second")
        try #require(test.daemon.start(["--workers", "1"]))
        let second = test.jobq(["daemon"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("a daemon is already running for \(test.home) (pid \(test.daemon.pid))"))
        let status = test.jobq(["status", "--json"]).stdout
        #expect(status.contains("\"running\": true"))
        #expect(status.contains("\"pid\": \(test.daemon.pid)"))
        #expect(status.contains("\"workers\": 1"))
        #expect(status.contains("\"busy\": 0"))
        #expect(test.jobq(["status"]).stdout.contains("0 of 1 workers busy"))
    }

    @Test func cancelQueuedAndRunningJobs() throws {
        let test = DaemonTestCase("cancel")
        try #require(test.daemon.start(["--workers", "3"]))
        let pidFile = test.folder.file("grandchild.pid")
        let plain = try test.addShell("sleep 60")
        let stubborn = try test.addShell("trap '' TERM; sleep 60")
        let parent = try test.addShell("sleep 60 & echo $! > \(pidFile); wait")
        let queued = try test.add(["--after", "\(plain)", "--", "true"])
        for id in [plain, stubborn, parent] { try test.waitFor(id, .running) }
        try #require(waitUntil { readFile(pidFile)?.hasSuffix("\n") == true })
        let grandchild = try #require(Int32((readFile(pidFile) ?? "").dropLast()))

        let cancelQueued = test.jobq(["cancel", "\(queued)"])
        #expect(cancelQueued.status == 0)
        #expect(cancelQueued.stdout.contains("cancelled (it had not started)"))
        #expect(try test.job(queued).state == .failed && test.job(queued).reason == .cancelled)

        let runningPIDs = try [plain, stubborn, parent].map { try test.waitForPID($0) }
        let cancel = test.jobq(["cancel", "\(plain)", "\(stubborn)", "\(parent)"])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        for id in [plain, stubborn, parent] {
            let job = try test.waitFor(id)
            #expect(job.state == .failed && job.reason == .cancelled, "job \(id): \(job.state) \(String(describing: job.reason))")
        }
        #expect(try test.job(stubborn).signal == SIGKILL)
        #expect(try test.job(plain).signal == SIGTERM)
        for pid in runningPIDs + [grandchild] {
            #expect(waitUntil { isGone(pid) }, "process \(pid) survived the cancel")
        }
        // Finished jobs cannot be cancelled.
        let again = test.jobq(["cancel", "\(plain)"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("only queued or running jobs can be cancelled"))
    }

    @Test func retryRunsAFailedJobAgainAndKeepsTheFirstAttempt() throws {
        let test = DaemonTestCase("retry")
        try #require(test.daemon.start(["--workers", "1"]))
        let marker = test.folder.file("marker")
        let id = try test.addShell("test -f \(marker) || { touch \(marker); echo first >&2; exit 3; }")
        let first = try test.waitFor(id)
        #expect(first.state == .failed && first.exitCode == 3)
        let retry = test.jobq(["retry", "\(id)"])
        #expect(retry.status == 0)
        let second = try test.waitFor(id, .done)
        #expect(second.attempt == 2)
        let show = test.jobq(["show", "\(id)", "--json"]).stdout
        #expect(show.contains("\"attempts\": [\n    {\n      \"attempt\": 1,\n      \"state\": \"failed\""))
        #expect(test.jobq(["show", "\(id)"]).stdout.contains("attempt 1: failed (exit), exit 3"))
        #expect(test.jobq(["retry", "\(id)"]).status == 1)
    }

    @Test func timeoutStopsAJob() throws {
        let test = DaemonTestCase("timeout")
        try #require(test.daemon.start(["--workers", "1"]))
        let id = try test.add(["--timeout", "300ms", "--", "sleep", "60"])
        let job = try test.waitFor(id)
        #expect(job.state == .failed && job.reason == .timeout && job.signal == SIGTERM)
    }

    @Test func retriesRunAFailingJobAgainAutomatically() throws {
        let test = DaemonTestCase("retries")
        try #require(test.daemon.start(["--workers", "1"]))
        let count = test.folder.file("count")
        let id = try test.addShell("echo x >> \(count); exit 1", ["--retries", "2"])
        try #require(try waitUntil(seconds: 30) {
            let job = try test.job(id)
            return job.state == .failed && job.attempt == 3
        })
        #expect(test.lines("count").count == 3)
        #expect(try test.store().attempts(of: id).count == 2)
    }

    @Test func afterWaitsForItsDependency() throws {
        let test = DaemonTestCase("after")
        try #require(test.daemon.start(["--workers", "2"]))
        let out = test.folder.file("out")
        let first = try test.addShell("sleep 0.3; echo first >> \(out)")
        let second = try test.addShell("echo second >> \(out)", ["--after", "\(first)"])
        try test.waitFor(second, .done)
        #expect(test.lines("out") == ["first", "second"])
    }

    @Test func delayedJobStartsWhenDue() throws {
        let test = DaemonTestCase("delay")
        try #require(test.daemon.start(["--workers", "1"]))
        let id = try test.add(["--delay", "700ms", "--", "true"])
        #expect(try test.job(id).state == .queued)
        let job = try test.waitFor(id, .done)
        #expect(try #require(job.startedAt) >= job.runAfter)
    }
}

/// `jobq add` hands jobs to a running daemon over its socket; the answers are the same as
/// when it writes to the database itself.
@Suite struct AddThroughDaemonTests {
    @Test func addsAndRefusalsMatchTheDirectPath() throws {
        let test = DaemonTestCase("socket")
        try #require(test.daemon.start(["--workers", "1"]))
        #expect(access(test.home + "/run/daemon.sock", F_OK) == 0)
        let refused = test.jobq(["add", "--after", "999", "--", "true"])
        #expect(refused.status == 1)
        #expect(refused.stderr == "jobq: there is no job 999; `jobq list` shows the jobs there are\n")
        let first = try test.add(["--name", "via-socket", "--priority", "3", "--env", "X=1", "--", "/bin/sh", "-c", "echo $X"])
        let job = try test.waitFor(first, .done)
        #expect(job.name == "via-socket" && job.priority == 3)
        #expect(test.jobq(["log", "\(first)"]).stdout == "1\n")
        // Several at once, from several processes: each gets its own id, none is lost.
        var children: [pid_t] = []
        for index in 0..<6 {
            let child = JobQProcess.spawn(
                JobQProcess.binary, ["--home", test.home, "add", "--", "true"], captureOutput: false,
                logPath: test.folder.file("add\(index).out"))
            children.append(child.pid)
        }
        for pid in children { #expect(waitForExitOrKill(pid) == 0) }
        let ids = (0..<6).compactMap { Int((readFile(test.folder.file("add\($0).out")) ?? "").dropLast()) }
        #expect(Set(ids).count == 6)
        try #require(try waitUntil { try test.store().counts()[.done] == 7 })
        // A stopped daemon leaves its socket behind; add then writes directly.
        test.daemon.kill9()
        let direct = test.jobq(["add", "--", "true"])
        #expect(direct.status == 0)
        #expect(try test.store().counts()[.queued] == 1)
    }
}

@Suite struct WaitTests {
    /// `wait` returns promptly when the job ends — not a poll interval later.
    @Test func waitReturnsSoonAfterTheJobEnds() throws {
        let test = DaemonTestCase("waitprompt")
        try #require(test.daemon.start(["--workers", "1"]))
        for _ in 0..<3 {
            let id = try test.add(["--", "sleep", "0.2"])
            let started = monotonicSeconds()
            let wait = test.jobq(["wait", "\(id)"])
            let elapsed = monotonicSeconds() - started
            #expect(wait.status == 0)
            let job = try test.job(id)
            #expect(job.state == .done)
            // The job itself takes 0.2 s; a wait that missed the end would take a second more.
            #expect(elapsed < 0.8, "wait took \(elapsed) s")
        }
        let failing = try test.addShell("exit 4")
        #expect(test.jobq(["wait", "\(failing)"]).status == 2)
        #expect(test.jobq(["wait", "--timeout", "100ms"]).status == 0)
        let long = try test.add(["--", "sleep", "30"])
        #expect(test.jobq(["wait", "\(long)", "--timeout", "200ms"]).status == 3)
        _ = test.jobq(["cancel", "\(long)"])
    }
}
