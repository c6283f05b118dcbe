import Testing

@testable import JobStore

/// Numbers written as bytes (the request writer, `jobq add`'s id, the list table) read as
/// `String(value)` does.
@Suite struct DecimalTests {
    @Test(arguments: [0, 7, -7, 10, 99, -100, 1_234_567_890, Int64.max, Int64.min, Int64.min + 1])
    func decimalsMatchTheStandardLibrary(_ value: Int64) {
        var bytes: [UInt8] = [1, 2]
        appendDecimal(value, to: &bytes)
        #expect(bytes == [1, 2] + Array(String(value).utf8))
        var writer = RequestWriter(capacity: 8)
        writer.field(AddWire.Tag.priority, value)
        #expect(Array(writer.message().dropFirst(4)) == [AddWire.Tag.priority] + Array(String(value).utf8) + [0])
    }
}
