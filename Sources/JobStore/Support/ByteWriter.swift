#if canImport(Glibc)
import Glibc
#endif

/// A growable run of bytes written through a raw pointer, for output built in bulk: `jobq list`
/// writes some 80 bytes in a dozen pieces for each of thousands of jobs. Appending to an
/// `[UInt8]` checks the array's uniqueness and capacity in a call per piece, which cost that
/// list more instructions than formatting its numbers; here an append is a bounds test and a
/// copy. Not copyable: it owns its memory and frees it when it goes.
///
/// The appends are inlinable so that `jobq list` (another module) gets them inlined.
public struct ByteWriter: ~Copyable {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int
    @usableFromInline var length = 0
    @inlinable public var count: Int { length }

    public init(capacity: Int = 256) {
        self.capacity = max(capacity, 16)
        base = Self.reallocate(nil, capacity: self.capacity)
    }

    deinit { free(base) }

    /// malloc's memory, not Swift's allocator: `realloc` grows a large buffer without copying it.
    private static func reallocate(_ old: UnsafeMutablePointer<UInt8>?, capacity: Int) -> UnsafeMutablePointer<UInt8> {
        guard let memory = realloc(old, capacity) else { fatalError("out of memory (\(capacity) bytes)") }
        return memory.assumingMemoryBound(to: UInt8.self)
    }

    /// Everything written so far; valid until the next append.
    @inlinable public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Bytes written earlier, `range` being offsets into `bytes`; valid until the next append.
    @inlinable public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= length, "bytes past the end")
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    /// What was written, as text (invalid UTF-8 repaired as `String(decoding:)` does).
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    @inlinable @inline(__always)
    mutating func reserve(_ more: Int) {
        if length + more > capacity { grow(toHold: length + more) }
    }

    @usableFromInline
    mutating func grow(toHold needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        base = Self.reallocate(base, capacity: newCapacity)
        capacity = newCapacity
    }

    @inlinable @inline(__always)
    public mutating func append(_ byte: UInt8) {
        reserve(1)
        base[length] = byte
        length += 1
    }

    /// `bytes` must not point into this writer: growing may move its storage before the copy.
    @inlinable
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        if bytes.count <= 16 {
            // Most pieces of a table line are a few bytes: cheaper copied here than by a call.
            let target = base + length
            for index in 0..<bytes.count { target[index] = source.load(fromByteOffset: index, as: UInt8.self) }
        } else {
            memcpy(base + length, source, bytes.count)
        }
        length += bytes.count
    }

    /// Up to `maximum` bytes written in place: `body` gets room for them and returns how many
    /// it wrote (a table line laid out with one bounds test). `body` must not write past
    /// `maximum`: the check of what it returns comes after it ran.
    @inlinable
    public mutating func append(atMost maximum: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        reserve(maximum)
        let written = body(base + length)
        precondition(written >= 0 && written <= maximum, "wrote past the room it asked for")
        length += written
    }

    /// A literal's bytes (no string made).
    @inlinable
    public mutating func append(literal text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public mutating func append(_ text: String) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { append(UnsafeRawBufferPointer($0)) }
        if copied == nil { Array(text.utf8).withUnsafeBytes { append($0) } }
    }

    @inlinable
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// `times` copies of `byte` (padding).
    @inlinable
    public mutating func append(_ byte: UInt8, times: Int) {
        guard times > 0 else { return }
        reserve(times)
        for index in 0..<times { base[length + index] = byte }
        length += times
    }

    /// `value` in decimal, as `String(value)` writes it.
    public mutating func appendDecimal(_ value: Int64) {
        withDecimal(value) { append($0) }
    }

    /// Replaces bytes written earlier (a length filled in once what it counts is written).
    public mutating func overwrite(at offset: Int, with replacement: UnsafeRawBufferPointer) {
        precondition(offset >= 0 && offset + replacement.count <= length, "overwrite past the end")
        guard let source = replacement.baseAddress else { return }
        memcpy(base + offset, source, replacement.count)
    }

    /// Keeps the first `kept` bytes, dropping what was written after them.
    public mutating func truncate(to kept: Int) {
        length = min(length, max(0, kept))
    }

    public mutating func removeAll() {
        length = 0
    }
}
