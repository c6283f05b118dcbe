import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// Flushes the write-ahead log on a thread of its own, so that a supervisor goes on starting
/// and reaping jobs while its reservations go to disk (an fdatasync here takes ~0.5 ms, as long
/// as a short job). One flush at a time: `request` one, and when `fd` becomes readable,
/// `collect` says whether it succeeded. A flush covers every commit made before it was
/// requested (any descriptor of a file flushes all of that file's written pages).
public final class LogFlusher {
    /// Readable when a flush is done.
    public var fd: Int32 { done[0] }
    public private(set) var isBusy = false
    private var requests: [Int32] = [-1, -1]
    private var done: [Int32] = [-1, -1]
    private let logDescriptor: Int32
    private let arguments: UnsafeMutablePointer<Int32>

    public init(logPath: String) throws(StoreError) {
        logDescriptor = open(logPath, O_RDONLY | O_CLOEXEC)
        guard logDescriptor >= 0 else { throw StoreError.cannotOpen(path: logPath, detail: systemError(errno)) }
        guard jq_pipe_cloexec(&requests) == 0, jq_pipe_cloexec(&done) == 0 else {
            throw StoreError.cannotOpen(path: "a pipe", detail: systemError(errno))
        }
        arguments = .allocate(capacity: 3)
        arguments[0] = requests[0]
        arguments[1] = done[1]
        arguments[2] = logDescriptor
        // Signals stay blocked in the thread (it inherits the mask that SignalChannel set), so
        // they all go to the supervisor's signalfd. The thread lives as long as the process.
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let fds = raw!.assumingMemoryBound(to: Int32.self)
            var result: UInt8 = 0
            while read(fds[0], &result, 1) == 1 {
                var outcome = UInt8(fdatasync(fds[2]) == 0 ? 1 : 0)
                _ = write(fds[1], &outcome, 1)
            }
            return nil
        }, arguments)
        guard rc == 0 else { throw StoreError.cannotOpen(path: "a flush thread", detail: systemError(rc)) }
        pthread_detach(thread)
    }

    /// Starts a flush (when none is running).
    public func request() {
        guard !isBusy else { return }
        var byte: UInt8 = 1
        isBusy = write(requests[1], &byte, 1) == 1
    }

    /// After `fd` became readable: whether the flush succeeded.
    public func collect() -> Bool {
        var byte: UInt8 = 0
        let n = read(done[0], &byte, 1)
        guard n == 1 else { return false }
        isBusy = false
        return byte == 1
    }
}
