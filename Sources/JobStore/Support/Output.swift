#if canImport(Glibc)
import Glibc
#endif

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR; gives up on other errors
/// (a closed pipe, a full disk), since there is nobody left to tell.
public func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32) {
    var offset = 0
    while offset < bytes.count {
        let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if n > 0 {
            offset += n
        } else if n < 0 && errno == EINTR {
            continue
        } else {
            return
        }
    }
}

public func writeAll(_ bytes: [UInt8], to fd: Int32) {
    bytes.withUnsafeBytes { writeAll($0, to: fd) }
}

public func writeAll(_ text: String, to fd: Int32) {
    writeAll(Array(text.utf8), to: fd)
}
