#if canImport(Glibc)
import Glibc
#endif

/// What other commands need from a running daemon: whether it is up (its lock is held), a
/// poke after a commit, and a signal to stop or drain it.
public enum DaemonControl {
    /// The running daemon's PID, or nil when no daemon holds the home's lock.
    public static func runningDaemon(of home: Home) -> pid_t? {
        let fd = open(home.daemonLockPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        close(fd)
        guard let lock = try? LockFile(path: home.daemonLockPath), lock.isHeldByOther else { return nil }
        return lock.holderPID()
    }

    /// Tells the daemon (if one runs) that there may be work: after `add`, `retry`, ….
    public static func poke(_ home: Home) {
        Poke.send(to: home.wakePath)
    }

    /// Whether the worker of `slot` is alive (its lock is held).
    public static func isWorkerAlive(_ home: Home, slot: Int) -> Bool {
        let fd = open(home.slotLockPath(slot), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        close(fd)
        return (try? LockFile(path: home.slotLockPath(slot)))?.isHeldByOther ?? false
    }

    /// Sends `signal` to the daemon. Returns its PID, or nil when none runs.
    @discardableResult
    public static func signal(_ home: Home, _ signal: Int32) -> pid_t? {
        guard let pid = runningDaemon(of: home) else { return nil }
        return kill(pid, signal) == 0 ? pid : nil
    }
}
