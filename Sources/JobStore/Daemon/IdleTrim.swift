import CPosix

/// Gives memory back to the system once a process has been idle for a second — not on every
/// turn of its loop, where it would cost time between an event and the next: freed heap
/// memory, and the pages of code it mapped while busy (a daemon or worker that ran jobs has
/// touched ~4 MiB of the executable's code, most of which an idle loop never runs again).
/// Mapping the code back costs the first job after a quiet second ~0.4 ms of dispatch latency
/// (W3-style after 1.5 s idle, medians of 30, two runs: 3.40 and 3.67 ms without the code
/// trim, 3.76 and 4.12 ms with it); the RSS of an idle daemon + 2 workers is 9.2 MiB, not 19.
struct IdleTrim {
    private var due: Int64?

    static let delay: Int64 = 1000

    /// The first trim is due as soon as start-up is done (the first time the loop finds
    /// nothing to do): start-up's code — argument parsing, migrations, opening the database —
    /// is not run again, and what start-up freed is kept by `keepFreedMemoryUntilIdle`.
    init() { due = WallClock.monotonic() }

    /// While the process is busy, freed heap memory stays with it (up to 8 MiB): otherwise
    /// glibc hands the top of the heap back on every free and takes it again on the next
    /// request — a brk pair and fresh page faults per enqueue or job (six brk calls per `add`
    /// were measured in the daemon). The trim when idle gives it back.
    static func keepFreedMemoryUntilIdle() {
        jq_malloc_keep_freed(8 << 20)
    }

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
        jq_release_code_pages()
    }
}
