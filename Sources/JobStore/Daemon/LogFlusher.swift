import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// Flushes the write-ahead log on a thread of its own, so that a supervisor goes on starting
/// and reaping jobs while its reservations go to disk (an fdatasync takes 0.5–0.8 ms here under
/// load, as long as a short job). One flush at a time: `request` one, and when `fd` becomes
/// readable, `collect` says how it went. A flush covers every commit made before it was
/// requested (any descriptor of a file flushes all of that file's written pages).
public final class LogFlusher {
    public enum Outcome {
        case flushed
        case failed
        /// The thread is gone (it cannot be, short of a bug): flush on the caller's thread.
        case gone
    }

    /// Readable when a flush is done (or the thread is gone).
    public var fd: Int32 { done[0] }
    public private(set) var isBusy = false
    /// The thread ended: `request` starts nothing any more, and `fd` is not worth waiting on.
    public private(set) var isGone = false
    private var requests: [Int32] = [-1, -1]
    private var done: [Int32] = [-1, -1]

    public init(logPath: String) throws(StoreError) {
        let log = open(logPath, O_RDONLY | O_CLOEXEC)
        guard log >= 0 else { throw StoreError.cannotOpen(path: logPath, detail: systemError(errno)) }
        guard jq_pipe_cloexec(&requests) == 0, jq_pipe_cloexec(&done) == 0 else {
            let detail = systemError(errno)
            for fd in [log] + requests + done where fd >= 0 { close(fd) }
            throw StoreError.cannotOpen(path: "a pipe", detail: detail)
        }
        let arguments = UnsafeMutablePointer<Int32>.allocate(capacity: 3)
        arguments.initialize(from: [requests[0], done[1], log], count: 3)
        // Signals stay blocked in the thread (it inherits the mask that SignalChannel set), so
        // they all go to the supervisor's signalfd. The thread lives as long as the process;
        // if it ever ends, it closes its end of `done`, which the supervisor reads as `.gone`.
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                let fds = raw!.assumingMemoryBound(to: Int32.self)
                var request: UInt8 = 0
                while true {
                    let n = read(fds[0], &request, 1)
                    if n < 0 && errno == EINTR { continue }
                    guard n == 1 else { break }
                    var outcome = UInt8(fdatasync(fds[2]) == 0 ? 1 : 0)
                    var written = write(fds[1], &outcome, 1)
                    while written < 0 && errno == EINTR { written = write(fds[1], &outcome, 1) }
                    guard written == 1 else { break }
                }
                close(fds[1])
                return nil
            }, arguments)
        guard rc == 0 else {
            for fd in [log] + requests + done { close(fd) }
            throw StoreError.cannotOpen(path: "a flush thread", detail: systemError(rc))
        }
        pthread_detach(thread)
    }

    /// Starts a flush; false when none could be started (the caller flushes itself).
    public func request() -> Bool {
        guard !isBusy && !isGone else { return false }
        var byte: UInt8 = 1
        var written = write(requests[1], &byte, 1)
        while written < 0 && errno == EINTR { written = write(requests[1], &byte, 1) }
        isBusy = written == 1
        return isBusy
    }

    /// After `fd` became readable: how the flush went.
    public func collect() -> Outcome {
        var byte: UInt8 = 0
        var n = read(done[0], &byte, 1)
        while n < 0 && errno == EINTR { n = read(done[0], &byte, 1) }
        isBusy = false
        guard n == 1 else {
            isGone = true
            return .gone
        }
        return byte == 1 ? .flushed : .failed
    }
}
