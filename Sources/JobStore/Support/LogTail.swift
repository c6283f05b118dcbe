#if canImport(Glibc)
import Glibc
#endif

/// The last lines of a log file, read from its end: fast however large the log grew.
public enum LogTail {
    /// Up to `count` last lines, looking at no more than the last `maxBytes` bytes. Empty
    /// when the file is missing or empty.
    public static func lastLines(of path: String, count: Int, maxBytes: Int = 8192) -> [String] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 else { return [] }
        let length = min(Int(info.st_size), maxBytes)
        var bytes = [UInt8](repeating: 0, count: length)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, length, off_t(Int(info.st_size) - length)) }
        guard n > 0 else { return [] }
        var lines = bytes[0..<n].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        // The first line may be cut when we did not read from the start of the file.
        if length < Int(info.st_size) && lines.count > 1 { lines.removeFirst() }
        return lines.suffix(count).map { String(decoding: $0, as: UTF8.self) }
    }
}
