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
    static let soak = getenv("JOBQ_SOAK").flatMap { Int(String(cString: $0)) } ?? 1

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
        let microseconds = UInt32.random(in: 0..<UInt32(milliseconds * 1000), using: &random)
        usleep(microseconds)  // wait-ok: a random moment to inject the fault
    }

    /// Checks the promise once the queue has drained.
    func checkOutcome(_ test: DaemonTestCase, tokens: Set<String>) throws {
        let store = try test.store()
        let jobs = try store.jobs(state: nil, limit: nil)
        let counts = Dictionary(test.lines("out").map { ($0, 1) }, uniquingKeysWith: +)
        // A job is named after its token, or after its task file, TOKEN.task.
        func token(_ name: String) -> String { name.hasSuffix(".task") ? String(name.dropLast(5)) : name }
        #expect(try store.runningJobs().isEmpty, "jobs stuck in running")
        #expect(Set(jobs.compactMap(\.name).map(token)) == tokens, "jobs missing or extra")
        for job in jobs {
            let token = job.name.map(token) ?? "?"
            let runs = counts[token] ?? 0
            #expect(runs <= 1, "\(token) ran \(runs) times (\(job.state), \(String(describing: job.reason)))")
            if job.state == .done { #expect(runs == 1, "\(token) is done but ran \(runs) times") }
            #expect(job.state == .done || job.reason == .lost, "\(token) ended \(job.state) \(String(describing: job.reason)): \(job.error ?? "")")
        }
        #expect(try store.database.text("PRAGMA integrity_check") == "ok")
        #expect(SpoolIngestorEntries.pending(test.home + "/spool").isEmpty, "task files left in the spool")
    }

    /// Waits until nothing is queued, running or left in the spool.
    func waitUntilDrained(_ test: DaemonTestCase) throws {
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
        // A daemon to run what the last one left.
        try #require(test.daemon.start(["--workers", "2"]))
        try waitUntilDrained(test)
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
            if let worker = workers.randomElement(using: &random) { kill(worker, SIGKILL) }
        }
        try waitUntilDrained(test)
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
        let reader = """
            i=0
            while [ $i -lt 25 ]; do
                "$JOBQ" --home "$H" list --json > "$OUT.$i" || echo "list failed" >&2
                "$JOBQ" --home "$H" errors --json >/dev/null || echo "errors failed" >&2
                "$JOBQ" --home "$H" status --json >/dev/null || echo "status failed" >&2
                i=$((i + 1))
            done
            """
        // The readers start first and read while the adders run.
        let readers = (0..<2).map { index in
            let log = test.folder.file("reader\(index).log")
            let child = JobQProcess.spawn(
                "/bin/sh", ["-c", reader],
                environment: ["JOBQ": JobQProcess.binary, "H": test.home, "OUT": test.folder.file("read\(index)")],
                captureOutput: false, logPath: log)
            return (pid: child.pid, log: log)
        }
        let adders = runConcurrentAdds(home: test.home, processes: 8, each: 40, logDirectory: test.folder.path)
        for (index, adder) in adders.enumerated() {
            #expect(adder.exitCode == 0, "adder \(index)")
            #expect(adder.output.isEmpty, "adder \(index): \(adder.output)")
        }
        for reader in readers {
            #expect(waitForExitOrKill(reader.pid, seconds: 120) == 0)
            #expect((readFile(reader.log) ?? "").isEmpty, "\(reader.log): \(readFile(reader.log) ?? "")")
        }
        // Every read is a whole JSON array of whole jobs.
        for index in 0..<2 {
            for round in 0..<25 {
                let text = readFile(test.folder.file("read\(index).\(round)")) ?? ""
                #expect(text.hasPrefix("[") && text.hasSuffix("]\n"), "read \(index).\(round) is not whole")
                #expect(text.ranges(of: "\"id\":").count == text.ranges(of: "\"state\":").count)
            }
        }
        let store = try test.store()
        try #require(try waitUntil(seconds: 60) { try store.counts()[.done] == 320 }, "\(String(describing: try? store.counts()))")
        #expect(try jobCount(home: test.home) == 320)
        #expect(!test.daemon.log.contains("locked"))
    }
}
