import Glibc
import JobStore
import Testing
import TestSupport

/// The point of the whole product: every job accounted for through daemon restarts, crashes
/// and `kill -9`.
@Suite struct RestartTests {
    /// `kill -9` the daemon while jobs run: they finish and are recorded with no daemon up; a
    /// new daemon goes on with the queue and runs nothing twice.
    @Test func killingTheDaemonLosesNothingAndRunsNothingTwice() throws {
        let test = DaemonTestCase("kill9")
        let out = test.folder.file("ran")
        // The jobs hold until the daemon is dead: the two running then are still running.
        let gate = Gate(test.folder.file("gate"))
        let ids = try (0..<6).map { index in
            try test.addShell("\(gate.shellWait); echo \(index) >> \(out)")
        }
        try #require(test.daemon.start(["--workers", "2"]))
        try #require(try waitUntil { try test.running().count == 2 })
        let first = try test.running().map(\.id)
        test.daemon.kill9()
        gate.open()

        // With no daemon, the running jobs still end and are recorded by their workers...
        for id in first {
            let job = try test.waitFor(id)
            #expect(job.state == .done && job.exitCode == 0 && job.finishedAt != nil)
        }
        // ...and nothing new starts: the orphaned workers exit after their job.
        try #require(waitUntil { test.daemon.workerPIDs().isEmpty })
        #expect(try test.store().counts()[.queued] == 4)

        try #require(test.daemon.start(["--workers", "2"]))
        for id in ids { try test.waitFor(id, .done) }
        let lines = test.lines("ran")
        #expect(lines.count == 6)
        #expect(Set(lines) == Set((0..<6).map(String.init)))
        for id in ids { #expect(try test.job(id).attempt == 1) }
    }

    /// A running job's worker killed with `kill -9` while the daemon runs: the daemon sees the
    /// slot's lock drop, kills what is left of the job, marks it lost, and starts a new worker.
    @Test func killingAWorkerMarksItsJobLost() throws {
        let test = DaemonTestCase("killworker")
        let started = test.folder.file("started")
        try #require(test.daemon.start(["--workers", "1"]))
        let id = try test.addShell("echo start >> \(started); sleep 60")
        try test.waitFor(id, .running)
        let jobPID = try test.waitForPID(id)
        let workers = test.daemon.workerPIDs()
        try #require(workers.count == 1)
        kill(workers[0], SIGKILL)

        let lost = try test.waitFor(id)
        #expect(lost.state == .failed && lost.reason == .lost)
        #expect(waitUntil { isGone(jobPID) }, "the lost job's process was left running")
        #expect(test.lines("started").count == 1)
        // The slot has a worker again, and it runs the next job.
        let next = try test.add(["--", "true"])
        #expect(try test.waitFor(next).state == .done)
        #expect(test.daemon.log.contains("job \(id) lost"))
    }

    /// The whole tree gone (daemon and worker killed, as after a crash): the next daemon finds
    /// the job running with no live owner and marks it lost — or queues it again when it has
    /// retries left.
    @Test func jobsWithoutALiveOwnerAreSettledAtTheNextStart() throws {
        let test = DaemonTestCase("reboot")
        try #require(test.daemon.start(["--workers", "2"]))
        let plain = try test.addShell("sleep 60")
        let retried = try test.addShell("test -f \(test.folder.file("second")) && exit 0; touch \(test.folder.file("second")); sleep 60", ["--retries", "1"])
        try test.waitFor(plain, .running)
        try test.waitFor(retried, .running)
        let pids = try [plain, retried].map { try test.waitForPID($0) }
        let workers = test.daemon.workerPIDs()
        test.daemon.kill9()
        for worker in workers { kill(worker, SIGKILL) }
        try #require(waitUntil { test.daemon.workerPIDs().isEmpty })

        try #require(test.daemon.start(["--workers", "2"]))
        let lost = try test.waitFor(plain)
        #expect(lost.state == .failed && lost.reason == .lost)
        let again = try test.waitFor(retried, .done)
        #expect(again.attempt == 2)
        #expect(try test.store().attempts(of: retried).first?.reason == .lost)
        for pid in pids { #expect(waitUntil { isGone(pid) }, "process \(pid) of a lost job was left running") }
    }

    /// SIGTERM: the daemon exits within a second; running jobs go on and are recorded.
    @Test func sigtermLeavesRunningJobsToTheirWorkers() throws {
        let test = DaemonTestCase("sigterm")
        try #require(test.daemon.start(["--workers", "1"]))
        // The job holds until the daemon is gone, so its worker is the one to record its end.
        let gate = Gate(test.folder.file("gate"))
        let id = try test.addShell(gate.shellWait)
        let queued = try test.add(["--", "true"])
        try test.waitFor(id, .running)
        let before = monotonicSeconds()
        test.daemon.signal(SIGTERM)
        #expect(test.daemon.waitForExit(seconds: 5) == 0)
        #expect(monotonicSeconds() - before < 1.0)
        #expect(try test.job(id).state == .running)
        gate.open()
        #expect(try test.waitFor(id).state == .done)
        try #require(waitUntil { test.daemon.workerPIDs().isEmpty })
        #expect(try test.job(queued).state == .queued)
        #expect(test.jobq(["status", "--json"]).stdout.contains("\"running\": false"))
    }

    /// `jobq stop --drain`: running jobs finish, nothing new starts, then the daemon exits.
    @Test func drainFinishesRunningJobsAndStartsNothingNew() throws {
        let test = DaemonTestCase("drain")
        try #require(test.daemon.start(["--workers", "1"]))
        // The job holds until the daemon is draining: it is the running job the drain waits for.
        let gate = Gate(test.folder.file("gate"))
        let id = try test.addShell(gate.shellWait)
        let queued = try test.add(["--", "true"])
        try test.waitFor(id, .running)
        let stopLog = test.folder.file("stop.log")
        let stop = JobQProcess.spawn(
            JobQProcess.binary, ["--home", test.home, "stop", "--drain"], captureOutput: false, logPath: stopLog)
        try #require(waitUntil { test.daemon.log.contains("draining: no new jobs start") }, "\(test.daemon.log)")
        #expect(try test.job(id).state == .running)
        gate.open()
        #expect(waitForExitOrKill(stop.pid) == 0, "\(readFile(stopLog) ?? "")")
        #expect(try test.job(id).state == .done)
        #expect(try test.job(queued).state == .queued)
        #expect(test.daemon.waitForExit(seconds: 5) == 0)
        #expect(test.jobq(["stop"]).status == 1)
    }

    /// --workers N holds across a restart: with two jobs still running under an earlier
    /// daemon's workers, a new daemon with --workers 1 starts nothing until they are done.
    @Test func workerCapHoldsAcrossRestarts() throws {
        let test = DaemonTestCase("cap")
        let log = test.folder.file("spans")
        // Each job writes "start" and "end" lines; at no point may more than N be between. The
        // jobs hold until the new daemon is up, so it starts beside two running jobs.
        let gate = Gate(test.folder.file("gate"))
        let body = "echo start >> \(log); \(gate.shellWait); echo end >> \(log)"
        let ids = try (0..<5).map { _ in try test.addShell(body) }
        try #require(test.daemon.start(["--workers", "2"]))
        try #require(try waitUntil { try test.running().count == 2 })
        test.daemon.kill9()
        try #require(test.daemon.start(["--workers", "1"]))
        gate.open()
        for id in ids { try test.waitFor(id, .done) }
        var concurrent = 0
        var most = 0
        var afterRestart: [Int] = []
        for line in test.lines("spans") {
            concurrent += line == "start" ? 1 : -1
            most = max(most, concurrent)
            afterRestart.append(concurrent)
        }
        #expect(most <= 2)
        // Once the first two have ended, never more than one at a time.
        let firstEnds = test.lines("spans").enumerated().filter { $0.element == "end" }.prefix(2).map(\.offset)
        if let cut = firstEnds.last {
            #expect(afterRestart[(cut + 1)...].allSatisfy { $0 <= 1 })
        }
    }
}
