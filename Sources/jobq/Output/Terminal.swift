import CPosix
import Glibc
import JobStore

/// Writes to stdout and stderr through one buffer each, written out in blocks of 64 KiB and at
/// the end, so that listing 10,000 jobs costs a few system calls, not 10,000.
struct Terminal {
    private var buffer: [UInt8] = []

    mutating func print(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        endLine()
    }

    /// A number on a line of its own (the ids `add` prints, up to 100,000 at a time).
    mutating func print(_ value: Int64) {
        appendDecimal(value, to: &buffer)
        endLine()
    }

    /// A line given as bytes.
    mutating func print(bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        endLine()
    }

    /// Bytes as they are (a block of whole lines): a large block goes out at once, uncopied.
    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count < 1 << 12 {
            buffer.append(contentsOf: bytes)
            if buffer.count > 1 << 16 { flush() }
        } else {
            flush()
            writeAll(bytes, to: STDOUT_FILENO)
        }
    }

    private mutating func endLine() {
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count > 1 << 16 { flush() }
    }

    mutating func flush() {
        writeAll(buffer, to: STDOUT_FILENO)
        buffer.removeAll(keepingCapacity: true)
    }

    /// A JSON array and a newline, written as `elements` emits its values (`list --json`,
    /// `errors --json`): a long history goes out as it is read, never held whole.
    mutating func writeJSONArray(_ elements: (_ emit: (JSON) -> Void) throws -> Void) rethrows {
        var out = ByteWriter(capacity: 1 << 12)
        var array = JSON.ArrayWriter()
        try elements { value in
            array.append(value, to: &out)
            write(out.bytes)  // into the buffer, which goes out in 64 KiB blocks
            out.removeAll()
        }
        array.end(&out)
        out.append(UInt8(ascii: "\n"))
        write(out.bytes)
    }

    /// One line on stderr, unbuffered.
    static func printError(_ text: String) {
        writeAll(text + "\n", to: STDERR_FILENO)
    }

    /// Columns of the terminal on stdout, or nil when stdout is not a terminal (then nothing
    /// is cut to fit).
    static var width: Int? {
        let columns = Int(jq_terminal_width(STDOUT_FILENO))
        return columns > 0 ? columns : nil
    }

    /// Whether colour may be used: a terminal, and NO_COLOR not set.
    static var usesColor: Bool {
        isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
    }
}
