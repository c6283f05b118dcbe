import Glibc
import Testing
import TestSupport

@testable import JobStore

@Suite struct StoreTests {
    let folder = TemporaryDirectory("store")

    func makeStore() throws -> SQLiteStore { try SQLiteStore(path: folder.file("jobq.db")) }

    @Test func insertedJobReadsBackWhole() throws {
        let store = try makeStore()
        let spec = JobSpec(
            name: "build", priority: 5, payload: .command(["make", "-j4", "a b", ""]), cwd: "/src",
            environment: ["A=1", "B=two words"], timeoutMilliseconds: 600_000, maxRetries: 2, runAfter: 77,
            source: nil)
        let id = try #require(try store.insert([spec], now: 1000).first)
        let job = try #require(try store.job(id))
        #expect(job.name == "build")
        #expect(job.priority == 5)
        #expect(job.state == .queued)
        #expect(job.reason == nil)
        #expect(job.payload == .command(["make", "-j4", "a b", ""]))
        #expect(job.cwd == "/src")
        #expect(job.environment == ["A=1", "B=two words"])
        #expect(job.timeoutMilliseconds == 600_000)
        #expect(job.maxRetries == 2)
        #expect(job.attempt == 0)
        #expect(job.runAfter == 77)
        #expect(job.enqueuedAt == 1000)
        #expect(job.startedAt == nil && job.finishedAt == nil && job.pid == nil)
        #expect(job.displayName == "build")
    }

    /// What a worker relies on: it opens the daemon's database and never makes a new, empty one
    /// (say, after its home was deleted under it).
    @Test func openingWithoutCreateNeverMakesADatabase() throws {
        let path = folder.file("jobq.db")
        #expect(throws: StoreError.self) { try SQLiteStore(path: path, create: false) }
        #expect(access(path, F_OK) != 0)
        _ = try makeStore()
        _ = try SQLiteStore(path: path, create: false)
    }

    @Test func scriptsAndMessagesRoundTrip() throws {
        let store = try makeStore()
        let ids = try store.insert([
            JobSpec(name: "1.task", payload: .message("I am the first task", seconds: 7), cwd: "/", environment: []),
            JobSpec(name: "s.task", payload: .script("#!/bin/sh\necho hi\n"), cwd: "/", environment: []),
        ], now: 1)
        #expect(try store.job(ids[0])?.payload == .message("I am the first task", seconds: 7))
        #expect(try store.job(ids[1])?.payload == .script("#!/bin/sh\necho hi\n"))
    }

    /// An environment is stored once however many jobs share it.
    @Test func environmentsAreStoredOnce() throws {
        let store = try makeStore()
        _ = try store.insert((0..<50).map { _ in TestJobs.command(["true"], environment: ["X=1"]) }, now: 1)
        _ = try store.insert([TestJobs.command(["true"], environment: ["X=1"])], now: 2)
        _ = try store.insert([TestJobs.command(["true"], environment: ["X=2"])], now: 3)
        #expect(try store.database.integer("SELECT count(*) FROM environments") == 2)
        #expect(try store.database.integer("SELECT count(*) FROM jobs") == 52)
    }

    @Test func listIsNewestFirstAndFiltersByState() throws {
        let store = try makeStore()
        let ids = try store.insert((0..<5).map { TestJobs.command(["job\($0)"]) }, now: 1)
        let all = try store.jobs(state: nil, limit: nil)
        #expect(all.map(\.id) == ids.reversed())
        #expect(try store.jobs(state: nil, limit: 2).map(\.id) == [ids[4], ids[3]])
        _ = try store.claim(TestJobs.claimRequest(limit: 2), now: 5)
        #expect(try store.jobs(state: .running, limit: nil).map(\.id) == [ids[1], ids[0]])
        #expect(try store.jobs(state: .queued, limit: nil).count == 3)
        let counts = try store.counts()
        #expect(counts[.queued] == 3 && counts[.running] == 2 && counts[.done] == 0 && counts[.failed] == 0)
    }

    /// All or none: one bad job in a batch leaves the store as it was.
    @Test func insertIsAllOrNothing() throws {
        let store = try makeStore()
        let error = #expect(throws: StoreError.self) {
            try store.insert([TestJobs.command(["a"]), TestJobs.command(["b"], after: [JobID(999)])], now: 1)
        }
        #expect(error?.description.contains("there is no job 999") == true)
        #expect(try store.jobs(state: nil, limit: nil).isEmpty)
    }

    /// `add --stdin`'s insert (shared values bound once, 64 rows a statement) makes the very
    /// rows that inserting each job on its own makes: same ids in line order, same columns,
    /// dependencies, across a partial last statement.
    @Test func bulkInsertMakesTheRowsOfOneByOneInserts() throws {
        let bulk = try makeStore()
        let single = try SQLiteStore(path: folder.file("single.db"))
        let dependency = try bulk.insert([TestJobs.command(["true"])], now: 1)[0]
        #expect(try single.insert([TestJobs.command(["true"])], now: 1) == [dependency])
        let template = JobSpec(
            name: "batch", priority: -2, payload: .command(["/bin/sh", "-c"]), cwd: "/data",
            environment: ["A=1", "B=two"], timeoutMilliseconds: 5_000, maxRetries: 3, after: [dependency],
            runAfter: 42)
        let lines = (0..<(2 * SQLiteStore.jobsPerInsert + 7)).map { "echo \($0) 'é' \"\"" } + [""]
        let ids = try bulk.insert(template, appendingToCommand: WordList(lines), now: 500)
        var oneByOne: [JobID] = []
        for line in lines {
            var spec = template
            spec.payload = .command(["/bin/sh", "-c", line])
            oneByOne += try single.insert([spec], now: 500)
        }
        #expect(ids == oneByOne)
        #expect(ids.count == lines.count && ids.first == JobID(2))
        for id in ids {
            #expect(try bulk.job(id) == single.job(id), "job \(id)")
        }
        #expect(try bulk.job(ids[5])?.payload == .command(["/bin/sh", "-c", lines[5]]))
        #expect(try bulk.job(ids.last!)?.after == [dependency])
        // Ordinary inserts go on after it with the next id.
        #expect(try bulk.insert([TestJobs.command(["x"])], now: 501) == [JobID(Int64(lines.count) + 2)])
    }

    /// A store that leaves its checkpoint to the daemon commits into the write-ahead log only:
    /// not after a commit that makes the log long (here: any, `wal_autocheckpoint = 1`), not when
    /// it closes; the jobs are there for every reader, and the next checkpoint copies them into
    /// the database file. The same insert without it is copied at once.
    @Test(arguments: [false, true])
    func aStoreCanLeaveItsCheckpointToTheDaemon(leaves: Bool) throws {
        let path = folder.file("jobq.db")
        let lines = WordList((0..<2_000).map { "echo a line long enough to fill some pages \($0)" })
        let sizeBefore: Int
        do {
            let store = try makeStore()
            try store.database.execute("PRAGMA wal_autocheckpoint = 1")
            sizeBefore = try #require(fileSize(path))
            if leaves { try store.leaveCheckpointToOthers() }
            _ = try store.insert(TestJobs.command(["/bin/sh", "-c"]), appendingToCommand: lines, now: 1)
            #expect(store.logIsDueForCheckpoint == leaves)
        }
        let grew = try #require(fileSize(path)) > sizeBefore + 100_000
        #expect(grew == !leaves)
        #expect((fileSize(path + "-wal") != nil) == leaves)
        let reader = try makeStore()
        #expect(try reader.counts()[.queued] == lines.count)
        try reader.checkpointLog()
        #expect(try #require(fileSize(path)) > sizeBefore + 100_000)
    }

    /// A log that stays short of SQLite's checkpoint threshold (1,000 pages) is not due: the
    /// daemon is not asked to copy a few pages after every `add --stdin`.
    @Test func aShortLogIsNotDueForCheckpoint() throws {
        let store = try makeStore()
        try store.leaveCheckpointToOthers()
        #expect(!store.logIsDueForCheckpoint)
        _ = try store.insert(TestJobs.command(["/bin/sh", "-c"]), appendingToCommand: WordList(["a", "b"]), now: 1)
        #expect(!store.logIsDueForCheckpoint)
    }

    /// The bulk insert checks the table's CHECK constraints on its first statement only (the
    /// other rows differ in argv alone): a template that breaks one adds nothing, and the
    /// connection checks every statement again afterwards, its cached ones too.
    @Test func bulkInsertIsCheckedAndLeavesTheChecksOn() throws {
        let store = try makeStore()
        _ = try store.insert([TestJobs.command(["true"])], now: 1)  // caches the one-job insert
        var broken = TestJobs.command(["/bin/sh", "-c"])
        broken.timeoutMilliseconds = 0  // CHECK (timeout_ms > 0)
        let lines = WordList((0..<(3 * SQLiteStore.jobsPerInsert)).map { "echo \($0)" })
        #expect(throws: StoreError.self) { try store.insert(broken, appendingToCommand: lines, now: 2) }
        #expect(try store.database.integer("SELECT count(*) FROM jobs") == 1)
        let ids = try store.insert(TestJobs.command(["/bin/sh", "-c"]), appendingToCommand: lines, now: 3)
        #expect(ids.count == lines.count)
        #expect(throws: StoreError.self) { try store.insert([broken], now: 4) }
        #expect(throws: SQLiteError.self) { try store.database.execute("UPDATE jobs SET state = 'lost' WHERE id = 1") }
        #expect(throws: StoreError.self) { try store.insert(broken, appendingToCommand: lines, now: 5) }
        #expect(try store.database.integer("SELECT count(*) FROM jobs") == Int64(lines.count) + 1)
    }

    /// A bulk insert that fails after its first statement, while the checks are off, adds
    /// nothing and leaves them on.
    @Test func aBulkInsertFailingUncheckedLeavesTheChecksOn() throws {
        let store = try makeStore()
        try store.database.execute("""
            CREATE TEMP TRIGGER refuse_row_100 BEFORE INSERT ON jobs
            WHEN instr(NEW.argv, x'6563686f20393900') > 0  -- "echo 99" and its NUL
            BEGIN SELECT RAISE(ABORT, 'row 100 refused'); END
            """)
        let lines = WordList((0..<(3 * SQLiteStore.jobsPerInsert)).map { "echo \($0)" })
        #expect(throws: StoreError.self) {
            try store.insert(TestJobs.command(["/bin/sh", "-c"]), appendingToCommand: lines, now: 1)
        }
        #expect(try store.database.integer("SELECT count(*) FROM jobs") == 0)
        var broken = TestJobs.command(["true"])
        broken.maxRetries = -1  // CHECK (max_retries >= 0)
        #expect(throws: StoreError.self) { try store.insert([broken], now: 2) }
        #expect(try store.database.integer("SELECT count(*) FROM jobs") == 0)
    }

    /// The bulk insert skips the CHECKs after its first statement because the only one that
    /// reads argv is its NOT NULL-ness: a new CHECK on argv must revisit `insert(_:appendingToCommand:)`.
    @Test func theOnlyCheckOnArgvIsThatCommandsHaveOne() throws {
        let store = try makeStore()
        let table = try #require(try store.database.text("SELECT sql FROM sqlite_schema WHERE name = 'jobs'"))
        let mentions = table.split(separator: "\n").map { String($0.drop { $0 == " " }) }
            .filter { $0.contains("argv") && !$0.hasPrefix("--") }
        #expect(mentions == ["argv        BLOB,", "CHECK ((kind = 'command') = (argv IS NOT NULL)),"])
    }

    @Test func bulkInsertAfterAFailedJobFailsThemAllAndAfterAnUnknownOneAddsNothing() throws {
        let store = try makeStore()
        let first = try store.insert([TestJobs.command(["false"])], now: 1)[0]
        let claimed = try store.claim(TestJobs.claimRequest(limit: 1), now: 2)
        _ = try store.finish(first, attempt: claimed[0].attempt, end: .finished(.exited(1)), now: 3)
        let after = TestJobs.command(["/bin/sh", "-c"], after: [first])
        let ids = try store.insert(after, appendingToCommand: WordList(["a", "b"]), now: 4)
        for id in ids {
            let job = try #require(try store.job(id))
            #expect(job.state == .failed && job.reason == .dependency && job.finishedAt == 4)
        }
        #expect(throws: StoreError.self) {
            let afterUnknown = TestJobs.command(["/bin/sh", "-c"], after: [JobID(999)])
            _ = try store.insert(afterUnknown, appendingToCommand: WordList(["c"]), now: 5)
        }
        #expect(try store.jobs(state: nil, limit: nil).count == 3)
    }

    @Test func jobAfterAFailedJobFailsAtOnce() throws {
        let store = try makeStore()
        let first = try store.insert([TestJobs.command(["false"])], now: 1)[0]
        let claimed = try store.claim(TestJobs.claimRequest(limit: 1), now: 2)
        #expect(try store.finish(first, attempt: claimed[0].attempt, end: .finished(.exited(1)), now: 3) == .failed(.exit))
        let second = try store.insert([TestJobs.command(["true"], after: [first])], now: 4)[0]
        let job = try #require(try store.job(second))
        #expect(job.state == .failed)
        #expect(job.reason == .dependency)
        #expect(job.after == [first])
    }

    @Test func invalidTaskFileIsRecordedOnceAsFailed() throws {
        let store = try makeStore()
        let invalid = InvalidTaskFile(
            name: "bad.task", source: "/spool/bad.task", sourceKey: "1:2:3:4", text: "", problem: "bad.task: is empty",
            cwd: "/spool")
        let id = try store.insertInvalid(invalid, now: 9)
        #expect(try store.insertInvalid(invalid, now: 10) == id)
        let job = try #require(try store.job(id))
        #expect(job.state == .failed && job.reason == .invalid && job.error == "bad.task: is empty")
        #expect(job.finishedAt == 9)
    }

    @Test func unknownJobIsNil() throws {
        #expect(try makeStore().job(JobID(12345)) == nil)
    }
}
