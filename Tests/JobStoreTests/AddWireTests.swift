import Testing

@testable import JobStore

/// The request `jobq add` sends the daemon, read back exactly, and anything else refused.
@Suite struct AddWireTests {
    /// (A word that starts with a combining mark keeps it: reading a field as a string and
    /// dropping its first character, the tag, dropped the mark with it.)
    @Test func aRequestReadsBackAsItsJob() throws {
        let spec = JobSpec(
            name: "näme", priority: -7, payload: .command(["\u{301}accent first", "", "a b", "ü"]), cwd: "/tmp/x y",
            environment: ["A=1", "B=two words", "EMPTY="], timeoutMilliseconds: 90_000, maxRetries: 3,
            after: [JobID(4), JobID(9)], runAfter: 1_700_000_000_123)
        let payload = try #require(AddWire.encode(spec))
        let decoded = try #require(AddWire.decode(payload))
        #expect(decoded.payload == spec.payload)
        #expect(decoded.name == spec.name && decoded.priority == spec.priority && decoded.cwd == spec.cwd)
        #expect(decoded.environment == spec.environment && decoded.timeoutMilliseconds == spec.timeoutMilliseconds)
        #expect(decoded.maxRetries == spec.maxRetries && decoded.after == spec.after && decoded.runAfter == spec.runAfter)
    }

    @Test func onlyWholeRequestsOfThisVersionAreRead() throws {
        let good = try #require(AddWire.encode(JobSpec(payload: .command(["true"]), cwd: "/", environment: [])))
        #expect(AddWire.decode(good) != nil)
        #expect(AddWire.decode(Array(good.dropLast())) == nil)  // the last field cut short
        #expect(AddWire.decode(Array("v2\u{0}c/\u{0}atrue\u{0}".utf8)) == nil)  // another version
        #expect(AddWire.decode(Array("c/\u{0}v1\u{0}atrue\u{0}".utf8)) == nil)  // the version not first
        #expect(AddWire.decode(good + Array("x?\u{0}".utf8)) == nil)  // an unknown field
        #expect(AddWire.decode(good + [0]) == nil)  // an empty field
        #expect(AddWire.decode(Array("v1\u{0}c/\u{0}".utf8)) == nil)  // no command
        #expect(AddWire.decode(Array("v1\u{0}atrue\u{0}".utf8)) == nil)  // no cwd
        #expect(AddWire.decode(Array("v1\u{0}c/\u{0}dx\u{0}atrue\u{0}".utf8)) == nil)  // a bad id
        #expect(AddWire.decode([]) == nil)
    }
}
