import Testing
import TestSupport

@testable import JobStore

/// `jobq list` reads each job as a `JobSummary`, in place from SQLite's row: it must say what
/// the whole `Job` says — state, result, run time's ends, and the command as a shell reads it.
@Suite struct SummaryTests {
    let folder = TemporaryDirectory("summary")

    func summaries(_ store: SQLiteStore, state: JobState? = nil, limit: Int? = nil) throws -> [(id: Int64, text: String)] {
        var lines: [(Int64, String)] = []
        try store.forEachSummary(state: state, limit: limit) { job in
            var line = ByteWriter()
            line.append(job.state.rawValue)
            line.append(literal: "|")
            if let name = job.name { line.append(name) }
            line.append(literal: "|")
            job.appendResult(to: &line, state: job.state)
            line.append(literal: "|")
            job.appendCommandSummary(to: &line)
            line.append(literal: "|")
            line.appendDecimal(Int64(job.priority))
            line.append(literal: "|")
            line.appendDecimal(job.enqueuedAt)
            line.append(literal: "|")
            line.appendDecimal(job.startedAt ?? -1)
            line.append(literal: "|")
            line.appendDecimal(job.finishedAt ?? -1)
            lines.append((job.id.rawValue, line.string))
        }
        return lines
    }

    @Test func summariesSayWhatTheJobSays() throws {
        let store = try SQLiteStore(path: folder.file("jobq.db"))
        let specs = [
            TestJobs.command(["echo", "it's", "a b", ""], name: "nämed", priority: 3),
            JobSpec(payload: .script("#!/bin/sh\n# comment\n\nmake all\n"), cwd: "/tmp", environment: []),
            JobSpec(payload: .message("hello", seconds: 1.5), cwd: "/tmp", environment: []),
            TestJobs.command(["false"]),
            TestJobs.command(["sleep", "9"]),
            TestJobs.command(["later"], runAfter: 9_999_999_999_999),
            TestJobs.command(["queued"]),
        ]
        let ids = try store.insert(specs, now: 100)
        // Run the first four in turn (exit 0, exit 0, exit 0, exit 1), leave the fifth running.
        for (index, end) in [JobEnd.finished(.exited(0)), .finished(.exited(0)), .finished(.exited(0)), .finished(.exited(1))].enumerated() {
            let job = try #require(try store.claim(TestJobs.claimRequest(limit: 1), now: 200 + Int64(index)).first)
            #expect(job.id == ids[index])
            #expect(try store.finish(job.id, attempt: 1, end: end, now: 300 + Int64(index)) != .notRunning)
        }
        let running = try #require(try store.claim(TestJobs.claimRequest(limit: 1), now: 400).first)
        #expect(running.id == ids[4])
        _ = try store.recordStart(of: running.id, attempt: 1, pid: 4242, pidStart: nil)

        let listed = try summaries(store)
        #expect(listed.map(\.id) == ids.reversed().map(\.rawValue))
        let expected = [
            "queued|||queued|0|100|-1|-1",
            "queued||delayed|later|0|100|-1|-1",
            "running||pid 4242|sleep 9|0|100|400|-1",
            "failed||exit 1|false|0|100|203|303",
            "done||exit 0|hello;1.5|0|100|202|302",
            "done||exit 0|script: make all|0|100|201|301",
            "done|nämed|exit 0|echo 'it'\\''s' 'a b' ''|3|100|200|300",
        ]
        #expect(listed.map(\.text) == expected)
        // The same words as the whole job's, which `show` and `errors` print.
        for id in ids {
            let job = try #require(try store.job(id))
            let line = try #require(listed.first { $0.id == id.rawValue }).text
            let parts = line.split(separator: "|", omittingEmptySubsequences: false)
            #expect(String(parts[2]) == job.resultSummary)
            #expect(String(parts[3]) == job.payload.summary)
        }
        #expect(try summaries(store, state: .failed).map(\.id) == [ids[3].rawValue])
        #expect(try summaries(store, limit: 2).map(\.id) == [ids[6].rawValue, ids[5].rawValue])
    }

    @Test(arguments: [
        (JobState.failed, FailureReason.timeout, Int32?.none, Int32?(15), "timeout signal 15"),
        (.failed, .cancelled, nil, nil, "cancelled"),
        (.failed, .lost, nil, nil, "lost"),
        (.failed, .spawn, Int32?(127), nil, "spawn exit 127"),
        (.failed, .exit, 3, nil, "exit 3"),
        (.failed, .signal, nil, 9, "signal 9"),
        (.failed, .signal, nil, nil, "signal"),
    ])
    func failedResultsAreWordedAsTables(
        _ state: JobState, _ reason: FailureReason, _ exitCode: Int32?, _ signal: Int32?, _ text: String
    ) {
        #expect(
            ResultText.describe(state: state, reason: reason, exitCode: exitCode, signal: signal, pid: nil, runAfter: 0)
                == text)
    }
}
