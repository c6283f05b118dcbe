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

    /// The identity of a process we just created, read between `bootTicks()` before the spawn
    /// and after it: the kernel stamps a new process with that clock (CLOCK_BOOTTIME, in the
    /// same ticks as /proc/PID/stat's field 22), so when both readings fall in the same tick, so
    /// does its start — and a worker saves a read of /proc for almost every job. Otherwise (a
    /// tick passed meanwhile) it reads /proc.
    public static func spawned(_ pid: pid_t, bootTicksBefore before: Int64?, after: Int64?) -> ProcessIdentity? {
        if let before, before == after { return ProcessIdentity(pid: pid, startTime: before) }
        return current(pid)
    }

    /// CLOCK_BOOTTIME in clock ticks, as /proc/PID/stat counts a start; nil where the kernel
    /// would not divide the same way (a tick that is not a whole number of nanoseconds).
    public static func bootTicks() -> Int64? {
        guard let nanosecondsPerTick else { return nil }
        var now = timespec()
        guard clock_gettime(CLOCK_BOOTTIME, &now) == 0 else { return nil }
        return (Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)) / nanosecondsPerTick
    }

    private static let nanosecondsPerTick: Int64? = {
        let ticksPerSecond = Int64(sysconf(Int32(_SC_CLK_TCK)))
        guard ticksPerSecond > 0, 1_000_000_000 % ticksPerSecond == 0 else { return nil }
        return 1_000_000_000 / ticksPerSecond
    }()

    /// Field 22 of /proc/PID/stat.
    public static func startTime(of pid: pid_t) -> Int64? {
        ProcessStat(pid)?.number(22)
    }

    /// Whether this very process still exists (not a later one with the same PID).
    public var isAlive: Bool { ProcessIdentity.startTime(of: pid) == startTime }

    /// Sends `signal` to this process and its group — only if the PID still belongs to it. The
    /// pidfd pins the process (not the number): after the start-time check, a signal through it
    /// can only reach this process. The group (the job leads its own session and group, so the
    /// group id is its PID) is signalled by number, which is safe while the group has members.
    @discardableResult
    public func signalGroup(_ signal: Int32) -> Bool {
        let pidfd = jq_pidfd_open(pid)
        guard pidfd >= 0 else { return false }
        defer { close(pidfd) }
        guard isAlive else { return false }
        let sent = jq_pidfd_send_signal(pidfd, signal) == 0
        kill(-pid, signal)
        return sent
    }

    /// The processes of the session this process led (its session id is its PID) that started
    /// at or after it: a job's leftovers, also those whose leader is gone.
    public func sessionMembers() -> [ProcessIdentity] {
        DirectoryListing.names(in: "/proc").compactMap { name in
            guard let other = pid_t(name), let stat = ProcessStat(other), stat.number(6) == Int64(pid),
                let start = stat.number(22), start >= startTime
            else { return nil }
            return ProcessIdentity(pid: other, startTime: start)
        }
    }

    /// The machine's boot, as the kernel names it (/proc/sys/kernel/random/boot_id): a supervisor
    /// writes it into its slot files, so the reconciler can tell whether the machine went down
    /// since (and took unflushed commits with it).
    public static func bootID() -> String? {
        let bytes = readProcFile("/proc/sys/kernel/random/boot_id", limit: 64)
        let text = String(decoding: bytes.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        return text.isEmpty ? nil : text
    }

    /// What a variable is in the environment this process was started with: a job's processes
    /// carry JOBQ_JOB_ID, also those that left its session.
    public enum EnvironmentValue: Equatable {
        case value(String)
        /// Not set, or not readable (a setuid program's environment is not ours to read).
        case absent
    }

    public func environmentValue(of name: String) -> EnvironmentValue {
        guard isAlive else { return .absent }
        let prefix = Array((name + "=").utf8)
        for entry in readProcFile("/proc/\(pid)/environ", limit: 1 << 20).split(separator: 0)
        where entry.starts(with: prefix) {
            return .value(String(decoding: entry.dropFirst(prefix.count), as: UTF8.self))
        }
        return .absent
    }

    /// The fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, …].
    static func statFields(of pid: pid_t) -> [Substring]? {
        ProcessStat(pid).map { String(decoding: $0.fields, as: UTF8.self).split(separator: " ") }
    }
}

/// One read of /proc/PID/stat, its fields taken by number without making a string (a worker
/// reads its job's start time at every start). The command name (field 2) may hold spaces and
/// parentheses, so the fields are counted after the last ')'.
struct ProcessStat {
    /// The bytes after the command name's closing parenthesis: " S 1 1 1 …".
    let fields: ArraySlice<UInt8>

    init?(_ pid: pid_t) {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0, let close = buffer[0..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        fields = buffer[(close + 1)..<n]
    }

    /// Field `number` as proc(5) counts them (3 is the state, 6 the session, 22 the start
    /// time), when it is a decimal number.
    func number(_ number: Int) -> Int64? {
        var field = 2
        var value: Int64 = 0
        var digits = 0
        var negative = false
        for byte in fields {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") {
                if field == number { break }
                field += 1
                continue
            }
            guard field == number else { continue }
            if byte == UInt8(ascii: "-") && digits == 0 && !negative {
                negative = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 18 else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            digits += 1
        }
        guard field == number, digits > 0 else { return nil }
        return negative ? -value : value
    }
}

/// A /proc file's bytes, up to `limit`.
func readProcFile(_ path: String, limit: Int) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while bytes.count < limit {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return bytes
}
