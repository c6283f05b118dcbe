import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// Signals as readable events on a descriptor (signalfd), so the daemon's single loop waits on
/// them like on anything else. Create it first thing, before any thread starts: the signals
/// are blocked in the calling thread and delivered only through the descriptor.
public final class SignalChannel {
    public let fd: Int32

    public init(_ signals: [Int32]) throws(StoreError) {
        // Writing to a closed pipe must be an error (EPIPE), not the end of the process.
        signal(SIGPIPE, SIG_IGN)
        // Jobs get every ignored signal back at its default (SIGPIPE above, and whatever our
        // parent ignored, e.g. SIGHUP under nohup).
        jq_spawn_note_ignored_signals()
        fd = signals.withUnsafeBufferPointer { jq_signalfd($0.baseAddress, Int32($0.count)) }
        guard fd >= 0 else { throw StoreError.cannotOpen(path: "signalfd", detail: systemError(errno)) }
    }

    deinit { close(fd) }

    /// The signals that arrived since the last call (each standard signal at most once).
    public func drain() -> [Int32] {
        var signals: [Int32] = []
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while withUnsafeMutableBytes(of: &info, { read(fd, $0.baseAddress, size) }) == size {
            signals.append(Int32(info.ssi_signo))
        }
        return signals
    }
}

/// Waits for the first of several descriptors to become readable, or for a deadline.
public enum EventWait {
    /// Returns the indexes of the descriptors that are readable (or closed). `timeout` in
    /// milliseconds; nil waits without limit.
    public static func wait(for fds: [Int32], timeout: Int64?) -> Set<Int> {
        var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let limit = timeout.map { Int32(clamping: max(0, $0)) } ?? -1
        let n = poll(&polls, nfds_t(polls.count), limit)
        guard n > 0 else { return [] }
        return Set(polls.indices.filter { polls[$0].revents != 0 })
    }
}
