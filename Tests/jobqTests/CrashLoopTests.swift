import Glibc
import JobStore
import Testing
import TestSupport

/// Fault injection: `kill -9` of the daemon or of workers at random moments — while task files
/// arrive, jobs are claimed, spawned and finished — over and over. Afterwards every job has
/// run at most once (as its own output shows), every job that is done ran exactly once, none
/// is stuck in `running`, none is missing, and the database is intact.
///
/// Sizes are kept so the suite stays within minutes; JOBQ_SOAK=N multiplies them.
@Suite struct CrashLoopTests {
    static let soak = Int(String(cString: getenv("JOBQ_SOAK") ?? strdup("1"))) ?? 1

    /// Each job appends its token to `out`.
    func addJob(_ test: DaemonTestCase, token: String) -> JobID? {
        let out = test.folder.file("out")
        let result = test.jobq(["add", "--name", token, "--", "/bin/sh", "-c", "echo \(token) >> \(out)"])
        return result.status == 0 ? JobID(parsing: String(result.stdout.dropLast())) : nil
    }

    func dropTaskFile(_ test: DaemonTestCase, token: String) {
        let out = test.folder.file("out")
        // Written beside the spool and moved in, as the README recommends.
        let staging = test.folder.write(".\(token).task", "#!/bin/sh\necho \(token) >> \(out)\n")
        rename(staging, test.home + "/spool/\(token).task")
    }

    func pause(_ random: inout SplitMix64, upTo milliseconds: UInt64) {
        usleep(UInt32(random.next() % (milliseconds * 1000)))  // wait-ok: a random moment to inject the fault
    }

    /// Checks the promise once the queue has drained.
    func checkOutcome(_ test: DaemonTestCase, tokens: Set<String>) throws {
        let store = try test.store()
        let jobs = try store.jobs(state: nil, limit: nil)
        let counts = Dictionary(test.lines("out").map { ($0, 1) }, uniquingKeysWith: +)
        #expect(try store.runningJobs().isEmpty, "jobs stuck in running")
        #expect(Set(jobs.compactMap(\.name).map { $0.hasSuffix(".task") ? String($0.dropLast(5)) : $0 }) == tokens,
                "jobs missing or extra")
        for job in jobs {
            let token = job.name.map { $0.hasSuffix(".task") ? String($0.dropLast(5)) : $0 } ?? "?"
            let runs = counts[token] ?? 0
            #expect(runs <= 1, "\(token) ran \(runs) times (\(job.state), \(String(describing: job.reason)))")
            if job.state == .done { #expect(runs == 1, "\(token) is done but ran \(runs) times") }
            #expect(job.state == .done || job.reason == .lost, "\(token) ended \(job.state) \(String(describing: job.reason)): \(job.error ?? "")")
        }
        #expect(try store.database.text("PRAGMA integrity_check") == "ok")
        #expect(SpoolIngestorEntries.pending(test.home + "/spool").isEmpty, "task files left in the spool")
    }

    /// Starts a daemon and waits until everything queued has ended.
    func drain(_ test: DaemonTestCase) throws {
        try #require(test.daemon.start(["--workers", "2"]))
        let store = try test.store()
        try #require(try waitUntil(seconds: 120) {
            let counts = try store.counts()
            return counts[.queued] == 0 && counts[.running] == 0
                && SpoolIngestorEntries.pending(test.home + "/spool").isEmpty
        }, "log:\n\(test.daemon.log.suffix(3000))")
    }

    @Test func killingTheDaemonAtRandomLosesNothing() throws {
        let test = DaemonTestCase("crashloop")
        var random = SplitMix64(seed: 0xC0FFEE)
        var tokens = Set<String>()
        for round in 0..<(30 * Self.soak) {
            // Some jobs while no daemon runs (direct inserts), some while it does (socket), and
            // task files arriving at any time.
            for index in 0..<3 {
                let token = "a\(round)x\(index)"
                if addJob(test, token: token) != nil { tokens.insert(token) }
            }
            try #require(test.daemon.start(["--workers", "2"]))
            for index in 0..<3 {
                let token = "s\(round)x\(index)"
                dropTaskFile(test, token: token)
                tokens.insert(token)
                if let _ = addJob(test, token: "b\(round)x\(index)") { tokens.insert("b\(round)x\(index)") }
                pause(&random, upTo: 15)
            }
            pause(&random, upTo: 40)
            test.daemon.kill9()
        }
        try drain(test)
        try checkOutcome(test, tokens: tokens)
    }

    @Test func killingWorkersAtRandomLosesNothing() throws {
        let test = DaemonTestCase("workerkill")
        var random = SplitMix64(seed: 0xBADC0DE)
        var tokens = Set<String>()
        try #require(test.daemon.start(["--workers", "2"]))
        for round in 0..<(25 * Self.soak) {
            for index in 0..<4 {
                let token = "w\(round)x\(index)"
                if addJob(test, token: token) != nil { tokens.insert(token) }
            }
            pause(&random, upTo: 30)
            let workers = test.daemon.workerPIDs()
            if !workers.isEmpty { kill(workers[Int(random.next() % UInt64(workers.count))], SIGKILL) }
        }
        let store = try test.store()
        try #require(try waitUntil(seconds: 120) {
            let counts = try store.counts()
            return counts[.queued] == 0 && counts[.running] == 0
        }, "log:\n\(test.daemon.log.suffix(3000))")
        try checkOutcome(test, tokens: tokens)
    }
}

/// The task files still waiting in a spool (or half-ingested in its staging folder).
enum SpoolIngestorEntries {
    static func pending(_ spool: String) -> [String] {
        DirectoryListing.names(in: spool).filter { $0.hasSuffix(".task") && !$0.hasPrefix(".") }
            + DirectoryListing.names(in: spool + "/.ingest")
    }
}

/// Many writers and readers at once while the daemon runs jobs: no "database is locked", no
/// lost row, and every read is whole.
@Suite struct ConcurrentUseTests {
    @Test func addersAndReadersAtOnce() throws {
        let test = DaemonTestCase("concurrent")
        try #require(test.daemon.start(["--workers", "2"]))
        let adder = """
            i=0
            while [ $i -lt 40 ]; do
                "$JOBQ" --home "$H" add -- true >/dev/null || echo "add failed" >&2
                i=$((i + 1))
            done
            """
        let reader = """
            i=0
            while [ $i -lt 25 ]; do
                "$JOBQ" --home "$H" list --json > "$OUT.$i" || echo "list failed" >&2
                "$JOBQ" --home "$H" errors --json >/dev/null || echo "errors failed" >&2
                "$JOBQ" --home "$H" status --json >/dev/null || echo "status failed" >&2
                i=$((i + 1))
            done
            """
        var children: [(pid_t, String)] = []
        for index in 0..<8 {
            let log = test.folder.file("adder\(index).log")
            children.append((JobQProcess.spawn("/bin/sh", ["-c", adder], environment: ["JOBQ": JobQProcess.binary, "H": test.home],
                                               captureOutput: false, logPath: log).pid, log))
        }
        for index in 0..<2 {
            let log = test.folder.file("reader\(index).log")
            children.append((JobQProcess.spawn(
                "/bin/sh", ["-c", reader],
                environment: ["JOBQ": JobQProcess.binary, "H": test.home, "OUT": test.folder.file("read\(index)")],
                captureOutput: false, logPath: log).pid, log))
        }
        for (pid, log) in children {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            #expect(status == 0)
            #expect((readFile(log) ?? "").isEmpty, "\(log): \(readFile(log) ?? "")")
        }
        // Every read is a whole JSON array of whole jobs.
        for index in 0..<2 {
            for round in 0..<25 {
                let text = readFile(test.folder.file("read\(index).\(round)")) ?? ""
                #expect(text.hasPrefix("[") && text.hasSuffix("]\n"), "read \(index).\(round) is not whole")
                #expect(text.components("\"id\":").count == text.components("\"state\":").count)
            }
        }
        let store = try test.store()
        try #require(try waitUntil(seconds: 60) { try store.counts()[.done] == 320 }, "\(String(describing: try? store.counts()))")
        #expect(try store.jobs(state: nil, limit: nil).count == 320)
        #expect(!test.daemon.log.contains("locked"))
    }
}
