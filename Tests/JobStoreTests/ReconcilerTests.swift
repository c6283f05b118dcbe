import CPosix
import Glibc
import Testing
import TestSupport

@testable import JobStore

/// Settling jobs whose worker is gone: lost (or queued again), their leftover processes
/// killed — and only theirs.
@Suite struct ReconcilerTests {
    let folder = TemporaryDirectory("reconcile")

    /// Starts `sleep 60` as the leader of its own session, like a job.
    func startSleeper() -> ProcessIdentity? {
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        guard case .started(let pid) = Spawn.start(
            ["sleep", "60"], environment: ["PATH=/usr/bin:/bin"], cwd: "/", stdout: devNull, stderr: devNull)
        else { return nil }
        return ProcessIdentity.current(pid)
    }

    @Test func aLostJobsProcessFoundOnlyInTheSlotFileIsKilled() throws {
        let home = Home(path: folder.path)
        let store = try SQLiteStore(home: home)
        _ = try store.insert([TestJobs.command(["sleep", "60"])], now: 1)
        let job = try #require(try store.claim(TestJobs.claimRequest(limit: 1, worker: 5), now: 2).first)
        let process = try #require(startSleeper())
        let lock = try LockFile(path: home.slotLockPath(5))
        #expect(lock.tryLock())
        lock.recordHolder(12345)
        lock.recordJob(job.id, attempt: job.attempt, process: process)
        #expect(lock.holderPID() == 12345)
        #expect(lock.recordedJob()?.process == process)

        // The PID never reached the database; the slot file still says which process it was.
        #expect(try store.job(job.id)?.pid == nil)
        #expect(try Reconciler(store: store, home: home).settleJobs(ofDeadSlot: 5, lock: lock, now: 3) == 1)
        #expect(waitForExit(process.pid) != nil, "the lost job's process was not killed")
        let settled = try #require(try store.job(job.id))
        #expect(settled.state == .failed && settled.reason == .lost)
    }

    /// A recorded PID that now belongs to another process (a reused PID) is never signalled.
    @Test func aReusedPIDIsNotSignalled() throws {
        let home = Home(path: folder.path)
        let store = try SQLiteStore(home: home)
        _ = try store.insert([TestJobs.command(["x"])], now: 1)
        let job = try #require(try store.claim(TestJobs.claimRequest(limit: 1, worker: 2), now: 2).first)
        let bystander = try #require(startSleeper())
        // The row names the bystander's PID, but with another start time: a different process.
        _ = try store.recordStart(of: job.id, attempt: job.attempt, pid: bystander.pid, pidStart: bystander.startTime - 1)
        try Reconciler(store: store, home: home).settleJobs(ofDeadSlot: 2, lock: nil, now: 3)
        #expect(try store.job(job.id)?.reason == .lost)
        #expect(bystander.isAlive, "an unrelated process with the recorded PID was signalled")
        kill(bystander.pid, SIGKILL)
        #expect(waitForExit(bystander.pid) == 128 + SIGKILL)
    }

    @Test func aLostJobWithRetriesLeftIsQueuedAgain() throws {
        let home = Home(path: folder.path)
        let store = try SQLiteStore(home: home)
        _ = try store.insert([TestJobs.command(["x"], retries: 1)], now: 1)
        let job = try #require(try store.claim(TestJobs.claimRequest(limit: 1, worker: 0), now: 2).first)
        try Reconciler(store: store, home: home).settleJobs(ofDeadSlot: 0, lock: nil, now: 3)
        let again = try #require(try store.job(job.id))
        #expect(again.state == .queued)
        #expect(try store.attempts(of: job.id).first?.reason == .lost)
    }
}
