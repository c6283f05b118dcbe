import CPosix

/// Gives freed heap memory back to the system once a process has been idle for a second —
/// not on every turn of its loop, where it would cost time between an event and the next.
struct IdleTrim {
    private var due: Int64?

    static let delay: Int64 = 1000

    /// Something happened: trim a second after things go quiet.
    mutating func noteActivity() {
        due = WallClock.monotonic() + Self.delay
    }

    /// Milliseconds until the trim is due (for the loop's poll timeout), nil when none is.
    var timeout: Int64? { due.map { max(0, $0 - WallClock.monotonic()) } }

    /// Trims if it is due.
    mutating func runIfDue() {
        guard let due, WallClock.monotonic() >= due else { return }
        self.due = nil
        jq_malloc_release_free()
    }
}
