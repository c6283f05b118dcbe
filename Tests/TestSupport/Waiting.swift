import Glibc

/// Waits until `condition` holds, checking it every few milliseconds, for at most `seconds`.
/// Returns whether it held. Tests wait on conditions like this, never for a fixed time.
@discardableResult
public func waitUntil(seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = monotonicSeconds() + seconds
    var pause: UInt32 = 1_000
    while true {
        if try condition() { return true }
        if monotonicSeconds() > deadline { return false }
        usleep(pause)  // wait-ok: the pause between checks of a condition that has a deadline
        pause = min(pause * 2, 50_000)
    }
}

public func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
