import TestSupport
import Testing

@testable import JobStore

/// A supervisor's reservations: taken in claim order, started in the slots that free, given
/// back — and after a crash, back in the queue, or settled as lost when the machine went down.
@Suite struct ReservationTests {
    let folder = TemporaryDirectory("reservations")

    func makeStore() throws -> SQLiteStore { try SQLiteStore(path: folder.file("jobq.db")) }

    func step(
        reserve: Int = 0, free: [Int] = [], reservations: [JobID] = [], ends: [AttemptEnd] = [], maxRunning: Int = 2
    )
        -> SQLiteStore.SupervisorStep
    {
        var step = SQLiteStore.SupervisorStep(reserver: 0, maxRunning: maxRunning, logDirectory: "/tmp/logs")
        step.mayReserve = reserve > 0
        step.reserveUpTo = reserve
        step.freeSlots = free
        step.reservations = reservations
        step.ends = ends
        return step
    }

    @Test func reservationsFollowClaimOrderAndStartInTheFreedSlots() throws {
        let store = try makeStore()
        let ids = try store.insert(
            [
                TestJobs.command(["a"]), TestJobs.command(["b"], priority: 5), TestJobs.command(["c"], name: "x"),
                TestJobs.command(["d"]),
            ], now: 1)
        let reserved = try store.supervisorStep(step(reserve: 3), now: 2).reserved
        #expect(reserved == [ids[1], ids[0], ids[3]])
        // Still queued: listed so, and counted by no cap.
        #expect(try store.job(ids[1])?.state == .queued && store.runningCount() == 0)
        #expect(try store.reservations(of: 0).sorted() == reserved.sorted())
        // A second reservation passes over the first ones.
        #expect(try store.supervisorStep(step(reserve: 5), now: 3).reserved == [ids[2]])

        let started = try store.supervisorStep(step(free: [1, 0], reservations: reserved), now: 4)
        #expect(started.started.map(\.slot) == [1, 0] && started.started.map(\.job.id) == [ids[1], ids[0]])
        #expect(started.reservationsUsed == 2)
        let running = try #require(try store.job(ids[1]))
        #expect(running.state == .running && running.worker == 1 && running.attempt == 1 && running.startedAt == 4)
        #expect(running.stdoutPath == "/tmp/logs/\(ids[1]).1.out")
    }

    /// A reservation that was cancelled is passed over; a claim (the daemon's, for an idle slot)
    /// passes over reservations, and a job it claimed for a free slot comes first there; the cap
    /// holds.
    @Test func aReservationThatCannotStartIsPassedOver() throws {
        let store = try makeStore()
        let ids = try store.insert((0..<4).map { TestJobs.command(["j\($0)"]) }, now: 1)
        let reserved = try store.supervisorStep(step(reserve: 3), now: 2).reserved
        #expect(reserved == Array(ids[0..<3]))
        #expect(try store.cancel([ids[0]], now: 3) == [.cancelledQueued])
        #expect(try store.reservations(of: 0) == Array(ids[1..<3]))
        let claimed = try store.claim(TestJobs.claimRequest(limit: 1, worker: 1, maxRunning: 2), now: 4)
        #expect(claimed.map(\.id) == [ids[3]])
        let result = try store.supervisorStep(step(free: [0, 1], reservations: reserved), now: 5)
        #expect(result.started.map(\.slot) == [0, 1] && result.started.map(\.job.id) == [ids[1], ids[3]])
        #expect(result.reservationsUsed == 2 && !result.capped)
        // Both slots run: the last reservation waits, whatever slot is offered.
        let capped = try store.supervisorStep(step(free: [2], reservations: [ids[2]]), now: 6)
        #expect(capped.started.isEmpty && capped.reservationsUsed == 0 && capped.capped)
    }

    /// A free slot whose reservations all turned out gone gets new ones at once (else it would
    /// wait for an unrelated event with ready jobs queued); otherwise more are reserved only
    /// once half are used, and never at the cap.
    @Test func aSlotLeftFreeReservesAgain() throws {
        let store = try makeStore()
        let ids = try store.insert((0..<8).map { TestJobs.command(["j\($0)"]) }, now: 1)
        let first = try store.supervisorStep(step(reserve: 4), now: 2).reserved
        #expect(first == Array(ids[0..<4]))
        #expect(try store.cancel(Array(ids[0..<4]), now: 3).count == 4)
        let again = try store.supervisorStep(step(reserve: 4, free: [0], reservations: first), now: 4)
        #expect(again.started.isEmpty && again.reservationsUsed == 4)
        #expect(again.reserved == Array(ids[4..<8]))
        // Three of four still held, none used: no batch yet.
        let held = try store.supervisorStep(step(reserve: 4, reservations: Array(ids[5..<8])), now: 5)
        #expect(held.reserved.isEmpty)
    }

    /// The daemon assigns an idle slot only a job of the very add it commits (its claim and row
    /// are one commit, so the slot may start it before the flush): not an older job, which goes
    /// first in claim order, and nothing while reservations exist, which go first too — then it
    /// says so, and wakes the supervisors.
    @Test func theDaemonAssignsOnlyTheJobsItAdds() throws {
        let store = try makeStore()
        let request = TestJobs.claimRequest(limit: 1, maxRunning: 2)
        let fresh = try store.insertEach([TestJobs.command(["a"])], assigning: [0, 1], claim: request, now: 1)
        #expect(fresh.assigned == [0] && !fresh.othersMayRun)
        let older = try store.insert([TestJobs.command(["old"])], now: 2)
        let behind = try store.insertEach([TestJobs.command(["b"])], assigning: [1], claim: request, now: 3)
        #expect(behind.assigned.isEmpty && behind.othersMayRun)
        #expect(try store.job(older[0])?.state == .queued)
        _ = try store.supervisorStep(step(reserve: 2), now: 4)
        let reserved = try store.insertEach(
            [TestJobs.command(["c"], priority: 9)], assigning: [1], claim: request, now: 5)
        #expect(reserved.assigned.isEmpty && reserved.othersMayRun)
        #expect(try store.runningCount() == 1)
    }

    @Test func releasedReservationsAreQueuedForAnyone() throws {
        let store = try makeStore()
        let ids = try store.insert((0..<3).map { TestJobs.command(["j\($0)"]) }, now: 1)
        #expect(try store.supervisorStep(step(reserve: 2), now: 2).reserved == Array(ids[0..<2]))
        try store.releaseReservations(of: 0)
        #expect(try store.reservations(of: 0).isEmpty)
        #expect(try store.job(ids[0])?.worker == nil)
        // A reservation released is no reservation: it cannot start without a flush.
        #expect(try store.supervisorStep(step(free: [0], reservations: [ids[0]]), now: 3).started.isEmpty)
    }

    /// After a crash of the supervisor only, reservations go back to the queue as they were;
    /// after a crash of the machine, each may have started: settled as a lost attempt (queued
    /// again when it has retries left).
    @Test(arguments: [false, true])
    func aCrashLeavesReservationsQueuedOrLost(machineWentDown: Bool) throws {
        let store = try makeStore()
        let ids = try store.insert([TestJobs.command(["a"]), TestJobs.command(["b"], retries: 1)], now: 1)
        _ = try store.supervisorStep(step(reserve: 2), now: 2)
        let settled = try store.settleReservations(
            of: 0, maybeStarted: machineWentDown, why: "test", logDirectory: "/tmp/logs", now: 3)
        #expect(try store.reservations(of: 0).isEmpty)
        let first = try #require(try store.job(ids[0]))
        let second = try #require(try store.job(ids[1]))
        if machineWentDown {
            #expect(settled.map(\.0) == ids && settled.map(\.1) == [.failed(.lost), .requeued])
            #expect(first.state == .failed && first.reason == .lost && first.attempt == 1 && first.worker == 0)
            #expect(second.state == .queued && second.attempt == 1 && second.worker == nil)
        } else {
            #expect(settled.isEmpty)
            #expect(first.state == .queued && first.attempt == 0 && first.worker == nil)
            #expect(second.state == .queued && second.attempt == 0)
        }
    }

    /// The reconciler tells the two apart by the boot that the slot file names.
    @Test(arguments: [false, true])
    func theReconcilerReadsTheBootFromTheSlotFile(sameBoot: Bool) throws {
        let home = Home(path: folder.path)
        let store = try SQLiteStore(home: home)
        let ids = try store.insert([TestJobs.command(["a"])], now: 1)
        _ = try store.supervisorStep(step(reserve: 1), now: 2)
        let lock = try LockFile(path: home.slotLockPath(0))
        #expect(lock.tryLock())
        lock.recordHolder(12345, note: sameBoot ? Reconciler.bootNote : "boot 00000000-0000-0000-0000-000000000000")
        #expect(try Reconciler(store: store, home: home).settleJobs(ofDeadSlot: 0, lock: lock, now: 3) == 1)
        let job = try #require(try store.job(ids[0]))
        #expect(job.state == (sameBoot ? .queued : .failed))
        #expect(job.reason == (sameBoot ? nil : .lost))
    }
}
