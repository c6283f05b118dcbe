import Glibc

/// A file jobs wait for: a job whose script starts with `shellWait` holds until the test opens
/// the gate, so it is still running at whatever moment the test acts, however slow the machine.
public struct Gate {
    public let path: String

    public init(_ path: String) { self.path = path }

    /// Shell commands that return once the gate is open.
    public var shellWait: String { "while [ ! -f \(path) ]; do sleep 0.05; done" }

    public func open() {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot create \(path): \(errno)")
        close(fd)
    }
}
