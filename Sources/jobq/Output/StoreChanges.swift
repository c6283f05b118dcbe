import JobStore

/// Waits until the database may have changed, without polling it: every commit writes the WAL
/// file, and inotify reports that. But the event comes with the commit's first write, before the
/// commit is visible (the WAL index is updated through shared memory, which inotify does not
/// see, after the commit's fsync: ~0.1–0.3 ms here). So after an event it lets a moment pass
/// (`settle`) before the caller looks, and then wakes the caller a few more times — 2, 10, 50,
/// 200 and 1,000 ms after that look — to look again: a commit whose event came just before
/// the look, but that was not visible yet, is seen 2 ms later, not at the next commit. With
/// no event at all it sleeps until one comes (or `longest` passes: a last safety net).
///
/// Under a stream of commits (jobs ending back to back) a look that an event brings comes at
/// least `spacing` ms after the previous look (the 2 ms recheck may fall in between; the caller
/// may ask for more than `burstInterval`), so that a `jobq wait` costs the machine little while
/// the jobs it waits for run.
struct StoreChanges {
    let watcher: DirectoryWatcher
    private var rechecks: [Int64] = []
    private var lastLook: Int64 = 0

    static let settle: Int64 = 1
    static let burstInterval: Int64 = 5
    static let rechecksAfterALook: [Int64] = [2, 10, 50, 200, 1_000]

    init(home: Home, alsoWatching extra: [String] = []) throws {
        // Its commands return once they are done watching: the watch's release is left to a child.
        watcher = try DirectoryWatcher(directories: [home.path] + extra, events: DirectoryWatcher.changes, closesInBackground: true)
    }

    /// Returns when it is time to look at the database again.
    mutating func next(longest: Int64 = 2_000, spacing: Int64 = burstInterval) {
        let now = WallClock.monotonic()
        let timeout = min(longest, rechecks.first.map { max(0, $0 - now) } ?? longest)
        if !EventWait.wait(for: [watcher.fd], timeout: timeout).isEmpty {
            let woken = WallClock.monotonic()
            _ = EventWait.wait(for: [], timeout: max(woken + Self.settle, lastLook + max(spacing, Self.burstInterval)) - woken)
            _ = watcher.drain()
            rechecks = Self.rechecksAfterALook.map { WallClock.monotonic() + $0 }
        } else if let first = rechecks.first, WallClock.monotonic() >= first {
            rechecks.removeFirst()
        }
        lastLook = WallClock.monotonic()
    }
}
