import Foundation

/// Work on a thread of its own, waited for later: one side of an exchange that blocks while the
/// test runs the other side, or work that must not change the state (signal mask, timer slack)
/// of the threads other tests run on.
public final class OnNewThread<T>: @unchecked Sendable {
    private var value: T?
    private let done = DispatchSemaphore(value: 0)

    /// Starts `body` on a new thread.
    public init(_ body: @escaping () -> T) {
        nonisolated(unsafe) let work = body
        let thread = Thread { [self] in
            value = work()
            done.signal()
        }
        thread.start()
    }

    /// Waits for `body` to return, and returns what it did.
    public func result() -> T {
        done.wait()
        return value!
    }

    /// Runs `body` on a thread of its own and waits for its result.
    public static func run(_ body: @escaping () -> T) -> T { OnNewThread(body).result() }
}
