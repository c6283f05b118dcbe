import CPosix
import Glibc
import JobStore

/// A `jobq daemon` started by a test on its own home, with its event log in a file. On
/// release it kills the daemon, its workers and whatever jobs they left.
public final class DaemonHarness {
    public let home: String
    public let logPath: String
    public private(set) var pid: pid_t = 0
    private var exited = false
    private var startsBeforeLaunch = 0

    public init(home: String, logPath: String) {
        self.home = home
        self.logPath = logPath
    }

    /// Starts the daemon and waits until it has taken its lock (so jobs added now are seen).
    @discardableResult
    public func start(_ arguments: [String] = [], cwd: String? = nil, environment: [String: String] = [:]) -> Bool {
        launch(arguments, cwd: cwd, environment: environment)
        return waitUntilStarted()
    }

    /// Starts the daemon without waiting for it (to race it against other processes);
    /// `waitUntilStarted` waits for it afterwards. `environment` is added to the test's own.
    public func launch(_ arguments: [String] = [], cwd: String? = nil, environment: [String: String] = [:]) {
        startsBeforeLaunch = starts
        let child = JobQProcess.spawn(
            JobQProcess.binary, ["--home", home, "daemon", "--kill-grace", "1s"] + arguments, environment: environment,
            cwd: cwd, captureOutput: false, logPath: logPath)
        pid = child.pid
        exited = false
    }

    /// Waits until the daemon launched last says it has started.
    @discardableResult
    public func waitUntilStarted(seconds: Double = 20) -> Bool {
        waitUntil(seconds: seconds) { starts > startsBeforeLaunch }
    }

    /// How many times the log says a daemon started.
    private var starts: Int { log.ranges(of: "daemon started").count }

    /// The daemon's event log so far.
    public var log: String { readFile(logPath) ?? "" }

    /// Sends `signal` to the daemon; it does not wait for it (`waitForExit` does).
    public func signal(_ signal: Int32) {
        guard pid > 0, !exited else { return }
        kill(pid, signal)
    }

    /// Waits for the daemon process to exit and reaps it; returns its exit code (or nil on timeout).
    @discardableResult
    public func waitForExit(seconds: Double = 20) -> Int32? {
        guard pid > 0, !exited else { return nil }
        let code = TestSupport.waitForExit(pid, seconds: seconds)
        if code != nil { exited = true }
        return code
    }

    /// `kill -9` the daemon (its workers and jobs keep running).
    public func kill9() {
        signal(SIGKILL)
        waitForExit()
    }

    /// PIDs of the live supervisors (each once), read from the slot lock files.
    public func workerPIDs() -> [pid_t] {
        let pids = DirectoryListing.names(in: home + "/run").filter { $0.hasPrefix("slot-") && $0.hasSuffix(".lock") }.compactMap {
            name -> pid_t? in
            guard let lock = try? LockFile(path: home + "/run/" + name), lock.isHeldByOther else { return nil }
            return lock.holderPID()
        }
        return Array(Set(pids)).sorted()
    }

    deinit { killEverything() }

    /// Kills the daemon, its workers and the jobs still running (idempotent). Called before the
    /// test's folder is removed: a process left running could otherwise write into a home that
    /// is being deleted, and the folder would be left behind.
    public func killEverything() {
        // (pid 0 would mean our own process group: never signal it.)
        if pid > 0 && !exited {
            kill(pid, SIGKILL)
            waitForExit()
        }
        for worker in workerPIDs() where worker > 0 { kill(worker, SIGKILL) }
        // Jobs left running lead their own process groups.
        if let store = try? SQLiteStore(path: home + "/jobq.db", create: false), let running = try? store.runningJobs() {
            for job in running {
                if let pid = job.pid, let start = job.pidStart {
                    ProcessIdentity(pid: pid, startTime: start).signalGroup(SIGKILL)
                }
            }
        }
    }
}
