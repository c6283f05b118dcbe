/// Many short byte strings kept in one buffer: the lines of `jobq add --stdin`, each the last
/// word of its job's command. A 100,000-line add then costs two arrays, not 100,000 Strings
/// to make, to encode again into argv blobs, and to free.
public struct WordList: Sendable, Equatable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var ranges: [Range<Int>] = []

    public init() {}

    public init(_ words: [String]) {
        for var word in words { word.withUTF8 { append($0) } }
    }

    public var count: Int { ranges.count }
    public var isEmpty: Bool { ranges.isEmpty }

    /// Not generic: an unspecialized generic copy, across modules, cost ~4,000 instructions a line.
    public mutating func append(_ word: UnsafeBufferPointer<UInt8>) {
        let start = bytes.count
        bytes.append(contentsOf: word)
        ranges.append(start..<bytes.count)
    }

    public subscript(index: Int) -> String { String(decoding: bytes[ranges[index]], as: UTF8.self) }

    /// The index of the longest word (the first of equals), nil when there is none.
    public var longestIndex: Int? {
        ranges.indices.max { ranges[$0].count < ranges[$1].count || (ranges[$0].count == ranges[$1].count && $0 > $1) }
    }
}
