import Testing
import TestSupport

@testable import JobStore

/// running → done | failed | queued (retry), and failed → queued; every change guarded.
@Suite struct LifecycleTests {
    let folder = TemporaryDirectory("lifecycle")

    func makeStore() throws -> SQLiteStore { try SQLiteStore(path: folder.file("jobq.db")) }

    func runOne(_ store: SQLiteStore, _ spec: JobSpec) throws -> Job {
        _ = try store.insert([spec], now: 1)
        return try #require(try store.claim(TestJobs.claimRequest(limit: 1), now: 2).first)
    }

    /// The times a claim and a finish stamp are read with the write lock held: a time read
    /// before waiting for the lock could put two workers' start times out of claim order.
    @Test func claimsAndFinishesReadTheClockInsideTheirTransaction() throws {
        let store = try makeStore()
        var readsOutside = 0
        var time: Int64 = 10
        func clock() -> Int64 {
            if !store.database.isInTransaction { readsOutside += 1 }
            time += 1
            return time
        }
        let first = try runOne(store, TestJobs.command(["true"]))
        _ = try store.insert([TestJobs.command(["true"])], now: 1)
        let claimed = try #require(try store.claim(TestJobs.claimRequest(limit: 1), now: clock()).first)
        #expect(try store.finish(first.id, attempt: 1, end: .finished(.exited(0)), now: clock()) == .done)
        var step = SQLiteStore.SupervisorStep(reserver: 0, maxRunning: 2, logDirectory: "/tmp/logs")
        step.ends = [AttemptEnd(id: claimed.id, attempt: 1, end: .finished(.exited(0)))]
        #expect(try store.supervisorStep(step, now: clock()).finished == [.done])
        let added = try store.insertEach(
            [TestJobs.command(["true"])], assigning: [0], claim: TestJobs.claimRequest(limit: 1), now: clock())
        #expect(added.assigned == [0])
        #expect(readsOutside == 0)
        #expect(time == 14)
    }

    /// A supervisor woken by the daemon finds the job claimed for its free slot; its step
    /// writes without a flush (the caller sees to it).
    @Test func aWokenSupervisorFindsItsAssignedJobWithoutAFlush() throws {
        let store = try makeStore()
        let added = try store.insertEach(
            [TestJobs.command(["true"])], assigning: [1], claim: TestJobs.claimRequest(limit: 1), now: 1)
        #expect(added.assigned == [1])
        let id = try #require(try added.results.first?.get())
        let syncs = store.database.logSyncs
        var step = SQLiteStore.SupervisorStep(reserver: 0, maxRunning: 2, logDirectory: "/tmp/logs")
        step.freeSlots = [0, 1]
        let woken = try store.supervisorStep(step, now: 2)
        #expect(woken.started.map(\.slot) == [1] && woken.started.map(\.job.id) == [id])
        step.freeSlots = [0]
        step.ends = [AttemptEnd(id: id, attempt: 1, end: .finished(.exited(0)))]
        let ended = try store.supervisorStep(step, now: 3)
        #expect(ended.finished == [.done] && ended.started.isEmpty)
        #expect(store.database.logSyncs == syncs)
    }

    @Test func exitZeroIsDone() throws {
        let store = try makeStore()
        let job = try runOne(store, TestJobs.command(["true"]))
        #expect(try store.recordStart(of: job.id, attempt: 1, pid: 4242, pidStart: 99))
        #expect(try store.finish(job.id, attempt: 1, end: .finished(.exited(0)), now: 3) == .done)
        let done = try #require(try store.job(job.id))
        #expect(done.state == .done && done.reason == nil && done.exitCode == 0 && done.signal == nil)
        #expect(done.pid == 4242 && done.pidStart == 99 && done.finishedAt == 3)
    }

    @Test func failuresRecordWhy() throws {
        let cases: [(JobEnd, FailureReason, Int32?, Int32?)] = [
            (.finished(.exited(3)), .exit, 3, nil),
            (.finished(.signaled(9)), .signal, nil, 9),
            (.timedOut(.signaled(15)), .timeout, nil, 15),
            (.cancelled(.signaled(15)), .cancelled, nil, 15),
            (.spawnFailed("no such program: nope"), .spawn, nil, nil),
            (.lost("worker 0 vanished"), .lost, nil, nil),
        ]
        let store = try makeStore()
        for (end, reason, exitCode, signal) in cases {
            let job = try runOne(store, TestJobs.command(["x"]))
            #expect(try store.finish(job.id, attempt: 1, end: end, now: 3) == .failed(reason))
            let failed = try #require(try store.job(job.id))
            #expect(failed.state == .failed)
            #expect(failed.reason == reason)
            #expect(failed.exitCode == exitCode)
            #expect(failed.signal == signal)
            if case .spawnFailed(let text) = end { #expect(failed.error == text) }
        }
    }

    /// A guarded write changes nothing when the job is no longer in the state it names.
    @Test func finishIsGuarded() throws {
        let store = try makeStore()
        let job = try runOne(store, TestJobs.command(["true"]))
        #expect(try store.finish(job.id, attempt: 1, end: .finished(.exited(0)), now: 3) == .done)
        #expect(try store.finish(job.id, attempt: 1, end: .finished(.exited(1)), now: 4) == .notRunning)
        #expect(try store.job(job.id)?.state == .done)
        // A stale attempt number is refused too.
        let other = try runOne(store, TestJobs.command(["true"]))
        #expect(try store.finish(other.id, attempt: 7, end: .finished(.exited(0)), now: 5) == .notRunning)
        #expect(try store.recordStart(of: other.id, attempt: 7, pid: 1, pidStart: nil) == false)
        #expect(try store.job(other.id)?.state == .running)
    }

    @Test func retryRequeuesAFailedJobAndKeepsTheOldAttempt() throws {
        let store = try makeStore()
        let job = try runOne(store, TestJobs.command(["false"]))
        _ = try store.finish(job.id, attempt: 1, end: .finished(.exited(1)), now: 3)
        try store.retry([job.id], now: 4)
        let queued = try #require(try store.job(job.id))
        #expect(queued.state == .queued && queued.reason == nil && queued.exitCode == nil && queued.attempt == 1)
        let attempts = try store.attempts(of: job.id)
        #expect(attempts.count == 1)
        #expect(attempts.first?.state == .failed && attempts.first?.exitCode == 1 && attempts.first?.number == 1)
        let again = try #require(try store.claim(TestJobs.claimRequest(limit: 1), now: 5).first)
        #expect(again.attempt == 2)
        #expect(again.stdoutPath?.hasSuffix("\(job.id).2.out") == true)
    }

    @Test func onlyFailedJobsCanBeRetried() throws {
        let store = try makeStore()
        let job = try runOne(store, TestJobs.command(["true"]))
        let error = #expect(throws: StoreError.self) { try store.retry([job.id], now: 3) }
        #expect(error?.description == "job \(job.id) is running; only failed jobs can be retried")
        #expect(throws: StoreError.self) { try store.retry([JobID(999)], now: 3) }
    }

    @Test func automaticRetriesRunUntilExhausted() throws {
        let store = try makeStore()
        let job = try runOne(store, TestJobs.command(["flaky"], retries: 2))
        #expect(try store.finish(job.id, attempt: 1, end: .finished(.exited(1)), now: 3) == .requeued)
        let second = try #require(try store.claim(TestJobs.claimRequest(limit: 1), now: 4).first)
        #expect(second.attempt == 2)
        #expect(try store.finish(job.id, attempt: 2, end: .lost("gone"), now: 5) == .requeued)
        _ = try store.claim(TestJobs.claimRequest(limit: 1), now: 6)
        #expect(try store.finish(job.id, attempt: 3, end: .finished(.exited(1)), now: 7) == .failed(.exit))
        #expect(try store.attempts(of: job.id).map(\.number) == [1, 2])
    }

    @Test func spawnFailuresAreNotRetried() throws {
        let store = try makeStore()
        let job = try runOne(store, TestJobs.command(["nope"], retries: 5))
        #expect(try store.finish(job.id, attempt: 1, end: .spawnFailed("no such program"), now: 3) == .failed(.spawn))
    }

    @Test func finalFailureFailsDependentsTransitively() throws {
        let store = try makeStore()
        let root = try store.insert([TestJobs.command(["root"], name: "a")], now: 1)[0]
        let child = try store.insert([TestJobs.command(["child"], after: [root])], now: 1)[0]
        let grandchild = try store.insert([TestJobs.command(["grandchild"], after: [child])], now: 1)[0]
        let unrelated = try store.insert([TestJobs.command(["other"], name: "b")], now: 1)[0]
        _ = try store.claim(TestJobs.claimRequest(limit: 1), now: 2)
        _ = try store.finish(root, attempt: 1, end: .finished(.exited(2)), now: 3)
        for id in [child, grandchild] {
            let job = try #require(try store.job(id))
            #expect(job.state == .failed && job.reason == .dependency)
        }
        #expect(try store.job(unrelated)?.state == .queued)
    }
}

@Suite struct PruneTests {
    let folder = TemporaryDirectory("prune")

    @Test func pruneRemovesOldFinishedJobsButNeverTheNewestOrUnfinished() throws {
        let store = try SQLiteStore(path: folder.file("jobq.db"))
        let log = folder.write("old.out", "x")
        // Claimed in this order: old done, old failed (with an earlier attempt), recent done, newest done.
        let oldDone = try store.insert([TestJobs.command(["a"], priority: 9)], now: 1)[0]
        let oldFailed = try store.insert([TestJobs.command(["b"], priority: 8, retries: 1)], now: 1)[0]
        let recent = try store.insert([TestJobs.command(["c"], priority: 7)], now: 1)[0]
        let queued = try store.insert([TestJobs.command(["d"], priority: 0)], now: 1)[0]
        let newest = try store.insert([TestJobs.command(["e"], priority: 6)], now: 1)[0]
        func runNext(_ end: JobEnd, at time: Int64) throws -> Job {
            let job = try #require(try store.claim(TestJobs.claimRequest(limit: 1), now: 2).first)
            _ = try store.finish(job.id, attempt: job.attempt, end: end, now: time)
            return job
        }
        #expect(try runNext(.finished(.exited(0)), at: 100).id == oldDone)
        try store.database.statement("UPDATE jobs SET stdout_path = ?1 WHERE id = ?2").execute([
            .text(log), .integer(oldDone.rawValue),
        ])
        #expect(try runNext(.finished(.exited(1)), at: 100).id == oldFailed)  // retried…
        #expect(try runNext(.finished(.exited(1)), at: 100).id == oldFailed)  // …and failed for good
        #expect(try runNext(.finished(.exited(0)), at: 5_000).id == recent)
        #expect(try runNext(.finished(.exited(0)), at: 100).id == newest)

        let (count, files) = try store.pruneFinished(finishedBy: 1_000)
        #expect(count == 2)
        #expect(files.contains(log))
        #expect(files.contains { $0.hasSuffix("\(oldFailed).1.out") })  // the earlier attempt's log too
        #expect(try store.jobs(state: nil, limit: nil).map(\.id) == [newest, queued, recent])
        #expect(try store.database.integer("SELECT count(*) FROM attempts") == 0)
        // A new job never gets a pruned id.
        #expect(try store.insert([TestJobs.command(["f"])], now: 9)[0].rawValue == newest.rawValue + 1)
    }
}

/// Corners found in review: each was a way to get a job stuck or wrong.
@Suite struct LifecycleCornerTests {
    let folder = TemporaryDirectory("corners")

    /// failed → retried → cancelled while queued → retried again: the cancelled "attempt" never
    /// started, so it is not archived twice.
    @Test func retryAfterACancelWhileQueuedWorks() throws {
        let store = try SQLiteStore(path: folder.file("jobq.db"))
        let id = try store.insert([TestJobs.command(["false"])], now: 1)[0]
        _ = try store.claim(TestJobs.claimRequest(limit: 1), now: 2)
        _ = try store.finish(id, attempt: 1, end: .finished(.exited(1)), now: 3)
        try store.retry([id], now: 4)
        #expect(try store.cancel([id], now: 5) == [.cancelledQueued])
        try store.retry([id], now: 6)
        #expect(try store.job(id)?.state == .queued)
        #expect(try store.attempts(of: id).map(\.number) == [1])
    }

    /// A job that failed because its dependency failed can only be retried together with it.
    @Test func retryOfADependencyFailureNeedsTheDependencyToo() throws {
        let store = try SQLiteStore(path: folder.file("jobq.db"))
        let first = try store.insert([TestJobs.command(["false"], name: "a")], now: 1)[0]
        let second = try store.insert([TestJobs.command(["true"], after: [first])], now: 1)[0]
        _ = try store.claim(TestJobs.claimRequest(limit: 1), now: 2)
        _ = try store.finish(first, attempt: 1, end: .finished(.exited(1)), now: 3)
        #expect(try store.job(second)?.reason == .dependency)
        let error = #expect(throws: StoreError.self) { try store.retry([second], now: 4) }
        #expect(error?.description.contains("retry both (jobq retry \(first) \(second))") == true)
        try store.retry([second, first], now: 4)
        #expect(try store.job(second)?.state == .queued && store.job(first)?.state == .queued)
    }

    /// Environment ids are never reused after `clean`, so a connection that cached one (a worker)
    /// never runs a job with another's variables.
    @Test func environmentIDsAreNeverReused() throws {
        let worker = try SQLiteStore(path: folder.file("jobq.db"))
        let other = try SQLiteStore(path: folder.file("jobq.db"))
        let old = try other.insert([TestJobs.command(["a"], environment: ["WHO=old"])], now: 1)[0]
        _ = try other.insert([TestJobs.command(["b"], environment: ["WHO=keep"])], now: 1)
        // The worker caches the old job's environment.
        let claimed = try #require(try worker.claim(TestJobs.claimRequest(limit: 1), now: 2).first)
        #expect(claimed.id == old && claimed.environment == ["WHO=old"])
        _ = try worker.finish(old, attempt: 1, end: .finished(.exited(0)), now: 3)
        _ = try other.insert([TestJobs.command(["c"])], now: 4)  // newest job (kept by clean)
        #expect(try other.pruneFinished(finishedBy: 10).count == 1)
        _ = try other.insert([TestJobs.command(["d"], environment: ["WHO=new"])], now: 5)
        let all = try worker.claim(TestJobs.claimRequest(limit: 5), now: 6)
        #expect(all.first { $0.payload == .command(["d"]) }?.environment == ["WHO=new"])
        #expect(all.first { $0.payload == .command(["b"]) }?.environment == ["WHO=keep"])
    }
}
