import Glibc
import Testing
import TestSupport

@testable import JobStore

/// The daemon writes the write-ahead log's blocks ahead of the commits (zeros up to the
/// checkpoint size): commits then overwrite instead of growing the file.
@Suite struct LogPreallocationTests {
    let folder = TemporaryDirectory("prealloc")

    func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    @Test func theLogGrowsOnceToTheCheckpointSize() throws {
        let store = try SQLiteStore(path: folder.file("jobq.db"))
        _ = try store.insert([TestJobs.command(["true"])], now: 1)
        let target = try store.database.logPreallocationBytes()
        let before = size(folder.file("jobq.db-wal"))
        #expect(before > 0 && before < target)
        #expect(try store.preallocateLog() == target - before)
        #expect(size(folder.file("jobq.db-wal")) == target)
        #expect(try store.preallocateLog() == 0)
        // Commits land in the preallocated blocks: the file does not grow.
        for i in 0..<100 { _ = try store.insert([TestJobs.command(["echo", "\(i)"])], now: 2) }
        #expect(size(folder.file("jobq.db-wal")) == target)
    }

    /// A crash leaves a log whose tail is zeros (or, after the log restarted, old frames and
    /// zeros): recovery must find every committed job and stop there.
    /// 100 commits stay in the first pass over the log (the zeros follow the last frame); 700
    /// go past the first checkpoint (1,000 pages), so the log restarts over its own frames.
    @Test(arguments: [100, 700])
    func aCrashedLogWithAZeroTailRecoversEveryCommit(commits: Int) throws {
        let store = try SQLiteStore(path: folder.file("jobq.db"))
        _ = try store.insert([TestJobs.command(["true"])], now: 1)
        #expect(try store.preallocateLog() > 0)
        for i in 0..<commits { _ = try store.insert([TestJobs.command(["echo", "\(i)"])], now: 2) }
        // The log's header counts its restarts (checkpoint sequence, bytes 12–15, big-endian).
        let restarts = try checkpointSequence(folder.file("jobq.db-wal"))
        #expect(commits < 500 ? restarts == 0 : restarts > 0)
        // The files as a crash of every process leaves them: database and log, no shared index.
        let copy = TemporaryDirectory("prealloc-crash")
        #expect(size(folder.file("jobq.db-wal")) == (try store.database.logPreallocationBytes()))
        for suffix in ["", "-wal"] {
            try copyFile(folder.file("jobq.db" + suffix), to: copy.file("jobq.db" + suffix))
        }
        let recovered = try SQLiteStore(path: copy.file("jobq.db"))
        #expect(try recovered.database.integer("SELECT count(*) FROM jobs") == Int64(commits + 1))
        #expect(try recovered.database.text("PRAGMA integrity_check") == "ok")
    }

    private func checkpointSequence(_ log: String) throws -> UInt32 {
        let fd = open(log, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 32)
        try #require(header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 32, 0) } == 32)
        return header[12..<16].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private func copyFile(_ source: String, to target: String) throws {
        let input = open(source, O_RDONLY)
        try #require(input >= 0)
        defer { close(input) }
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        try #require(output >= 0)
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            try #require(n >= 0)
            if n == 0 { return }
            try #require(buffer.withUnsafeBytes { write(output, $0.baseAddress, n) } == n)
        }
    }
}
