import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Copies the write-ahead log into the database file (a checkpoint) for the daemon, on a thread
/// and a connection of its own. A large `add --stdin` leaves that copy to the daemon (see
/// `SQLiteStore.leaveCheckpointToOthers`); it takes ~0.1 s for 100,000 jobs here, and on the
/// daemon's own loop it would hold up everything else for that long: adds waiting on the socket,
/// the workers' flush requests, signals.
///
/// One copy at a time: a request that comes while one runs makes it run once more afterwards
/// (the running copy may have begun before that request's commit).
final class LogCopier: Sendable {
    private struct State {
        var running = false
        var requestedAgain = false
    }

    private let databasePath: String
    private let logger: Logger
    private let state = Mutex(State())

    init(databasePath: String, logger: Logger) {
        self.databasePath = databasePath
        self.logger = logger
    }

    /// Starts a copy, or asks the running one to go once more. Never waits.
    func request() {
        let start = state.withLock { state in
            if state.running {
                state.requestedAgain = true
                return false
            }
            state.running = true
            return true
        }
        guard start else { return }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&thread, &attributes, { context in
            Unmanaged<LogCopier>.fromOpaque(context!).takeRetainedValue().copyUntilNoneRequested()
            return nil
        }, context)
        if created != 0 {
            Unmanaged<LogCopier>.fromOpaque(context).release()
            state.withLock { $0.running = false }
            logger.warning("cannot start a thread to copy the write-ahead log (\(systemError(created))); commits will copy it")
        }
    }

    private func copyUntilNoneRequested() {
        repeat { copy() } while state.withLock { state in
            let again = state.requestedAgain
            state.requestedAgain = false
            if !again { state.running = false }
            return again
        }
    }

    private func copy() {
        let started = WallClock.monotonic()
        do {
            // A connection of this thread's own (a connection is used from one thread at a time),
            // with the smallest page cache: a checkpoint reads the log through its own buffer.
            let store = try SQLiteStore(path: databasePath, create: false, cacheKilobytes: 64)
            let (logFrames, copied) = try store.checkpointLog()
            let milliseconds = WallClock.monotonic() - started
            logger.info("write-ahead log copied into the database: \(copied) of \(logFrames) pages in \(milliseconds) ms")
        } catch {
            // Harmless: a later commit past the threshold, or the last connection to close, copies it.
            logger.warning("cannot copy the write-ahead log into the database: \(error)")
        }
    }
}
