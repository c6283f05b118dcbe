import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// A process told apart from any later process that reuses its PID: the PID plus its start
/// time in clock ticks since boot (/proc/PID/stat, field 22).
public struct ProcessIdentity: Sendable, Equatable {
    public let pid: pid_t
    public let startTime: Int64

    public init(pid: pid_t, startTime: Int64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// The identity of the process that has `pid` now, or nil when there is none.
    public static func current(_ pid: pid_t) -> ProcessIdentity? {
        startTime(of: pid).map { ProcessIdentity(pid: pid, startTime: $0) }
    }

    /// Field 22 of /proc/PID/stat. The command name (field 2) may hold spaces and parentheses,
    /// so the fields are counted after the last ')'.
    public static func startTime(of pid: pid_t) -> Int64? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0, let close = buffer[0..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = buffer[(close + 1)..<n].split(separator: UInt8(ascii: " "))
        // After ')': field 3 (state) is fields[0], so field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return Int64(String(decoding: fields[19], as: UTF8.self))
    }

    /// Whether this very process still exists (not a later one with the same PID).
    public var isAlive: Bool { ProcessIdentity.startTime(of: pid) == startTime }

    /// Sends `signal` to this process's group — only if the PID still belongs to it. The check
    /// goes through a pidfd, so the process cannot be swapped between check and signal.
    @discardableResult
    public func signalGroup(_ signal: Int32) -> Bool {
        let pidfd = jq_pidfd_open(pid)
        guard pidfd >= 0 else { return false }
        defer { close(pidfd) }
        // With the pidfd open, the PID cannot be reused; now check it is still our process.
        guard isAlive else { return false }
        // The job leads its own session and group (setsid), so its group id is its PID; the
        // group lives on while any member does, even after the leader ended.
        if kill(-pid, signal) == 0 { return true }
        return jq_pidfd_send_signal(pidfd, signal) == 0
    }
}
