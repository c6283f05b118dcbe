@testable import JobStore

/// Job specs for store tests.
enum TestJobs {
    static func command(_ argv: [String], name: String? = nil, priority: Int = 0, retries: Int = 0,
                        after: [JobID] = [], runAfter: Int64 = 0, environment: [String] = ["PATH=/usr/bin:/bin"])
        -> JobSpec
    {
        JobSpec(name: name, priority: priority, payload: .command(argv), cwd: "/tmp", environment: environment,
                maxRetries: retries, after: after, runAfter: runAfter)
    }

    static func claimRequest(limit: Int, worker: Int = 0, maxRunning: Int? = nil) -> ClaimRequest {
        ClaimRequest(limit: limit, worker: worker, maxRunning: maxRunning, logDirectory: "/tmp/logs")
    }
}
