#if canImport(Glibc)
import Glibc
#endif

/// The processes below a process, as the kernel lists them (/proc/PID/task/TID/children).
/// A worker is a child subreaper, so everything a job started — children, grandchildren that
/// moved to another process group or session, orphans the worker adopted — is below it.
public enum ProcessTree {
    /// Every descendant of `pid`, parents before their children — of the direct children only
    /// those started at or after `startedSince` (clock ticks since boot) and what is below them.
    public static func descendants(of pid: pid_t, startedSince: Int64 = 0) -> [pid_t] {
        var result: [pid_t] = []
        var queue = children(of: pid).filter { (ProcessIdentity.startTime(of: $0) ?? .max) >= startedSince }
        var seen = Set<pid_t>()
        while !queue.isEmpty {
            let next = queue.removeFirst()
            guard seen.insert(next).inserted else { continue }
            result.append(next)
            queue += children(of: next)
        }
        return result
    }

    /// The direct children of `pid`, over all its threads.
    public static func children(of pid: pid_t) -> [pid_t] {
        DirectoryListing.names(in: "/proc/\(pid)/task").compactMap(pid_t.init).flatMap { tid in
            readPIDs("/proc/\(pid)/task/\(tid)/children")
        }
    }

    private static func readPIDs(_ path: String) -> [pid_t] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes.split(separator: UInt8(ascii: " ")).compactMap { pid_t(String(decoding: $0, as: UTF8.self)) }
    }
}
