import Glibc
import JobStore

/// A fresh folder for one test (Swift Testing runs tests in parallel in one process), removed
/// with everything in it when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "test") {
        var template = Array("/tmp/jobq-\(label)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed: \(errno)")
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    deinit { TemporaryDirectory.remove(path) }

    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to a file in the folder and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String, mode: mode_t = 0o644) -> String {
        writeBytes(name, Array(text.utf8), mode: mode)
    }

    @discardableResult
    public func writeBytes(_ name: String, _ bytes: [UInt8], mode: mode_t = 0o644) -> String {
        let target = file(name)
        let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        precondition(fd >= 0, "cannot write \(target): \(errno)")
        writeAll(bytes, to: fd)
        close(fd)
        return target
    }

    /// Removes a file or a folder tree without following symlinks.
    public static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in DirectoryListing.names(in: path) { remove(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// Reads a whole file, or nil when it cannot be opened.
public func readFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes `bytes` as the whole file at `path` (created with `mode`); returns whether it did.
@discardableResult
public func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
}

/// A file's size in bytes, or nil when it does not exist.
public func fileSize(_ path: String) -> Int? {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : nil
}
