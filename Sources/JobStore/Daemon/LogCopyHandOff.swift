#if canImport(Glibc)
import Glibc
#endif

/// Who copies the write-ahead log into the database file after a large `add --stdin`, which
/// leaves that copy to another process so that it returns once its jobs are on disk (see
/// `SQLiteStore.leaveCheckpointToOthers`).
public enum LogCopyHandOff {
    public enum Outcome: Sendable, Equatable {
        /// The running daemon copies it (the poke also tells it of the new jobs).
        case daemon
        /// A detached `jobq copy-log` (this PID) copies it.
        case helper(pid_t)
        /// Nobody else could: it was copied here.
        case copiedHere
        /// Nobody else could, and copying it here failed (the jobs are committed all the same).
        case failed(String)
    }

    /// Hands the copy to the running daemon; without one, to `executable copy-log --home H`,
    /// started in its own session, in `/`, its output to /dev/null, and not waited for — it copies
    /// the log and, if it is the last connection then, removes the file. Only when that cannot
    /// start is the log copied here.
    public static func leave(home: Home, executable: String) -> Outcome {
        if Poke.send(Daemon.checkpointRequest, to: home.wakePath) { return .daemon }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        if devNull >= 0 {
            defer { close(devNull) }
            let helper = Spawn.start(
                [executable, "copy-log", "--home", home.path], environment: ProcessEnvironment.entries(), cwd: "/",
                stdout: devNull, stderr: devNull, diesWithParent: false)
            if case .started(let pid) = helper { return .helper(pid) }
        }
        do {
            try SQLiteStore(home: home).checkpointLog()
            return .copiedHere
        } catch {
            return .failed("\(error)")
        }
    }
}
