#if canImport(Glibc)
import Glibc
#endif

/// Reads a task file from disk safely: only a regular file (never a FIFO, a device or a
/// folder, which could block or never end), no more than the parser's limit, and — for the
/// spool — without following a symlink and only when the daemon's user owns it.
public enum TaskFileReader {
    public struct Contents: Sendable {
        public var bytes: [UInt8]
        public var owner: uid_t
    }

    /// Reads `path`. `followSymlinks: false` refuses a symlink (the spool); `requireOwner`
    /// refuses a file owned by another user.
    public static func read(_ path: String, followSymlinks: Bool = true, requireOwner: uid_t? = nil)
        -> Result<Contents, TaskFileError>
    {
        let name = path
        func failure(_ problem: String) -> Result<Contents, TaskFileError> {
            .failure(TaskFileError(file: name, line: nil, problem: problem))
        }
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
        var flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
        if !followSymlinks { flags |= O_NOFOLLOW }
        let fd = open(path, flags)
        guard fd >= 0 else {
            let error = errno
            if error == ELOOP && !followSymlinks { return failure("is a symlink; put the file itself in the spool") }
            return failure("cannot be read: \(systemError(error))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return failure("cannot be read: \(systemError(errno))") }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return failure("is a folder, not a file")
        case S_IFIFO: return failure("is a FIFO, not a regular file")
        default: return failure("is not a regular file")
        }
        if let owner = requireOwner, info.st_uid != owner {
            return failure("is owned by user \(info.st_uid), not by the daemon's user (\(owner)); a task file is code "
                + "the daemon would run, so only its own user's files are accepted")
        }
        if info.st_size > TaskFileParser.maximumBytes {
            return failure("is \(info.st_size) bytes; the limit is \(TaskFileParser.maximumBytes) bytes (1 MiB)")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { raw in Glibc.read(fd, raw.baseAddress! + count, raw.count - count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return failure("cannot be read: \(systemError(errno))") }
            if n == 0 { break }
            count += n
        }
        if count > TaskFileParser.maximumBytes {
            return failure("is more than \(TaskFileParser.maximumBytes) bytes (1 MiB), the limit")
        }
        bytes.removeSubrange(count...)
        return .success(Contents(bytes: bytes, owner: info.st_uid))
    }
}
