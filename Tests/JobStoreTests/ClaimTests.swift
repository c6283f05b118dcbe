import Testing
import TestSupport

@testable import JobStore

/// The order the store promises: priority (higher first), then name in byte order (unnamed
/// command-line jobs first, FIFO among themselves), then id.
@Suite struct ClaimTests {
    let folder = TemporaryDirectory("claim")

    func makeStore() throws -> SQLiteStore { try SQLiteStore(path: folder.file("jobq.db")) }

    /// Claims one job at a time until the queue is empty, returning the names in claim order.
    func drain(_ store: SQLiteStore) throws -> [String] {
        var order: [String] = []
        while let job = try store.claim(TestJobs.claimRequest(limit: 1), now: 10).first {
            order.append(job.displayName)
        }
        return order
    }

    @Test func taskFilesComeOutInByteOrderOfTheirNames() throws {
        let store = try makeStore()
        for name in ["a.task", "10.task", "2.task", "1.task", "B.task"] {
            _ = try store.insert([TestJobs.command(["true"], name: name)], now: 1)
        }
        #expect(try drain(store) == ["1.task", "10.task", "2.task", "B.task", "a.task"])
    }

    @Test func unnamedJobsComeOutFIFO() throws {
        let store = try makeStore()
        let ids = try (0..<20).map { _ in try store.insert([TestJobs.command(["true"])], now: 1)[0] }
        #expect(try drain(store) == ids.map { "#\($0)" })
    }

    @Test func higherPriorityGoesFirst() throws {
        let store = try makeStore()
        _ = try store.insert([TestJobs.command(["true"], name: "1.task")], now: 1)
        _ = try store.insert([TestJobs.command(["true"], name: "z.task", priority: 5)], now: 1)
        let unnamed = try store.insert([TestJobs.command(["true"], priority: -1)], now: 1)[0]
        _ = try store.insert([TestJobs.command(["true"], name: "m.task", priority: 5)], now: 1)
        #expect(try drain(store) == ["m.task", "z.task", "1.task", "#\(unnamed)"])
    }

    @Test func claimTakesSeveralInOrderAndMarksThemRunning() throws {
        let store = try makeStore()
        _ = try store.insert(["c", "a", "b"].map { TestJobs.command(["true"], name: $0) }, now: 1)
        let claimed = try store.claim(ClaimRequest(limit: 2, worker: 3, maxRunning: nil, logDirectory: "/l"), now: 50)
        #expect(claimed.map(\.displayName) == ["a", "b"])
        for job in claimed {
            #expect(job.state == .running)
            #expect(job.attempt == 1)
            #expect(job.worker == 3)
            #expect(job.startedAt == 50)
            #expect(job.stdoutPath == "/l/\(job.id).1.out")
            #expect(job.stderrPath == "/l/\(job.id).1.err")
            #expect(job.environment == ["PATH=/usr/bin:/bin"])
        }
    }

    /// The cap counts every running job, also ones claimed by an earlier daemon's workers.
    @Test func claimNeverExceedsMaxRunning() throws {
        let store = try makeStore()
        _ = try store.insert((0..<6).map { _ in TestJobs.command(["true"]) }, now: 1)
        #expect(try store.claim(TestJobs.claimRequest(limit: 2, worker: 0, maxRunning: 3), now: 2).count == 2)
        #expect(try store.claim(TestJobs.claimRequest(limit: 2, worker: 1, maxRunning: 3), now: 2).count == 1)
        #expect(try store.claim(TestJobs.claimRequest(limit: 2, worker: 2, maxRunning: 3), now: 2).isEmpty)
        #expect(try store.counts()[.running] == 3)
    }

    @Test func delayedJobsWaitUntilDue() throws {
        let store = try makeStore()
        _ = try store.insert([TestJobs.command(["later"], runAfter: 100)], now: 1)
        #expect(try store.claim(TestJobs.claimRequest(limit: 1), now: 99).isEmpty)
        #expect(try store.claim(TestJobs.claimRequest(limit: 1), now: 100).count == 1)
    }

    @Test func dependentJobsWaitUntilTheirDependenciesAreDone() throws {
        let store = try makeStore()
        let first = try store.insert([TestJobs.command(["first"], name: "z")], now: 1)[0]
        let second = try store.insert([TestJobs.command(["second"], name: "a", after: [first])], now: 1)[0]
        let claimed = try store.claim(TestJobs.claimRequest(limit: 5), now: 2)
        #expect(claimed.map(\.id) == [first])
        #expect(try store.claim(TestJobs.claimRequest(limit: 5), now: 2).isEmpty)
        _ = try store.finish(first, attempt: 1, end: .finished(.exited(0)), now: 3)
        #expect(try store.claim(TestJobs.claimRequest(limit: 5), now: 4).map(\.id) == [second])
    }

    @Test func claimOrderFunctionMatchesTheDatabase() throws {
        let store = try makeStore()
        var rng = SplitMix64(seed: 7)
        let names: [String?] = [nil, "1.task", "10.task", "2.task", "a.task", "A.task", "é.task", "z", "", " "]
        _ = try store.insert((0..<200).map { _ in
            TestJobs.command(["true"], name: names.randomElement(using: &rng)!,
                             priority: Int.random(in: -1...1, using: &rng))
        }, now: 1)
        let all = try store.jobs(state: .queued, limit: nil)
        var fromDatabase: [JobID] = []
        while let job = try store.claim(TestJobs.claimRequest(limit: 1), now: 2).first { fromDatabase.append(job.id) }
        #expect(all.sorted(by: claimOrder).map(\.id) == fromDatabase)
    }
}
