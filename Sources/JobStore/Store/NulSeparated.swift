/// Lists of strings stored as one BLOB: each string followed by a NUL byte. Exact for any
/// argv or environment, since neither can contain NUL.
enum NulSeparated {
    static func encode(_ strings: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(strings.reduce(0) { $0 + $1.utf8.count + 1 })
        for string in strings {
            bytes.append(contentsOf: string.utf8)
            bytes.append(0)
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> [String] {
        bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast().map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    /// FNV-1a, 64 bits: finds candidate rows; equality of the bytes decides.
    static func digest(_ bytes: [UInt8]) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }
}
