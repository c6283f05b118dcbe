import JobStore

/// Waits until the database may have changed, without polling it: every commit writes the WAL
/// file, and inotify reports that. But the event comes with the commit's first write, before the
/// commit is visible (the WAL index is updated through shared memory, which inotify does not
/// see, and the fsync may take a while). So after an event the caller is woken a few more
/// times — 5, 20, 100 and 500 ms later — to look again; with no event at all it sleeps until
/// one comes (or `longest` passes: a last safety net). Under a stream of commits it looks at most every 5 ms.
struct StoreChanges {
    let watcher: DirectoryWatcher
    private var rechecks: [Int64] = []

    static let rechecksAfterAnEvent: [Int64] = [5, 20, 100, 500]

    init(home: Home, alsoWatching extra: [String] = []) throws {
        watcher = try DirectoryWatcher(directories: [home.path] + extra, events: DirectoryWatcher.changes)
    }

    /// Returns when it is time to look at the database again.
    mutating func next(longest: Int64 = 2_000) {
        let now = WallClock.monotonic()
        let timeout = min(longest, rechecks.first.map { max(0, $0 - now) } ?? longest)
        let woken = !EventWait.wait(for: [watcher.fd], timeout: timeout).isEmpty
        if woken {
            // Let the commit finish (and more of a burst arrive) before looking.
            _ = EventWait.wait(for: [], timeout: 5)
            _ = watcher.drain()
            let eventTime = WallClock.monotonic()
            rechecks = Self.rechecksAfterAnEvent.dropFirst().map { eventTime + $0 }
        } else if let first = rechecks.first, WallClock.monotonic() >= first {
            rechecks.removeFirst()
        }
    }
}
