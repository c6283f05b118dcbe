import Glibc
import JobStore
import Testing
import TestSupport

/// The built `jobq` binary, run as a user would: output, `--json` shape, exit codes.
@Suite struct CLITests {
    let folder = TemporaryDirectory("cli")
    var home: String { folder.file("home") }

    func jobq(_ arguments: String..., stdin: String = "", cwd: String? = nil) -> ProcessResult {
        JobQProcess.run(arguments, home: home, stdin: stdin, cwd: cwd)
    }

    @Test func addPrintsTheNewIdAndListShowsIt() throws {
        let added = jobq("add", "--", "echo", "hello world")
        #expect(added.status == 0)
        #expect(added.stdout == "1\n")
        #expect(added.stderr.isEmpty)
        let listed = jobq("list")
        #expect(listed.status == 0)
        let lines = listed.stdoutLines
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("ID"))
        #expect(lines[1].hasPrefix("1 "))
        #expect(lines[1].contains("queued"))
        #expect(lines[1].contains("echo 'hello world'"))
    }

    /// Columns padded to their widest cell (a name counted in characters, a priority with its
    /// sign), unnamed jobs as `#ID`, commands quoted as a shell reads them back.
    @Test func listAlignsItsColumns() throws {
        #expect(jobq("add", "--priority", "12", "--", "true").status == 0)
        #expect(jobq("add", "--", "sh", "-c", "it's").status == 0)
        #expect(jobq("add", "--name", "näme", "--priority", "-1000", "--", "printf", "").status == 0)
        let lines = jobq("list").stdoutLines.map { line in
            // The enqueue time is local and changes: the same placeholder for every row.
            String(line.replacing(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, with: "YYYY-MM-DD hh:mm:ss"))
        }
        #expect(lines == [
            "ID  STATE   NAME  PRI    RESULT  ENQUEUED             RUNTIME  COMMAND",
            "3   queued  näme  -1000          YYYY-MM-DD hh:mm:ss           printf ''",
            "2   queued  #2    0              YYYY-MM-DD hh:mm:ss           sh -c 'it'\\''s'",
            "1   queued  #1    12             YYYY-MM-DD hh:mm:ss           true",
        ])
    }

    @Test func addCapturesCwdAndEnvironment() throws {
        let result = JobQProcess.run(
            ["add", "--env", "EXTRA=1", "--", "pwd"], home: home, environment: ["CAPTURED": "yes"], cwd: folder.path)
        #expect(result.status == 0)
        let show = jobq("show", "1", "--json")
        #expect(show.status == 0)
        #expect(show.stdout.contains("\"cwd\": \"\(folder.path)\""))
        #expect(show.stdout.contains("\"CAPTURED=yes\""))
        #expect(show.stdout.contains("\"EXTRA=1\""))
    }

    @Test func listJSONHasAStableShape() throws {
        _ = jobq("add", "--name", "build", "--priority", "3", "--", "make", "-j4")
        let result = jobq("list", "--json")
        #expect(result.status == 0)
        for key in [
            "\"id\": 1", "\"name\": \"build\"", "\"state\": \"queued\"", "\"reason\": null", "\"priority\": 3",
            "\"kind\": \"command\"", "\"command\": [", "\"attempt\": 0", "\"enqueued_at\": \"", "\"exit_code\": null",
            "\"signal\": null", "\"stdout_path\": null",
        ] {
            #expect(result.stdout.contains(key), "missing \(key) in \(result.stdout)")
        }
        #expect(result.stdout.hasPrefix("["))
    }

    /// `list --json` of a long history is written as it is read: every job once, newest first,
    /// with its --after list wherever it falls in the stream — and the command never holds the
    /// whole output (holding it all, the old way, took 150 MB for 50,000 jobs).
    @Test func aLongJSONListIsStreamed() throws {
        let count = 10_000
        #expect(jobq("add", "--", "true").status == 0)
        #expect(jobq("add", "--after", "1", "--", "true").status == 0)
        let lines = (1...count).map { "echo job-\($0) 'with words'" }.joined(separator: "\n") + "\n"
        #expect(jobq("add", "--stdin", stdin: lines).status == 0)
        #expect(jobq("add", "--after", "2", "--after", "1", "--", "true").status == 0)
        let total = count + 3

        let listed = jobq("list", "--json")
        #expect(listed.status == 0)
        let ids = listed.stdoutLines.filter { $0.hasPrefix("    \"id\": ") }.map { $0.dropFirst(10).dropLast() }
        #expect(ids == (1...total).reversed().map { Substring(String($0)) })
        #expect(listed.stdout.hasPrefix("[\n  {\n    \"id\": \(total),") && listed.stdout.hasSuffix("\n  }\n]\n"))
        // The --after lists of the newest job (first batch) and of job 2 (last batch).
        let newest = listed.stdout.prefix(2_000)
        #expect(newest.contains("\"after\": [\n      1,\n      2\n    ],"))
        #expect(listed.stdout.suffix(4_000).contains("\"id\": 2,") && listed.stdout.suffix(4_000).contains("\"after\": [\n      1\n    ],"))

        // Where a command that holds its whole output would hold 5 times more for the whole list
        // than for --limit 2000, a streaming one holds the same when its first 64 KiB are out.
        var whole = 0
        var part = 0
        try whileTheOutputFillsAPipe(["list", "--json"]) { whole = try peakMemory(of: $0) }
        try whileTheOutputFillsAPipe(["list", "--json", "--limit", "2000"]) { part = try peakMemory(of: $0) }
        #expect(whole - part < 4_096, "\(whole) KiB against \(part) KiB with --limit 2000")

        // A listing whose reader has stopped holds no read open: the write-ahead log can be
        // copied into the database file past it, up to a job added meanwhile.
        try whileTheOutputFillsAPipe(["list", "--json"]) { _ in
            let store = try SQLiteStore(home: Home(path: home))
            _ = try store.insert([JobSpec(payload: .command(["true"]), cwd: "/", environment: [])], now: 1)
            let (frames, copied) = try store.checkpointLog()
            #expect(frames > 0 && copied == frames, "copied \(copied) of \(frames) frames")
        }
    }

    /// Runs `jobq ARGS` with its stdout into a pipe that is not read until it is full (64 KiB),
    /// calls `whileBlocked` with its PID then, and lets it finish.
    func whileTheOutputFillsAPipe(_ arguments: [String], _ whileBlocked: (pid_t) throws -> Void) throws {
        let child = JobQProcess.spawn(JobQProcess.binary, ["--home", home] + arguments, captureOutput: true)
        close(child.stdin)
        var unread: Int32 = 0
        let full = waitUntil { ioctl(child.stdout, UInt(FIONREAD), &unread) == 0 && unread >= 1 << 16 }
        defer {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            for fd in [child.stdout, child.stderr] {
                while read(fd, &buffer, buffer.count) > 0 {}
                close(fd)
            }
            #expect(waitForExit(child.pid) == 0)
        }
        try #require(full, "the output never filled the pipe")
        try whileBlocked(child.pid)
    }

    /// The most resident memory a running process has held (VmHWM), in KiB.
    func peakMemory(of pid: pid_t) throws -> Int {
        let status = readFile("/proc/\(pid)/status") ?? ""
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }

    /// A listing longer than the table's 64 KiB output block: every job once, newest first, every
    /// line laid out alike.
    @Test func aLongListIsWrittenWhole() throws {
        let count = 2_500
        let lines = (1...count).map { "echo job-\($0) 'with words'" }.joined(separator: "\n") + "\n"
        #expect(jobq("add", "--stdin", stdin: lines).status == 0)
        let listed = jobq("list")
        #expect(listed.status == 0)
        let rows = listed.stdoutLines.dropFirst()
        #expect(listed.stdout.utf8.count > 1 << 17)
        #expect(rows.count == count)
        let ids: [String] = rows.map { row in row.split(separator: " ").first.map { String($0) } ?? "" }
        let expected: [String] = (1...count).reversed().map { String($0) }
        #expect(ids == expected)
        func column(_ text: String, in line: String) -> Int? {
            line.firstRange(of: text).map { line.distance(from: line.startIndex, to: $0.lowerBound) }
        }
        let commandColumn = try #require(column("COMMAND", in: listed.stdoutLines[0]))
        for (offset, row) in rows.enumerated() {
            #expect(column("/bin/sh -c", in: row) == commandColumn)
            #expect(row.hasSuffix("'echo job-\(count - offset) '\\''with words'\\'''"))
        }
    }

    /// `--version` alone is answered without the argument parser, as the parser answers it.
    @Test func versionIsPrinted() throws {
        let quick = JobQProcess.run(["--version"], home: nil)
        #expect(quick.status == 0 && quick.stderr.isEmpty)
        #expect(quick.stdout == "0.1.0\n")
        let parsed = jobq("--version")  // `--home DIR --version`: through the parser
        #expect(parsed.status == quick.status && parsed.stdout == quick.stdout)
    }

    /// Strings escaped as JSON needs (quotes, backslashes, control characters), other
    /// characters as they are; `--json` compact and pretty alike.
    @Test func jsonEscapesWhatItMust() throws {
        #expect(jobq("add", "--", "echo", "a\"b\\c\nd\te\r\u{1}\u{1F}fé/").status == 0)
        let escaped = #""a\"b\\c\nd\te\r\u0001\u001ffé/""#
        let list = jobq("list", "--json").stdout
        #expect(list.contains("\"command\": [\n      \"echo\",\n      \(escaped)\n    ]"), "\(list)")
        let show = jobq("show", "1", "--json").stdout
        #expect(show.contains(escaped), "\(show)")
        #expect(jobq("add", "--json", "--", "true").stdout == "{\"ids\":[2]}\n")
    }

    @Test func listJSONShowsDependencies() throws {
        _ = jobq("add", "--", "true")
        _ = jobq("add", "--after", "1", "--", "true")
        let list = jobq("list", "--json").stdout
        #expect(list.contains("\"after\": [\n      1\n    ]"), "\(list)")
    }

    @Test func listFiltersAndLimits() throws {
        for index in 1...5 { _ = jobq("add", "--", "echo", String(index)) }
        let limited = jobq("list", "--limit", "2")
        #expect(limited.stdoutLines.count == 3)
        #expect(limited.stdoutLines[1].hasPrefix("5 "))
        #expect(jobq("list", "--state", "failed").stdoutLines.count == 1)
        #expect(jobq("list", "--state", "queued").stdoutLines.count == 6)
        let bad = jobq("list", "--state", "paused")
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("paused"))
        #expect(jobq("list", "--limit", "0").status == 64)
    }

    @Test func statusCountsPerState() throws {
        _ = jobq("add", "--", "true")
        _ = jobq("add", "--", "true")
        let status = jobq("status", "--json")
        #expect(status.status == 0)
        #expect(status.stdout.contains("\"queued\": 2"))
        #expect(status.stdout.contains("\"failed\": 0"))
        let text = jobq("status")
        #expect(text.stdout.contains("queued"))
    }

    @Test func showDescribesOneJob() throws {
        _ = jobq("add", "--name", "nightly", "--", "backup.sh", "--full")
        let show = jobq("show", "1")
        #expect(show.status == 0)
        #expect(show.stdout.contains("job 1 nightly"))
        #expect(show.stdout.contains("backup.sh --full"))
        #expect(jobq("show", "#1").status == 0)
    }

    /// Adds `count` jobs, then ends job 1 done and job 2 failed (exit 1), as a worker would.
    func addJobsAndEndTheFirstTwo(_ count: Int) throws {
        for _ in 0..<count { try #require(jobq("add", "--", "true").status == 0) }
        let store = try SQLiteStore(path: home + "/jobq.db", create: false)
        let claim = ClaimRequest(limit: 2, worker: 0, maxRunning: nil, logDirectory: home + "/logs")
        try #require(try store.claim(claim, now: WallClock.now()).map(\.id) == [JobID(1), JobID(2)])
        try #require(try store.finish(JobID(1), attempt: 1, end: .finished(.exited(0)), now: WallClock.now()) == .done)
        try #require(
            try store.finish(JobID(2), attempt: 1, end: .finished(.exited(1)), now: WallClock.now()) == .failed(.exit))
    }

    func listedIDs() -> [Int] {
        jobq("list", "--json").stdout.split(separator: "\n").compactMap { line in
            line.hasPrefix("    \"id\": ") ? Int(line.dropFirst(10).dropLast()) : nil
        }
    }

    @Test func cleanRemovesFinishedJobsOnly() throws {
        try addJobsAndEndTheFirstTwo(4)
        let tooYoung = jobq("clean", "--older-than", "1h")
        #expect(tooYoung.status == 0)
        #expect(tooYoung.stdout == "removed 0 finished jobs\n")
        #expect(listedIDs() == [4, 3, 2, 1])
        let clean = jobq("clean")
        #expect(clean.status == 0)
        #expect(clean.stdout == "removed 2 finished jobs\n")
        // The done and the failed job are gone; the queued ones stay.
        #expect(listedIDs() == [4, 3])
        #expect(jobq("clean", "--older-than", "soon").status == 64)
    }

    @Test func errorsListsFailedJobsOnly() throws {
        try addJobsAndEndTheFirstTwo(3)
        let errors = jobq("errors", "--json")
        #expect(errors.status == 0)
        // Job 2 failed; job 1 is done and job 3 queued.
        #expect(errors.stdout.contains("\"id\": 2,"), "\(errors.stdout)")
        #expect(!errors.stdout.contains("\"id\": 1,") && !errors.stdout.contains("\"id\": 3,"), "\(errors.stdout)")
        #expect(errors.stdout.contains("\"exit_code\": 1,"))
        let text = jobq("errors").stdoutLines
        #expect(text.count == 2 && text[1].hasPrefix("2 "), "\(text)")
    }

    // MARK: Bad input: a clear one-line error, the right exit code, nothing changed.

    @Test func unknownIdIsAnError() throws {
        _ = jobq("add", "--", "true")
        let result = jobq("show", "42")
        #expect(result.status == 1)
        #expect(result.stderr == "jobq: there is no job 42; `jobq list` shows the jobs there are\n")
        #expect(jobq("show", "abc").status == 64)
    }

    @Test func unknownFlagIsUsageError() throws {
        let result = jobq("add", "--frobnicate", "--", "true")
        #expect(result.status == 64)
        #expect(result.stderr.contains("--frobnicate"))
        #expect(jobq("list", "--json").stdout == "[]\n")
    }

    /// The fast path for `add` and `list` treats a flag-looking value as the parser does.
    @Test func aMissingValueIsAUsageErrorOnTheFastPathToo() throws {
        let list = JobQProcess.run(["list", "--home", "--json"], home: nil, cwd: folder.path)
        #expect(list.status == 64, "\(list.stderr)")
        #expect(access(folder.file("--json"), F_OK) != 0)
        #expect(jobq("list", "--limit", "-1").status == 64)
        #expect(jobq("add", "--priority", "-3", "--", "true").status == 0)
    }

    @Test func missingCommandIsUsageError() throws {
        let result = jobq("add")
        #expect(result.status == 64)
        #expect(result.stderr.contains("nothing to add"))
        let dashOnly = jobq("add", "--")
        #expect(dashOnly.status == 64)
        let words = jobq("add", "echo", "hi")
        #expect(words.status == 64)
        #expect(words.stderr.contains("jobq add -- echo hi"))
    }

    @Test func databaseThatIsNotSQLiteIsRefusedAndKept() throws {
        mkdir(home, 0o700)
        let garbage = String(repeating: "not a database at all\n", count: 300)
        folder.write("home/jobq.db", garbage)
        let result = jobq("add", "--", "true")
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("jobq: "))
        #expect(result.stderr.contains("is not a jobq database"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(readFile(folder.file("home/jobq.db")) == garbage)
        #expect(jobq("list").status == 1)
    }

    @Test func homeThatCannotBeCreatedIsAnError() throws {
        let result = JobQProcess.run(["add", "--", "true"], home: "/proc/jobq-cannot-be-here")
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("jobq: cannot open /proc/jobq-cannot-be-here"))
    }

    // MARK: Home rules

    @Test func homeIsCreatedPrivate() throws {
        _ = jobq("add", "--", "true")
        var info = stat()
        #expect(stat(home, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        #expect(stat(home + "/jobq.db", &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        for file in ["jobq.db-wal", "jobq.db-shm"] where stat(home + "/" + file, &info) == 0 {
            #expect(info.st_mode & 0o777 == 0o600, "\(file) is \(String(info.st_mode & 0o777, radix: 8))")
        }
    }

    @Test func homeComesFromJOBQ_HOMEThenXDGStateHome() throws {
        let viaEnv = JobQProcess.run(["add", "--", "true"], home: nil, environment: ["JOBQ_HOME": folder.file("env")])
        #expect(viaEnv.status == 0)
        #expect(access(folder.file("env/jobq.db"), F_OK) == 0)
        let viaXDG = JobQProcess.run(
            ["add", "--", "true"], home: nil, environment: ["JOBQ_HOME": "", "XDG_STATE_HOME": folder.file("xdg")])
        #expect(viaXDG.status == 0)
        #expect(access(folder.file("xdg/jobq/jobq.db"), F_OK) == 0)
        let viaHome = JobQProcess.run(
            ["status", "--json"], home: nil,
            environment: ["JOBQ_HOME": "", "XDG_STATE_HOME": "", "HOME": folder.file("user")])
        #expect(viaHome.status == 0)
        #expect(viaHome.stdout.contains(folder.file("user/.local/state/jobq")))
        // --home wins over the environment, before or after the subcommand.
        let explicit = JobQProcess.run(
            ["--home", folder.file("explicit"), "add", "--", "true"], home: nil,
            environment: ["JOBQ_HOME": folder.file("env")])
        #expect(explicit.status == 0)
        #expect(access(folder.file("explicit/jobq.db"), F_OK) == 0)
    }

    @Test func everyCommandHasHelpWithAnExample() throws {
        for command in ["add", "daemon", "list", "errors", "show", "log", "cancel", "retry", "wait", "clean", "status", "stop"] {
            let help = JobQProcess.run([command, "--help"], home: nil)
            #expect(help.status == 0, "\(command) --help")
            #expect(help.stdout.contains("Example"), "\(command) --help has no example")
            #expect(help.stdout.contains("jobq \(command)"), "\(command) --help")
        }
    }
}

/// A damaged database: one line, a non-zero exit, no crash, and the file left as it was.
@Suite struct DamagedDatabaseTests {
    @Test(arguments: ["truncated", "overwritten"])
    func aDamagedDatabaseIsReportedAndKept(damage: String) throws {
        let folder = TemporaryDirectory("damaged")
        let home = folder.file("home")
        let added = JobQProcess.run(["add", "--stdin"], home: home, stdin: String(repeating: "echo a long enough line to fill pages\n", count: 3000))
        try #require(added.status == 0)
        let path = home + "/jobq.db"
        // Fold the WAL into the database, then damage the file.
        do {
            let db = try Database(path: path)
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        var info = stat()
        try #require(stat(path, &info) == 0 && info.st_size > 100_000)
        let fd = open(path, O_WRONLY)
        if damage == "truncated" {
            ftruncate(fd, info.st_size / 2)
        } else {
            let junk = [UInt8](repeating: 0xA5, count: 8192)
            _ = junk.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 40_960) }
        }
        close(fd)
        unlink(path + "-wal")
        unlink(path + "-shm")
        let before = readFile(path)
        for arguments in [["list"], ["errors"], ["add", "--", "true"], ["status"], ["show", "2999"]] {
            let result = JobQProcess.run(arguments, home: home)
            // Reading pages the damage did not touch may still work; what must never happen is a
            // crash, a multi-line error, or a changed file.
            #expect(result.status == 0 || result.status == 1, "\(arguments): status \(result.status)")
            #expect(result.status < 128, "\(arguments) crashed")
            if result.status == 1 {
                #expect(result.stderr.hasPrefix("jobq: "), "\(arguments): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            }
        }
        let list = JobQProcess.run(["list"], home: home)
        #expect(list.status == 1)
        #expect(list.stderr.contains("damaged") || list.stderr.contains("not a jobq database"), "\(list.stderr)")
        #expect(readFile(path) == before, "the damaged database was changed")
    }
}
