import CPosix
import Glibc
import Testing
import TestSupport

@testable import JobStore

/// What an idle daemon or worker gives back: the executable's code pages, which the next use
/// maps again (the test goes on running in the same code).
@Suite struct IdleTrimTests {
    /// Resident kilobytes of this executable's read-only mappings (code and constants), from
    /// /proc/self/smaps.
    static func residentCodeKilobytes() throws -> Int {
        let exe = try #require(realpath("/proc/self/exe", nil))
        defer { free(exe) }
        let path = String(cString: exe)
        let text = try #require(readFile("/proc/self/smaps"))
        var total = 0
        var inCode = false
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 2, first.first?.isHexDigit == true {
                inCode = fields.count >= 6 && fields[5...].joined(separator: " ") == path && !fields[1].contains("w")
            } else if inCode, fields.first == "Rss:", fields.count >= 2, let kilobytes = Int(fields[1]) {
                total += kilobytes
            }
        }
        return total
    }

    @Test func theFirstTrimIsDueAtOnceAndGivesBackTheCodePages() throws {
        let before = try Self.residentCodeKilobytes()
        #expect(before > 1024, "the test executable has mapped some of its code: \(before) KiB")
        var trim = IdleTrim()
        #expect(trim.timeout == 0)
        trim.runIfDue()
        #expect(trim.timeout == nil)
        // Other tests run meanwhile and map some of it again: far less, not none — at one of
        // a few tries (each trimming again), however busy the other threads are at one.
        var after = try Self.residentCodeKilobytes()
        for _ in 0..<20 where after * 2 >= before {
            jq_release_code_pages()
            after = try Self.residentCodeKilobytes()
        }
        #expect(after * 2 < before, "resident code: \(before) KiB before the trim, \(after) KiB after")
    }
}
