import Glibc
import JobStore
import Testing
import TestSupport

/// Where a job's output goes, and how `log` and `errors` show it.
@Suite struct OutputTests {
    @Test func outputGoesToTheAttemptsLogFilesOnlyWhenThereIsSome() throws {
        let test = DaemonTestCase("output")
        try #require(test.daemon.start(["--workers", "1"]))
        let quiet = try test.add(["--", "true"])
        let loud = try test.addShell("echo to-out; echo to-err >&2")
        let onlyErr = try test.addShell("echo just-err >&2")
        for id in [quiet, loud, onlyErr] { try test.waitFor(id, .done) }
        let logs = test.home + "/logs/"
        #expect(access(logs + "\(quiet).1.out", F_OK) != 0)
        #expect(readFile(logs + "\(loud).1.out") == "to-out\n")
        #expect(readFile(logs + "\(loud).1.err") == "to-err\n")
        #expect(access(logs + "\(onlyErr).1.out", F_OK) != 0)
        #expect(readFile(logs + "\(onlyErr).1.err") == "just-err\n")
        #expect(test.jobq(["log", "\(quiet)"]).stdout == "")
        #expect(test.jobq(["log", "\(quiet)"]).status == 0)
        var info = stat()
        #expect(stat(logs + "\(loud).1.out", &info) == 0 && info.st_mode & 0o777 == 0o600)
    }

    /// A grandchild that outlives its job and keeps writing never writes into the next job's log.
    @Test func leftoverWritersDoNotLeakIntoTheNextJobsLog() throws {
        let test = DaemonTestCase("leak")
        try #require(test.daemon.start(["--workers", "1"]))
        let go = test.folder.file("go")
        // Prints nothing itself, leaves a background writer that prints once `go` exists.
        let first = try test.addShell("(while [ ! -f \(go) ]; do sleep 0.05; done; echo late) & exit 0")
        try test.waitFor(first, .done)
        let second = try test.addShell("echo second")
        try test.waitFor(second, .done)
        _ = test.folder.write("go", "")
        // The late line belongs to the first job, whose log it lands in...
        #expect(waitUntil { test.jobq(["log", "\(first)"]).stdout == "late\n" })
        // ...and, now that it has been written, it is not in the second job's log.
        #expect(test.jobq(["log", "\(second)"]).stdout == "second\n")
    }

    @Test func logFollowStreamsUntilTheJobEnds() throws {
        let test = DaemonTestCase("follow")
        try #require(test.daemon.start(["--workers", "1"]))
        let go = test.folder.file("go")
        let id = try test.addShell("echo one; while [ ! -f \(go) ]; do sleep 0.05; done; echo two")
        let follower = JobQProcess.spawn(
            JobQProcess.binary, ["--home", test.home, "log", "\(id)", "--follow"], captureOutput: false,
            logPath: test.folder.file("followed"))
        try test.waitFor(id, .running)
        try #require(waitUntil { readFile(test.folder.file("followed")) == "one\n" })
        _ = test.folder.write("go", "")
        #expect(waitForExitOrKill(follower.pid) == 0)
        #expect(readFile(test.folder.file("followed")) == "one\ntwo\n")
    }

    @Test func errorsShowTheLastLinesOfStderr() throws {
        let test = DaemonTestCase("errtail")
        try #require(test.daemon.start(["--workers", "1"]))
        let id = try test.addShell("for i in 1 2 3 4 5; do echo line$i >&2; done; exit 4")
        try test.waitFor(id)
        let errors = test.jobq(["errors"]).stdout
        #expect(errors.contains("    | line3\n    | line4\n    | line5\n"))
        #expect(!errors.contains("line2"))
        let json = test.jobq(["errors", "--json", "--lines", "2"]).stdout
        #expect(json.contains("\"stderr_tail\": [\n      \"line4\",\n      \"line5\"\n    ]"))
    }
}
