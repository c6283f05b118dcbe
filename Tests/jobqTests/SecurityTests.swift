import Glibc
import JobStore
import Testing
import TestSupport

/// What a job gets and what jobq refuses to do with other people's input.
@Suite struct SecurityTests {
    @Test func commandsRunWithoutAShell() throws {
        let test = DaemonTestCase("noshell")
        try #require(test.daemon.start(["--workers", "1"]))
        let id = try test.add(["--", "echo", "$HOME", "*", ";", "rm", "-rf", "/nonexistent", "`id`"])
        try test.waitFor(id, .done)
        #expect(test.jobq(["log", "\(id)"]).stdout == "$HOME * ; rm -rf /nonexistent `id`\n")
    }

    /// Values that look like SQL are data: they are bound, never spliced into statements.
    @Test func sqlLookingInputIsStoredAsIs() throws {
        let test = DaemonTestCase("sqlish")
        let name = "x'); DROP TABLE jobs; --"
        let id = try test.add(["--name", name, "--env", "Q=' OR 1=1 --", "--", "echo", "'; DELETE FROM jobs; --"])
        let job = try test.job(id)
        #expect(job.name == name)
        #expect(job.payload == .command(["echo", "'; DELETE FROM jobs; --"]))
        #expect(job.environment?.contains("Q=' OR 1=1 --") == true)
        #expect(try jobCount(home: test.home) == 1)
    }

    /// Signals the daemon's parent ignored (nohup, a shell's trap) are back at their defaults in
    /// every job, and nothing is blocked.
    @Test func jobsStartWithDefaultSignalDispositions() throws {
        let test = DaemonTestCase("signals")
        let id = try test.addShell("grep -E '^(SigIgn|SigBlk)' /proc/self/status")
        let daemon = JobQProcess.spawn(
            "/bin/sh", ["-c", "trap '' INT TERM HUP QUIT PIPE USR1; exec \"$JOBQ\" --home \"$H\" daemon --workers 1"],
            environment: ["JOBQ": JobQProcess.binary, "H": test.home], captureOutput: false,
            logPath: test.folder.file("d.log"))
        defer {
            kill(daemon.pid, SIGKILL)
            waitForExit(daemon.pid)
        }
        try test.waitFor(id, .done)
        // Neither blocked nor ignored — glibc's reserved signals 32 and 33 included.
        let lines = test.jobq(["log", "\(id)"]).stdout.split(separator: "\n").map { $0.split(separator: "\t").last ?? "" }
        #expect(lines == ["0000000000000000", "0000000000000000"], "\(lines)")
    }

    /// A running job whose worker is gone and whose recorded PID now belongs to an unrelated
    /// process: cancel records the job cancelled and never signals that process.
    @Test func cancelNeverSignalsAProcessThatReusedThePID() throws {
        let test = DaemonTestCase("pidreuse")
        let id = try test.add(["--", "sleep", "60"])
        let store = try test.store()
        _ = try store.claim(ClaimRequest(limit: 1, worker: 7, maxRunning: nil, logDirectory: test.home + "/logs"), now: 1)
        let bystander = JobQProcess.spawn("/bin/sleep", ["60"], captureOutput: false)
        defer {
            kill(bystander.pid, SIGKILL)
            waitForExit(bystander.pid)
        }
        let start = try #require(ProcessIdentity.startTime(of: bystander.pid))
        // The job's row names the bystander's PID with another start time: another process.
        _ = try store.recordStart(of: id, attempt: 1, pid: bystander.pid, pidStart: start + 1)
        let cancel = test.jobq(["cancel", "\(id)"])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        #expect(cancel.stdout.contains("its worker was gone"))
        #expect(try test.job(id).reason == .cancelled)
        #expect(ProcessIdentity(pid: bystander.pid, startTime: start).isAlive, "the bystander was signalled")
    }
}

/// Sizes at and past the limits: accepted up to them, refused past them, nothing added.
@Suite struct LimitsTests {
    let folder = TemporaryDirectory("limits")
    var home: String { folder.file("home") }

    @Test func argumentsAtTheLimitAreAcceptedAndPastItRefused() throws {
        let atLimit = String(repeating: "a", count: JobLimits.maximumStringBytes)
        let accepted = JobQProcess.run(["add", "--", "echo", atLimit], home: home)
        #expect(accepted.status == 0, "\(accepted.stderr)")
        // Linux would not even start jobq with a longer argument, but a line of --stdin can be.
        let tooLong = JobQProcess.run(["add", "--stdin"], home: home, stdin: "echo " + atLimit + "\n")
        #expect(tooLong.status == 1)
        #expect(tooLong.stderr.contains("the limit is \(JobLimits.maximumStringBytes)"))
        // Among short lines (the bulk insert, which checks only the longest): all refused.
        let oneTooLong = JobQProcess.run(
            ["add", "--stdin"], home: home, stdin: "echo a\necho " + atLimit + "\necho b\n")
        #expect(oneTooLong.status == 1)
        #expect(oneTooLong.stderr.contains("the limit is \(JobLimits.maximumStringBytes)"))
        let chunk = String(atLimit.prefix(100_000))
        let tooMuch = JobQProcess.run(["add", "--", "echo"] + Array(repeating: chunk, count: 11), home: home)
        #expect(tooMuch.status == 1)
        #expect(tooMuch.stderr.contains("1 MiB"))
        let bigEnvironment = JobQProcess.run(
            ["add"] + (0..<11).flatMap { ["--env", "BIG\($0)=" + chunk] } + ["--", "true"], home: home)
        #expect(bigEnvironment.status == 1)
        #expect(bigEnvironment.stderr.contains("1 MiB"))
        #expect(try jobCount(home: home) == 1)
    }

    @Test func absurdCountsAreUsageErrors() throws {
        for arguments in [["daemon", "--workers", "0"], ["daemon", "--workers", "-1"], ["daemon", "--workers", "100000"],
                          ["list", "--limit", "-5"], ["errors", "--lines", "-1"], ["daemon", "--kill-grace", "-3s"]] {
            let result = JobQProcess.run(arguments, home: home)
            #expect(result.status == 64, "\(arguments): \(result.status) \(result.stderr)")
        }
    }
}
