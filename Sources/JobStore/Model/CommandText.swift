#if canImport(Glibc)
import Glibc
#endif

/// Command lines as a shell would read them back, built as bytes.
public enum CommandText {
    /// Appends `word`, quoted with single quotes when it holds anything but safe characters.
    public static func appendQuoted(_ word: UnsafeRawBufferPointer, to out: inout ByteWriter) {
        if !word.isEmpty && word.allSatisfy(isSafe) {
            out.append(word)
            return
        }
        out.append(UInt8(ascii: "'"))
        for byte in word {
            if byte == UInt8(ascii: "'") {
                out.append(literal: "'\\''")
            } else {
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "'"))
    }

    /// Appends the words of a NUL-separated argv, each quoted as needed, separated by spaces.
    /// (Over the raw bytes: `jobq list` does this for every job it shows.)
    public static func appendQuoted(argvBlob blob: UnsafeRawBufferPointer, to out: inout ByteWriter) {
        guard let base = blob.baseAddress else { return }
        var start = 0
        while start < blob.count, let nul = memchr(base + start, 0, blob.count - start) {
            let end = base.distance(to: UnsafeRawPointer(nul))
            if start > 0 { out.append(UInt8(ascii: " ")) }
            appendQuoted(UnsafeRawBufferPointer(rebasing: blob[start..<end]), to: &out)
            start = end + 1
        }
    }

    static func isSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "+"),
            UInt8(ascii: "%"), UInt8(ascii: "@"):
            return true
        default:
            return false
        }
    }
}
