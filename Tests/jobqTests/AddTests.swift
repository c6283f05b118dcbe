import Glibc
import JobStore
import Testing
import TestSupport

/// `jobq add` in its three forms, its options, and what it refuses.
@Suite struct AddTests {
    let folder = TemporaryDirectory("add")
    var home: String { folder.file("home") }

    func jobq(_ arguments: [String], stdin: String = "", cwd: String? = nil) -> ProcessResult {
        JobQProcess.run(arguments, home: home, stdin: stdin, cwd: cwd)
    }

    @Test func optionsAreValidatedAndStored() throws {
        let result = jobq([
            "add", "--name", "sim", "--priority", "-3", "--cwd", "/var", "--env", "A=b c", "--timeout", "1h30m",
            "--retries", "2", "--delay", "10m", "--json", "--", "./simulate", "input.dat",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "{\"ids\":[1]}\n")
        let show = jobq(["show", "1", "--json"]).stdout
        for expected in [
            "\"name\": \"sim\"", "\"priority\": -3", "\"cwd\": \"/var\"", "\"A=b c\"", "\"timeout_ms\": 5400000",
            "\"max_retries\": 2", "\"command\": [\n    \"./simulate\",\n    \"input.dat\"\n  ]",
        ] {
            #expect(show.contains(expected), "missing \(expected)")
        }
        #expect(!show.contains("\"run_after\": null"))
    }

    @Test(arguments: [
        (["--priority", "high"], "--priority"),
        (["--retries", "-1"], "--retries"),
        (["--retries", "1000"], "--retries"),
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "5 parsecs"], "duration"),
        (["--delay", "400d"], "duration"),
        (["--at", "25:00"], "--at"),
        (["--delay", "1m", "--at", "12:00"], "--delay"),
        (["--env", "NOEQUALS"], "--env"),
        (["--after", "x"], "--after"),
        (["--name", ""], "--name"),
    ])
    func badValuesAreUsageErrorsAndAddNothing(flags: [String], mention: String) throws {
        let result = jobq(["add"] + flags + ["--", "true"])
        #expect(result.status == 64, "\(flags): \(result.stderr)")
        #expect(result.stderr.contains(mention), "\(flags): \(result.stderr)")
        #expect(try jobCount(home: home) == 0)
    }

    @Test func afterAnUnknownJobIsRefused() throws {
        let result = jobq(["add", "--after", "77", "--", "true"])
        #expect(result.status == 1)
        #expect(result.stderr == "jobq: there is no job 77; `jobq list` shows the jobs there are\n")
        #expect(try jobCount(home: home) == 0)
    }

    @Test func taskFilesAreAddedNamedAfterTheFile() throws {
        folder.write("1.task", "I am the first task;7\n")
        folder.write("b.task", "#!/bin/sh\n#JOBQ --priority 4 --retries 1\necho hi\n")
        let result = jobq(["add", "1.task", "b.task"], cwd: folder.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdoutLines == ["1", "2"])
        let first = jobq(["show", "1", "--json"]).stdout
        #expect(first.contains("\"name\": \"1.task\""))
        #expect(first.contains("\"kind\": \"message\""))
        #expect(first.contains("\"message\": \"I am the first task\""))
        #expect(first.contains("\"seconds\": 7"))
        #expect(first.contains("\"source\": \"\(folder.file("1.task"))\""))
        let second = jobq(["show", "2", "--json"]).stdout
        #expect(second.contains("\"kind\": \"script\""))
        #expect(second.contains("\"priority\": 4"))
        #expect(second.contains("\"max_retries\": 1"))
    }

    @Test func commandLineOptionsOverrideTheFile() throws {
        folder.write("p.task", "#JOBQ --priority 4 --name from-file\necho hi\n")
        _ = jobq(["add", "--priority", "9", folder.file("p.task")])
        let show = jobq(["show", "1", "--json"]).stdout
        #expect(show.contains("\"priority\": 9"))
        #expect(show.contains("\"name\": \"from-file\""))
    }

    /// One bad file: nothing is added, and the message names the file, the line and the problem.
    @Test func aTaskFileThatDoesNotParseAddsNothing() throws {
        folder.write("good.task", "echo fine\n")
        folder.write("bad.task", "#!/bin/sh\n#JOBQ --retries lots\necho hi\n")
        let result = jobq(["add", folder.file("good.task"), folder.file("bad.task")])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("jobq: \(folder.file("bad.task")): line 2: "))
        #expect(result.stderr.contains("--retries"))
        #expect(try jobCount(home: home) == 0)
    }

    @Test func unreadableTaskFilesAreRefused() throws {
        mkdir(folder.file("dir.task"), 0o755)
        mkfifo(folder.file("fifo.task"), 0o644)
        folder.write("empty.task", "")
        for (file, problem) in [
            ("dir.task", "is a folder"), ("fifo.task", "is a FIFO"), ("missing.task", "cannot be read"),
            ("empty.task", "empty"),
        ] {
            let result = jobq(["add", folder.file(file)])
            #expect(result.status == 1, "\(file)")
            #expect(result.stderr.contains(problem), "\(file): \(result.stderr)")
        }
        #expect(try jobCount(home: home) == 0)
    }

    @Test func stdinAddsOneShellCommandPerLineInOneGo() throws {
        let result = jobq(["add", "--stdin", "--priority", "2"], stdin: "echo one\n\n# a comment\necho 'two'\n  echo three\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdoutLines == ["1", "2", "3"])
        let show = jobq(["show", "2", "--json"]).stdout
        #expect(show.contains("\"command\": [\n    \"/bin/sh\",\n    \"-c\",\n    \"echo 'two'\"\n  ]"))
        #expect(show.contains("\"priority\": 2"))
        let empty = jobq(["add", "--stdin"], stdin: "\n# nothing\n")
        #expect(empty.status == 1)
        #expect(try jobCount(home: home) == 3)
    }

    /// Without a daemon, `add --stdin` copies its write-ahead log into the database file itself
    /// (nobody else would) and, the last to close it, removes the log.
    @Test func stdinWithoutADaemonLeavesNoLogBehind() throws {
        let lines = String(repeating: "echo a line long enough to fill some pages\n", count: 2_000)
        let result = jobq(["add", "--stdin"], stdin: lines)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(fileSize(home + "/jobq.db-wal") == nil)
        #expect(try #require(fileSize(home + "/jobq.db")) > 100_000)
        #expect(try jobCount(home: home) == 2_000)
    }

    /// End to end: after a long `add --stdin` without a daemon, the write-ahead log is copied into
    /// the database file and removed (by a detached `jobq copy-log`: who copies it is
    /// `withoutADaemonTheLogCopyIsHandedToACopyLogProcess`'s to check).
    @Test func aLongStdinAddWithoutADaemonLeavesTheLogCopyToADetachedProcess() throws {
        // Past the 1,000-page checkpoint threshold: ~1,500 pages.
        let line = "echo " + String(repeating: "x", count: 100) + "\n"
        let result = jobq(["add", "--stdin"], stdin: String(repeating: line, count: 30_000))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdoutLines.count == 30_000)
        #expect(waitUntil(seconds: 30) { fileSize(home + "/jobq.db-wal") == nil }, "the log was not copied and removed")
        #expect(try #require(fileSize(home + "/jobq.db")) > 4_000_000)
        #expect(try jobCount(home: home) == 30_000)
    }

    /// Without a daemon, the copy of a long log goes to a detached `jobq copy-log` (not done by
    /// the caller), which copies the log into the database file and, the last connection, removes it.
    @Test func withoutADaemonTheLogCopyIsHandedToACopyLogProcess() throws {
        let home = Home(path: self.home)
        do {
            let store = try SQLiteStore(home: home)
            try store.leaveCheckpointToOthers()
            let line = "echo " + String(repeating: "x", count: 100) + "\n"
            let lines = WordList(lines: Array(String(repeating: line, count: 30_000).utf8))
            let template = JobSpec(payload: .command(["/bin/sh", "-c"]), cwd: "/", environment: [])
            _ = try store.insert(template, appendingToCommand: lines, now: 1)
            #expect(store.logIsDueForCheckpoint)
        }
        #expect(fileSize(self.home + "/jobq.db-wal") != nil)
        let outcome = LogCopyHandOff.leave(home: home, executable: JobQProcess.binary)
        guard case .helper(let pid) = outcome else {
            Issue.record("the copy was not handed to a helper: \(outcome)")
            return
        }
        #expect(waitForExit(pid) == 0)
        #expect(fileSize(self.home + "/jobq.db-wal") == nil)
        #expect(try #require(fileSize(self.home + "/jobq.db")) > 4_000_000)
        #expect(try jobCount(home: self.home) == 30_000)
    }

    /// 8 processes each running 250 `jobq add` at once: all 2,000 rows, no "database is locked".
    @Test func concurrentAddsAllLand() throws {
        let loops = runConcurrentAdds(home: home, processes: 8, each: 250, logDirectory: folder.path)
        for (index, loop) in loops.enumerated() {
            #expect(loop.exitCode == 0, "loop \(index)")
            #expect(loop.output.isEmpty, "loop \(index): \(loop.output)")
        }
        let status = jobq(["status", "--json"]).stdout
        #expect(status.contains("\"queued\": 2000"), "\(status)")
    }
}

/// Several processes opening a brand-new home at once: one creates it, the others wait and
/// then use it — nobody fails, nobody mistakes it for someone else's database.
@Suite struct FreshHomeTests {
    @Test func manyProcessesOpenANewHomeAtOnce() throws {
        for round in 0..<8 {
            let test = DaemonTestCase("fresh\(round)")
            // A daemon starting at the same moment as the others.
            test.daemon.launch(["--workers", "1"])
            var children: [(pid_t, String)] = []
            for index in 0..<6 {
                let log = test.folder.file("p\(index).log")
                let arguments = index % 2 == 0 ? ["status"] : ["add", "--", "true"]
                children.append((JobQProcess.spawn(
                    JobQProcess.binary, ["--home", test.home] + arguments, captureOutput: false, logPath: log).pid, log))
            }
            for (pid, log) in children {
                #expect(waitForExitOrKill(pid) == 0, "round \(round): \(readFile(log) ?? "")")
            }
            #expect(test.daemon.waitUntilStarted(), "round \(round): \(test.daemon.log)")
            test.daemon.signal(SIGTERM)
            #expect(test.daemon.waitForExit() == 0, "round \(round): the daemon failed: \(test.daemon.log)")
        }
    }
}
