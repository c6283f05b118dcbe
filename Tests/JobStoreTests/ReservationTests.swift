import TestSupport
import Testing

@testable import JobStore

/// A supervisor's reservations: taken in claim order, started in the slots that free, given
/// back — and after a crash, back in the queue, or settled as lost when the machine went down.
@Suite struct ReservationTests {
    let folder = TemporaryDirectory("reservations")

    func makeStore() throws -> SQLiteStore { try SQLiteStore(path: folder.file("jobq.db")) }

    func step(reserve: Int = 0, held: Int = 0, free: [Int] = [], starts: [SQLiteStore.ReservedStart] = [],
              ends: [AttemptEnd] = []) -> SQLiteStore.SupervisorStep
    {
        var step = SQLiteStore.SupervisorStep(reserver: 0, maxRunning: 2, logDirectory: "/tmp/logs")
        step.mayReserve = reserve > 0
        step.reserveUpTo = reserve
        step.held = held
        step.slotWaiting = !free.isEmpty
        step.freeSlots = free
        step.starts = starts
        step.ends = ends
        return step
    }

    func started(_ job: Job, in slot: Int, at time: Int64, pid: Int32? = 4242) -> SQLiteStore.ReservedStart {
        SQLiteStore.ReservedStart(
            slot: slot, id: job.id, attempt: job.attempt + 1, startedAt: time,
            process: pid.map { ProcessIdentity(pid: $0, startTime: 77) })
    }

    @Test func reservationsFollowClaimOrderAndTheirStartsAreRecordedAfterwards() throws {
        let store = try makeStore()
        let ids = try store.insert(
            [
                TestJobs.command(["a"]), TestJobs.command(["b"], priority: 5), TestJobs.command(["c"], name: "x"),
                TestJobs.command(["d"]),
            ], now: 1)
        let reserved = try store.supervisorStep(step(reserve: 3), now: 2).reserved
        #expect(reserved.map(\.id) == [ids[1], ids[0], ids[3]])
        #expect(reserved.first?.payload == .command(["b"]) && reserved.first?.environment != nil)
        // Still queued: listed so, and counted by no cap.
        #expect(try store.job(ids[1])?.state == .queued && store.runningCount() == 0)
        #expect(try store.reservations(of: 0).sorted() == reserved.map(\.id).sorted())
        // A second reservation passes over the first ones; the queue has no more.
        let second = try store.supervisorStep(step(reserve: 5), now: 3)
        #expect(second.reserved.map(\.id) == [ids[2]] && second.askedToReserve == 5)

        let result = try store.supervisorStep(
            step(starts: [started(reserved[0], in: 1, at: 4), started(reserved[1], in: 0, at: 4, pid: nil)],
                 ends: [AttemptEnd(id: ids[0], attempt: 1, end: .spawnFailed("no such program"))]), now: 5)
        #expect(result.cancelRequested == [false, false] && result.finished == [.failed(.spawn)])
        #expect(result.runningBeyondCap == 0)
        let running = try #require(try store.job(ids[1]))
        #expect(running.state == .running && running.worker == 1 && running.attempt == 1 && running.startedAt == 4)
        #expect(running.pid == 4242 && running.pidStart == 77 && running.stdoutPath == "/tmp/logs/\(ids[1]).1.out")
        #expect(try store.job(ids[0])?.state == .failed)
        // A start is recorded once: the job is no longer a reservation.
        #expect(try store.supervisorStep(step(starts: [started(reserved[0], in: 1, at: 6)]), now: 6).cancelRequested == [nil])
    }

    /// A reserved job may have just started (its start is recorded after the spawn): a cancel
    /// is a request, which its supervisor answers by cancelling it or, once started, stopping
    /// it. A claim (the daemon's, for an idle slot) passes over reservations.
    @Test func aCancelOfAReservationIsARequest() throws {
        let store = try makeStore()
        let ids = try store.insert((0..<4).map { TestJobs.command(["j\($0)"]) }, now: 1)
        let dependent = try store.insert([TestJobs.command(["after"], after: [ids[0]])], now: 1)[0]
        let reserved = try store.supervisorStep(step(reserve: 3), now: 2).reserved
        #expect(reserved.map(\.id) == Array(ids[0..<3]))
        #expect(try store.cancel([ids[0], ids[1]], now: 3) == [.cancelRequested(reserver: 0), .cancelRequested(reserver: 0)])
        let requested = try #require(try store.job(ids[0]))
        #expect(requested.state == .queued && requested.cancelRequestedAt == 3)
        let claimed = try store.claim(TestJobs.claimRequest(limit: 1, worker: 1, maxRunning: 3), now: 4)
        #expect(claimed.map(\.id) == [ids[3]])

        try store.cancelReserved([ids[0]], of: 0, now: 5)
        let cancelled = try #require(try store.job(ids[0]))
        #expect(cancelled.state == .failed && cancelled.reason == .cancelled && cancelled.attempt == 0)
        #expect(try store.job(dependent)?.reason == .dependency)
        // The supervisor had started the other one: it learns of the request when it records it.
        let result = try store.supervisorStep(step(starts: [started(reserved[1], in: 0, at: 6)]), now: 6)
        #expect(result.cancelRequested == [true])
        #expect(try store.job(ids[1])?.state == .running && store.reservations(of: 0) == [ids[2]])
    }

    /// While an earlier daemon's supervisor runs jobs in slots beyond the cap, a supervisor's
    /// reservations start in its steps, each in a guarded write: a reservation gone meanwhile
    /// is passed over, a job the daemon claimed for a free slot comes first there, and the cap
    /// holds.
    @Test func guardedStartsPassOverWhatCannotStartAndHoldTheCap() throws {
        let store = try makeStore()
        let beyond = try store.insert([TestJobs.command(["old"])], now: 1)[0]
        #expect(try store.claim(TestJobs.claimRequest(limit: 1, worker: 5, maxRunning: 3), now: 1).map(\.id) == [beyond])
        let ids = try store.insert((0..<4).map { TestJobs.command(["j\($0)"]) }, now: 1)
        let reserved = try store.supervisorStep(step(reserve: 3), now: 2)
        #expect(reserved.reserved.map(\.id) == Array(ids[0..<3]) && reserved.runningBeyondCap == 1)
        // A cancel requested and not carried out yet: the guarded start cancels it instead.
        #expect(try store.cancel([ids[0]], now: 3) == [.cancelRequested(reserver: 0)])
        let claimed = try store.claim(TestJobs.claimRequest(limit: 1, worker: 1, maxRunning: 3), now: 4)
        #expect(claimed.map(\.id) == [ids[3]])
        var guarded = step(free: [0, 1])
        guarded.guardedStarts = true
        guarded.reservations = reserved.reserved.map(\.id)
        guarded.maxRunning = 3
        let result = try store.supervisorStep(guarded, now: 5)
        #expect(result.started.map(\.slot) == [0, 1] && result.started.map(\.job.id) == [ids[1], ids[3]])
        #expect(result.reservationsUsed == 2 && !result.capped)
        #expect(try store.job(ids[1])?.state == .running && store.job(ids[1])?.worker == 0)
        let cancelled = try #require(try store.job(ids[0]))
        #expect(cancelled.state == .failed && cancelled.reason == .cancelled && cancelled.attempt == 0)
        // Three run: the last reservation waits, whatever slot is offered.
        guarded.freeSlots = [2]
        guarded.reservations = [ids[2]]
        let capped = try store.supervisorStep(guarded, now: 6)
        #expect(capped.started.isEmpty && capped.reservationsUsed == 0 && capped.capped)
    }

    /// The journal: starts in a ring, cancels in a list that its reader empties.
    @Test func theJournalKeepsStartsAndCancels() throws {
        let journal = StartJournal(path: folder.file("slot-0.starts"))
        #expect(journal.reset() && journal.starts().isEmpty && journal.takeCancels().isEmpty)
        for entry in 0..<(StartJournal.startCapacity + 2) {
            #expect(journal.noteStart(entry: entry, JobID(Int64(entry)), attempt: 1, process: nil))
        }
        // The ring keeps the last `startCapacity`.
        #expect(Set(journal.starts().map(\.id.rawValue)) == Set(2..<Int64(StartJournal.startCapacity + 2)))
        #expect(journal.addCancel(JobID(7), attempt: 0) && journal.addCancel(JobID(9), attempt: 2))
        let cancels = journal.takeCancels()
        #expect(cancels.map(\.id) == [JobID(7), JobID(9)] && cancels.map(\.attempt) == [0, 2])
        #expect(journal.takeCancels().isEmpty)
        var added = 0
        while journal.addCancel(JobID(Int64(added)), attempt: 0) { added += 1 }
        #expect(added == StartJournal.cancelCapacity && journal.takeCancels().count == added)
    }

    /// More are reserved once half are used, or at once when a slot waits for one; never more
    /// than asked for.
    @Test func reservationsComeInBatches() throws {
        let store = try makeStore()
        let ids = try store.insert((0..<8).map { TestJobs.command(["j\($0)"]) }, now: 1)
        #expect(try store.supervisorStep(step(reserve: 4), now: 2).reserved.map(\.id) == Array(ids[0..<4]))
        // Three of four still held: no batch yet.
        let held = try store.supervisorStep(step(reserve: 4, held: 3), now: 3)
        #expect(held.reserved.isEmpty && held.askedToReserve == nil)
        // Half held: the rest of the batch.
        #expect(try store.supervisorStep(step(reserve: 4, held: 2), now: 4).reserved.map(\.id) == Array(ids[4..<6]))
        // A slot waits: whatever is missing, at once.
        #expect(try store.supervisorStep(step(reserve: 4, held: 3, free: [1]), now: 5).reserved.map(\.id) == [ids[6]])
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

    /// Given back, reservations are queued for anyone — but one whose cancel was requested is
    /// cancelled.
    @Test func releasedReservationsAreQueuedForAnyone() throws {
        let store = try makeStore()
        let ids = try store.insert((0..<3).map { TestJobs.command(["j\($0)"]) }, now: 1)
        #expect(try store.supervisorStep(step(reserve: 2), now: 2).reserved.map(\.id) == Array(ids[0..<2]))
        #expect(try store.cancel([ids[1]], now: 3) == [.cancelRequested(reserver: 0)])
        try store.releaseReservations(of: 0, now: 4)
        #expect(try store.reservations(of: 0).isEmpty)
        let released = try #require(try store.job(ids[0]))
        #expect(released.state == .queued && released.worker == nil)
        #expect(try store.job(ids[1])?.reason == .cancelled)
        // A reservation released is no reservation: its start is not recorded.
        #expect(try store.supervisorStep(step(starts: [started(released, in: 0, at: 5)]), now: 5).cancelRequested == [nil])
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
            of: 0, started: [], maybeStarted: machineWentDown, why: "test", whyStarted: "started", logDirectory: "/tmp/logs",
            now: 3)
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

    /// The reconciler tells the two apart by the boot that the slot file names; a reserved job
    /// the slot file says its supervisor started (and did not record) is lost either way, and
    /// an entry of the file that the database shows recorded is left alone.
    @Test(arguments: [false, true])
    func theReconcilerReadsTheBootAndTheStartsFromTheSlotFile(sameBoot: Bool) throws {
        let home = Home(path: folder.path)
        let store = try SQLiteStore(home: home)
        let ids = try store.insert((0..<3).map { TestJobs.command(["j\($0)"]) }, now: 1)
        let reserved = try store.supervisorStep(step(reserve: 3), now: 2).reserved
        _ = try store.supervisorStep(step(starts: [started(reserved[2], in: 1, at: 3)]), now: 3)
        let lock = try LockFile(path: home.slotLockPath(0))
        #expect(lock.tryLock())
        lock.recordHolder(12345, note: sameBoot ? Reconciler.bootNote : "boot 00000000-0000-0000-0000-000000000000")
        let journal = StartJournal(path: home.slotStartsPath(0))
        #expect(journal.reset())
        #expect(
            journal.withLock {
                journal.noteStart(entry: 0, ids[2], attempt: 1, process: ProcessIdentity(pid: 4242, startTime: 77))
                    && journal.noteStart(entry: 1, ids[1], attempt: 1, process: nil)
            } == true)
        #expect(journal.starts().map(\.id) == [ids[2], ids[1]])
        #expect(try Reconciler(store: store, home: home).settleJobs(ofDeadSlot: 0, lock: lock, now: 4) == 2)
        let first = try #require(try store.job(ids[0]))
        #expect(first.state == (sameBoot ? .queued : .failed) && first.reason == (sameBoot ? nil : .lost))
        let startedOne = try #require(try store.job(ids[1]))
        #expect(startedOne.state == .failed && startedOne.reason == .lost && startedOne.attempt == 1)
        // Recorded as running by the step: the slot file's entry does not settle it again.
        #expect(try store.job(ids[2])?.state == .running)
    }
}
