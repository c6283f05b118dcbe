import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// Writes the write-ahead log's future blocks before the commits need them.
///
/// On ext4 an fdatasync of a file that grew must also write the file's inode (its new size):
/// measured on this machine's disk, an 8 KiB append + fdatasync takes 120–200 µs, overwriting
/// the same bytes 90–100 µs. A new log grows by every commit until the first checkpoint (1,000
/// pages), so half of the first 1,000 single-job enqueues after a daemon starts pay for
/// growth. PostgreSQL preallocates its WAL segments for the same reason; this does it once when
/// the daemon starts: zeros up to the checkpoint size, written and flushed.
///
/// Safe for SQLite: the bytes past the last valid frame are ignored (a frame of zeros fails
/// the salt and checksum checks, so recovery stops there), exactly as SQLite treats the stale
/// frames it leaves itself after restarting the log. The write lock is held throughout, so no
/// frame can be appended while the zeros are written.
extension Database {
    /// The log size the zeros reach: the autocheckpoint threshold, plus room for the commit that
    /// crosses it.
    public func logPreallocationBytes() throws(SQLiteError) -> Int {
        let pageSize = Int(try integer("PRAGMA page_size") ?? 4096)
        let checkpointPages = Int(try integer("PRAGMA wal_autocheckpoint") ?? 1000)
        return 32 + (checkpointPages + checkpointPages / 10) * (pageSize + 24)
    }

    /// Grows the log to `bytes` with zeros when it is shorter and the filesystem has room to
    /// spare (at least 16 times as much free); returns how many bytes it added. On a failed
    /// write the log is cut back to its old size: it is an optimisation, never a reason to fill
    /// a disk.
    @discardableResult
    public func preallocateLog(bytes: Int) throws -> Int {
        try write { () throws -> Int in
            let logPath = self.logPath
            let fd = open(logPath, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { return 0 }  // No log yet: SQLite creates it with the first write.
            defer { close(fd) }
            var info = stat()
            var space = statvfs()
            guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, fstatvfs(fd, &space) == 0 else {
                return 0
            }
            let start = Int(info.st_size)
            let free = Int(space.f_bavail) * Int(space.f_frsize)
            guard start < bytes, free / 16 >= bytes else { return 0 }
            let zeros = [UInt8](repeating: 0, count: 1 << 18)
            var offset = start
            while offset < bytes {
                let count = min(zeros.count, bytes - offset)
                let written = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, count, off_t(offset)) }
                if written < 0 && errno == EINTR { continue }
                if written == 0 { errno = ENOSPC }
                guard written > 0 else { return try cutBack(fd, to: start, logPath) }
                offset += written
            }
            var synced = fdatasync(fd)
            while synced != 0 && errno == EINTR { synced = fdatasync(fd) }
            guard synced == 0 else { return try cutBack(fd, to: start, logPath) }
            return bytes - start
        }
    }

    private func cutBack(_ fd: Int32, to size: Int, _ logPath: String) throws -> Int {
        let reason = String(cString: strerror(errno))
        _ = ftruncate(fd, off_t(size))
        throw SQLiteError(code: SQLITE_IOERR, message: "cannot preallocate \(logPath): \(reason)")
    }
}
