import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// Reports changes to the files of a folder (inotify) on a descriptor to poll: the spool (a
/// file closed after writing, moved in, or created), or the home (the database's WAL changes
/// on every commit, which is how `jobq wait` and `log --follow` learn of state changes
/// without polling).
public final class DirectoryWatcher {
    public let fd: Int32

    /// The events the spool needs: complete files, and entries that are never written
    /// (a symlink or FIFO).
    public static let newFiles = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)
    /// Any change to a file in the folder.
    public static let changes = UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE)

    /// Whether closing it leaves releasing the watch to a child process (see
    /// jq_close_watch_in_background): for a command that returns once it is done watching.
    let closesInBackground: Bool

    public init(directories: [String], events mask: UInt32, closesInBackground: Bool = false) throws(StoreError) {
        self.closesInBackground = closesInBackground
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw StoreError.cannotOpen(path: directories[0], detail: "inotify: \(systemError(errno))") }
        for directory in directories where inotify_add_watch(fd, directory, mask) < 0 {
            let error = errno
            close(fd)
            throw StoreError.cannotOpen(path: directory, detail: "inotify: \(systemError(error))")
        }
    }

    public convenience init(directory: String, events mask: UInt32, closesInBackground: Bool = false) throws(StoreError) {
        try self.init(directories: [directory], events: mask, closesInBackground: closesInBackground)
    }

    deinit {
        if closesInBackground {
            _ = jq_close_watch_in_background(fd)
        } else {
            close(fd)
        }
    }

    /// The names of the files that changed since the last call, and whether events were lost
    /// (the queue overflowed: scan the whole folder).
    public func drain() -> (names: [String], overflowed: Bool) {
        var names: [String] = []
        var overflowed = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var offset = 0
            // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[len]; }
            while offset + 16 <= n {
                let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) }
                let length = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) })
                if mask & UInt32(IN_Q_OVERFLOW) != 0 { overflowed = true }
                if length > 0 {
                    let name = buffer[(offset + 16)..<min(n, offset + 16 + length)].prefix { $0 != 0 }
                    if !name.isEmpty { names.append(String(decoding: name, as: UTF8.self)) }
                }
                offset += 16 + length
            }
        }
        return (names, overflowed)
    }
}
