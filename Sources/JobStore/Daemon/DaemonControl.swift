#if canImport(Glibc)
import Glibc
#endif

/// What other commands need from a running daemon: whether it is up (its lock is held), a
/// poke after a commit, and a signal to stop or drain it.
public enum DaemonControl {
    /// The running daemon's PID, or nil when no daemon holds the home's lock.
    public static func runningDaemon(of home: Home) -> pid_t? { runningDaemonAndWorkers(of: home)?.pid }

    /// The running daemon's PID and its --workers, or nil when no daemon runs.
    public static func runningDaemonAndWorkers(of home: Home) -> (pid: pid_t, workers: Int?)? {
        // (Opened without creating it: a command that only asks must not make files.)
        let fd = open(home.daemonLockPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        close(fd)
        guard let lock = try? LockFile(path: home.daemonLockPath), lock.isHeldByOther, let pid = lock.holderPID()
        else { return nil }
        let workers = lock.holderNote().flatMap { note in note.hasPrefix("workers ") ? Int(note.dropFirst(8)) : nil }
        return (pid, workers)
    }

    /// Tells the daemon (if one runs) that there may be work: after `add`, `retry`, ….
    public static func poke(_ home: Home) {
        Poke.send(to: home.wakePath)
    }

    /// Sends `signal` to the daemon. Returns its PID, or nil when none runs.
    @discardableResult
    public static func signal(_ home: Home, _ signal: Int32) -> pid_t? {
        guard let pid = runningDaemon(of: home) else { return nil }
        return kill(pid, signal) == 0 ? pid : nil
    }
}
