import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// A lock file that says "someone is alive": an open-file-description lock, which the kernel
/// drops when the holder dies however it dies, so no PID check (and no PID reuse) is involved.
/// The holder writes its PID into the file for messages and signals; the lock, not the PID,
/// decides liveness.
public final class LockFile {
    public let path: String
    public let fd: Int32
    public private(set) var isLocked = false

    /// Opens (creating, 0600) the lock file. Does not lock it.
    public init(path: String) throws(StoreError) {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw StoreError.cannotOpen(path: path, detail: systemError(errno)) }
    }

    /// Adopts a descriptor that already holds the lock (a worker inherits its slot's lock).
    public init(adopting fd: Int32, path: String) {
        self.path = path
        self.fd = fd
        isLocked = true
        _ = jq_set_cloexec(fd)
    }

    deinit { close(fd) }

    /// Takes the lock if nobody holds it. Returns whether it is now ours.
    public func tryLock() -> Bool {
        if isLocked { return true }
        isLocked = jq_lock_exclusive(fd, 0) == 0
        return isLocked
    }

    /// Drops the lock (a supervisor that drains gives back a slot it will not use again).
    public func unlock() {
        if isLocked && jq_unlock(fd) == 0 { isLocked = false }
    }

    /// Whether another open file holds the lock (the holder is alive).
    public var isHeldByOther: Bool { jq_lock_is_held(fd) == 1 }

    /// Writes `pid` as the file's first line (after taking the lock), and a short `note` (the
    /// daemon's worker count) as its second.
    public func recordHolder(_ pid: pid_t, note: String? = nil) {
        let text = Array(("\(pid)\n" + (note.map { $0 + "\n" } ?? "")).prefix(Self.jobLineOffset).utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// The holder's note (the second line), if any.
    public func holderNote() -> String? {
        var buffer = [UInt8](repeating: 0, count: Self.jobLineOffset)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let lines = String(decoding: buffer[0..<n].prefix { $0 != 0 }, as: UTF8.self).split(separator: "\n")
        return lines.count > 1 ? String(lines[1]) : nil
    }

    /// A worker's slot file also says which job's process it runs: `job ID ATTEMPT PID START`
    /// on a fixed-width second line, rewritten in place at every start (one pwrite, no fsync:
    /// it only needs to outlive the worker, not the machine).
    public func recordJob(_ id: JobID, attempt: Int, process: ProcessIdentity) {
        let bytes = paddedLine("job \(id) \(attempt) \(process.pid) \(process.startTime)", width: Self.jobLineWidth)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(Self.jobLineOffset)) }
    }

    /// The job process the slot file names, if it names one (where jobq writes it, or where a
    /// jobq before 2026-12-05 did: a worker of an earlier version may have written it).
    public func recordedJob() -> (id: JobID, attempt: Int, process: ProcessIdentity)? {
        recordedJob(at: Self.jobLineOffset) ?? recordedJob(at: 32)
    }

    private func recordedJob(at offset: Int) -> (id: JobID, attempt: Int, process: ProcessIdentity)? {
        var buffer = [UInt8](repeating: 0, count: Self.jobLineWidth)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n > 0 else { return nil }
        let words = String(decoding: buffer[0..<n], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard words.count == 5, words[0] == "job", let id = Int64(words[1]), let attempt = Int(words[2]),
            let pid = pid_t(words[3]), let start = Int64(words[4])
        else { return nil }
        return (JobID(id), attempt, ProcessIdentity(pid: pid, startTime: start))
    }

    /// Room for the PID and the note (a supervisor's is its boot: "boot " and a 36-character id).
    static let jobLineOffset = 64
    static let jobLineWidth = 96

    /// The PID the holder wrote, if any.
    public func holderPID() -> pid_t? {
        var buffer = [UInt8](repeating: 0, count: Self.jobLineOffset)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").first ?? ""
        return pid_t(text)
    }
}

/// `text` padded with spaces to `width` bytes, the last a newline: a fixed-width line that a
/// later, shorter one overwrites whole (the slot and journal files are written in place).
func paddedLine(_ text: String, width: Int) -> [UInt8] {
    var bytes = Array(text.utf8)
    bytes.reserveCapacity(max(width, bytes.count + 1))
    bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: max(0, width - 1 - bytes.count)))
    bytes.append(UInt8(ascii: "\n"))
    return bytes
}
