import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// A wake-up channel on a FIFO in the home's run folder: anyone pokes it with one byte; its
/// owner polls it and drains it. Poking when nobody listens is harmless (and cheap: ENXIO).
public final class Poke {
    public let path: String
    public let fd: Int32

    /// Creates the FIFO if needed and opens it for reading (O_RDWR, so it never reports EOF
    /// when the last poker closes).
    public init(listeningAt path: String) throws(StoreError) {
        self.path = path
        if mkfifo(path, 0o600) != 0 && errno != EEXIST {
            throw StoreError.cannotOpen(path: path, detail: systemError(errno))
        }
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.cannotOpen(path: path, detail: systemError(errno)) }
    }

    deinit { close(fd) }

    /// Reads everything poked so far, returning the bytes.
    @discardableResult
    public func drain() -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                result += buffer[0..<n]
                continue
            }
            if n < 0 && errno == EINTR { continue }
            return result
        }
    }

    /// Whether someone listens on the FIFO at `path` now (it can be opened for writing only then).
    public static func isListening(at path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    /// Writes `byte` to the FIFO at `path` if someone listens; never blocks, and never dies of
    /// SIGPIPE when the listener goes away meanwhile (a command pokes after its commit).
    @discardableResult
    public static func send(_ byte: UInt8 = UInt8(ascii: "!"), to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var value = byte
        return jq_write_without_sigpipe(fd, &value, 1) == 1
    }
}

/// Pokes one FIFO again and again through a descriptor kept open (`Poke.send` opens it each
/// time: three system calls where one does).
public final class PokeSender {
    public let path: String
    private var fd: Int32 = -1

    public init(path: String) { self.path = path }

    deinit { if fd >= 0 { close(fd) } }

    /// Writes `byte`; false when nobody listens or the FIFO is full (never blocks).
    public func send(_ byte: UInt8) -> Bool {
        for _ in 0..<2 {
            if fd < 0 { fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC) }
            guard fd >= 0 else { return false }
            var value = byte
            // A plain write: the workers that use this ignore SIGPIPE (see SignalChannel).
            if write(fd, &value, 1) == 1 { return true }
            // The listener went away (EPIPE) or a new one replaced the FIFO: open it again once.
            close(fd)
            fd = -1
        }
        return false
    }
}
