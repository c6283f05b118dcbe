import Glibc
import Testing
import TestSupport

@testable import JobStore

/// What every daemon test needs: a folder, a home, a daemon harness, and ways to look at jobs.
final class DaemonTestCase {
    let folder: TemporaryDirectory
    let daemon: DaemonHarness
    var home: String { daemon.home }

    init(_ label: String) {
        folder = TemporaryDirectory(label)
        daemon = DaemonHarness(home: folder.file("home"), logPath: folder.file("daemon.log"))
    }

    // The processes go before the folder (a deinit body runs before the properties are released).
    deinit { daemon.killEverything() }

    @discardableResult
    func jobq(_ arguments: [String], stdin: String = "", cwd: String? = nil) -> ProcessResult {
        JobQProcess.run(arguments, home: home, stdin: stdin, cwd: cwd)
    }

    /// Adds a job and returns its id.
    func add(_ arguments: [String], cwd: String? = nil) throws -> JobID {
        let result = jobq(["add"] + arguments, cwd: cwd)
        try #require(result.status == 0, "add failed: \(result.stderr)")
        return try #require(JobID(parsing: result.stdout.split(separator: "\n").first.map(String.init) ?? ""))
    }

    /// A shell job (argv: /bin/sh -c SCRIPT).
    func addShell(_ script: String, _ options: [String] = []) throws -> JobID {
        try add(options + ["--", "/bin/sh", "-c", script])
    }

    func store() throws -> SQLiteStore { try SQLiteStore(path: home + "/jobq.db") }

    func job(_ id: JobID) throws -> Job { try #require(try store().job(id)) }

    /// Waits until the job is in `state` (or any finished state, when `state` is nil).
    @discardableResult
    func waitFor(_ id: JobID, _ state: JobState? = nil, seconds: Double = 30) throws -> Job {
        let store = try store()
        var last: Job?
        let reached = try waitUntil(seconds: seconds) {
            last = try store.job(id)
            guard let current = last else { return false }
            return state.map { current.state == $0 } ?? current.state.isFinished
        }
        try #require(reached, "job \(id) did not reach \(state?.rawValue ?? "an end") in time; it is \(String(describing: last?.state)); log:\n\(daemon.log)")
        return try #require(last)
    }

    func running() throws -> [Job] { try store().jobs(state: .running, limit: nil) }

    /// Waits until a running job's PID is in the database (it is written just after the job
    /// starts) and returns it.
    func waitForPID(_ id: JobID, seconds: Double = 10) throws -> pid_t {
        var pid: pid_t?
        let recorded = try waitUntil(seconds: seconds) {
            pid = try job(id).pid
            return pid != nil
        }
        try #require(recorded, "job \(id) has no PID in time; log:\n\(daemon.log)")
        return try #require(pid)
    }

    /// Lines of a file the jobs append to.
    func lines(_ name: String) -> [String] {
        (readFile(folder.file(name)) ?? "").split(separator: "\n").map(String.init)
    }
}

/// Whether process `pid` has ended: it is gone, or a zombie (dead, waiting for a parent that is
/// not ours to reap). `kill(pid, 0)` would call a zombie alive.
func isGone(_ pid: pid_t) -> Bool {
    guard let fields = ProcessIdentity.statFields(of: pid) else { return true }
    return fields.first == "Z"
}
