import Glibc

/// Many short byte strings kept in one buffer: the lines of `jobq add --stdin`, each the last
/// word of its job's command. A 100,000-line add then costs two arrays, not 100,000 Strings
/// to make, to encode again into argv blobs, and to free.
public struct WordList: Sendable {
    private(set) var bytes: [UInt8] = []
    private(set) var ranges: [Range<Int>] = []

    init(_ words: [String]) {
        for var word in words { word.withUTF8 { append($0) } }
    }

    /// The lines of `text` that hold more than blanks (spaces, tabs) and do not start with `#`
    /// after them, as they are (leading blanks and a `\r` kept), with invalid UTF-8 repaired as
    /// `String(decoding:)` would repair each line. `text` holds no NUL byte.
    public init(lines text: [UInt8]) {
        // Repaired as a whole: no invalid sequence spans a newline (an ASCII byte ends it).
        var text = text
        if String(validating: text, as: UTF8.self) == nil { text = Array(String(decoding: text, as: UTF8.self).utf8) }
        text.withUnsafeBufferPointer { text in
            guard let base = text.baseAddress else { return }
            var start = 0
            while start < text.count {
                let newline = memchr(base + start, Int32(UInt8(ascii: "\n")), text.count - start)
                let end = newline.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? text.count
                var first = start
                while first < end && (text[first] == UInt8(ascii: " ") || text[first] == UInt8(ascii: "\t")) {
                    first += 1
                }
                if first < end && text[first] != UInt8(ascii: "#") {
                    append(UnsafeBufferPointer(rebasing: text[start..<end]))
                }
                start = end + 1
            }
        }
    }

    public var count: Int { ranges.count }
    public var isEmpty: Bool { ranges.isEmpty }

    public subscript(index: Int) -> String { String(decoding: bytes[ranges[index]], as: UTF8.self) }

    /// The index of the longest word (the first of equals), nil when there is none.
    public var longestIndex: Int? {
        ranges.indices.max { ranges[$0].count < ranges[$1].count || (ranges[$0].count == ranges[$1].count && $0 > $1) }
    }

    /// Not generic: an unspecialized generic copy, across modules, cost ~4,000 instructions a line.
    private mutating func append(_ word: UnsafeBufferPointer<UInt8>) {
        let start = bytes.count
        bytes.append(contentsOf: word)
        ranges.append(start..<bytes.count)
    }
}
