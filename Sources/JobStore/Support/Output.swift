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

/// Writes `value` in decimal at the end of `buffer` (at least 20 bytes); returns how many bytes
/// it took.
private func decimal(_ value: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
    var magnitude = value.magnitude
    var position = buffer.count
    repeat {
        position -= 1
        buffer[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
    } while magnitude > 0
    if value < 0 {
        position -= 1
        buffer[position] = UInt8(ascii: "-")
    }
    return buffer.count - position
}

/// `body` with the bytes of `value` in decimal, as `String(value)` writes them (no string made).
/// Not generic on purpose: `jobq add`'s quick path calls it, and an unspecialized generic call
/// from another module costs a metadata lookup by mangled name (~9,000 instructions).
public func withDecimal(_ value: Int64, _ body: (UnsafeRawBufferPointer) -> Void) {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for "-9223372036854775808"
    withUnsafeMutableBytes(of: &digits) { buffer in
        let length = decimal(value, into: buffer)
        body(UnsafeRawBufferPointer(rebasing: buffer[(buffer.count - length)...]))
    }
}

/// Appends `value` in decimal to `bytes`, as `String(value)` writes it.
public func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
    withDecimal(value) { bytes.append(contentsOf: $0) }
}
