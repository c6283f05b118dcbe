import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// A supervisor's journal of reserved starts (`run/slot-N.starts`, N its first slot): the
/// reserved jobs it started and has not recorded in the database yet, and the reservations
/// `jobq cancel` took back from it. Its lock (an open-file-description lock, held for a few
/// system calls) makes "start it" and "cancel it" exclusive: under it, the supervisor starts a
/// reservation only if no cancel names it, and `cancel` cancels one only if no start names it —
/// so a queued job that `cancel` reports cancelled never runs.
///
/// Starts are `start ID ATTEMPT PID START` lines in a ring of `startCapacity` entries, each
/// written before the job's spawn (PID 0) and again after it, never flushed (they only need to
/// outlive the supervisor: after a crash of the machine every reservation counts as maybe
/// started). Entries recorded since stay until overwritten: whoever reads them checks them
/// against the database. Cancels are `cancel ID ATTEMPT` lines, cleared by the supervisor once
/// read (which cancels those reservations in its next step, should `cancel` not get to it).
public final class StartJournal {
    public let path: String
    let fd: Int32

    /// How many starts a supervisor may leave unrecorded.
    public static let startCapacity = 16
    static let startWidth = 64
    public static let cancelCapacity = 64
    static let cancelWidth = 24
    static var cancelsOffset: Int { startCapacity * startWidth }
    static var size: Int { cancelsOffset + cancelCapacity * cancelWidth }

    /// Opens the journal, creating it (0600) unless `create` is false. One that cannot be opened
    /// (`isOpen` false) has no starts, and can be neither locked nor written.
    public init(path: String, create: Bool = true) {
        self.path = path
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0o600)
    }

    deinit { if fd >= 0 { close(fd) } }

    public var isOpen: Bool { fd >= 0 }

    /// Empties the journal, its blocks written once (so that no later write needs a new block
    /// of a full disk). A new supervisor does this with its first slot's lock held, after the
    /// reconciler read what its predecessor left.
    public func reset() -> Bool {
        let blank = [UInt8](repeating: UInt8(ascii: " "), count: Self.size)
        return withLock { ftruncate(fd, 0) == 0 && write(blank, at: 0) } ?? false
    }

    /// Runs `body` holding the journal's lock; nil when the lock cannot be taken. (Whoever
    /// holds it holds it for a few system calls: nobody writes the database under it.)
    public func withLock<T>(_ body: () throws -> T) rethrows -> T? {
        guard jq_lock_exclusive(fd, 1) == 0 else { return nil }
        defer { _ = jq_unlock(fd) }
        return try body()
    }

    /// Notes a start in ring entry `entry` (with the lock held). Returns whether it was written.
    public func noteStart(entry: Int, _ id: JobID, attempt: Int, process: ProcessIdentity?) -> Bool {
        let line = paddedLine("start \(id) \(attempt) \(process?.pid ?? 0) \(process?.startTime ?? 0)", width: Self.startWidth)
        return write(line, at: (entry % Self.startCapacity) * Self.startWidth)
    }

    /// The starts the ring names.
    public func starts() -> [(id: JobID, attempt: Int, process: ProcessIdentity?)] {
        lines(at: 0, count: Self.startCapacity * Self.startWidth).compactMap { words in
            guard words.count == 5, words[0] == "start", let id = Int64(words[1]), let attempt = Int(words[2]),
                let pid = pid_t(words[3]), let start = Int64(words[4])
            else { return nil }
            return (JobID(id), attempt, pid > 0 ? ProcessIdentity(pid: pid, startTime: start) : nil)
        }
    }

    /// Adds a cancel of reservation `id` as it is now (`attempt`: its attempts so far), with the
    /// lock held. Returns false when the list is full (the supervisor empties it at its next
    /// start, or when poked) or cannot be written.
    public func addCancel(_ id: JobID, attempt: Int) -> Bool {
        var buffer = [UInt8](repeating: 0, count: Self.cancelCapacity * Self.cancelWidth)
        guard read(&buffer, at: Self.cancelsOffset) else { return false }
        for entry in 0..<Self.cancelCapacity where buffer[entry * Self.cancelWidth] != UInt8(ascii: "c") {
            let line = paddedLine("cancel \(id) \(attempt)", width: Self.cancelWidth)
            return write(line, at: Self.cancelsOffset + entry * Self.cancelWidth)
        }
        return false
    }

    /// The cancels listed, which it clears (with the lock held). Read before every start: a
    /// list without any costs one pread and a scan.
    public func takeCancels() -> [(id: JobID, attempt: Int)] {
        var buffer = [UInt8](repeating: 0, count: Self.cancelCapacity * Self.cancelWidth)
        guard read(&buffer, at: Self.cancelsOffset) else { return [] }
        let entries = (0..<Self.cancelCapacity).map { $0 * Self.cancelWidth }.filter { buffer[$0] == UInt8(ascii: "c") }
        guard !entries.isEmpty else { return [] }
        let cancels = entries.compactMap { start -> (id: JobID, attempt: Int)? in
            let words = String(decoding: buffer[start..<start + Self.cancelWidth], as: UTF8.self)
                .split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard words.count == 3, words[0] == "cancel", let id = Int64(words[1]), let attempt = Int(words[2])
            else { return nil }
            return (JobID(id), attempt)
        }
        _ = write([UInt8](repeating: UInt8(ascii: " "), count: buffer.count), at: Self.cancelsOffset)
        return cancels
    }

    private func write(_ bytes: [UInt8], at offset: Int) -> Bool {
        bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) } == bytes.count
    }

    private func read(_ buffer: inout [UInt8], at offset: Int) -> Bool {
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
        if n >= 0 && n < buffer.count { buffer.replaceSubrange(n..., with: repeatElement(0, count: buffer.count - n)) }
        return n >= 0
    }

    /// The words of each line in a region (a short file reads as blank).
    private func lines(at offset: Int, count: Int) -> [[Substring]] {
        var buffer = [UInt8](repeating: 0, count: count)
        guard read(&buffer, at: offset) else { return [] }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self).split(separator: "\n").map {
            $0.split(separator: " ")
        }
    }
}
