import ArgumentParser
import Glibc
import JobStore

/// `jobq log ID`: a job's output, and with --follow, as it comes.
struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", _superCommandName: "jobq",
        abstract: "Print a job's output (stdout, or stderr with --stderr).",
        discussion: """
            With --follow, keeps printing as the job writes, until it ends (waiting for it to start
            if it is still queued).

            Examples:
              jobq log 42
              jobq log 42 --stderr
              jobq log 42 --follow

            Exit codes: 0 success, 1 no such job, or it has no output yet, 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The job's id.", valueName: "ID"))
    var id: JobID
    @Flag(help: "Print stderr instead of stdout.")
    var stderr = false
    @Flag(name: [.short, .long], help: "Keep printing new output until the job ends.")
    var follow = false

    func run() throws {
        let home = global.resolvedHome
        let store = try SQLiteStore(home: home)
        guard var job = try store.job(id) else { throw StoreError.unknownJob(id) }
        guard follow else {
            guard let path = job.outputPath(stderr: stderr, home: home) else {
                throw CommandFailure("job \(id) has not started yet, so it has no output; use --follow to wait for it")
            }
            _ = copy(from: path, offset: 0)
            return
        }
        // Follow: every commit changes the WAL and every write changes the log, so waiting on
        // both folders' events means reacting at once without polling.
        let watcher = try DirectoryWatcher(directories: [home.path, home.logsDirectory], events: DirectoryWatcher.changes)
        var offset: Int64 = 0
        while true {
            if let path = job.outputPath(stderr: stderr, home: home) { offset = copy(from: path, offset: offset) }
            if job.state.isFinished { return }
            _ = EventWait.wait(for: [watcher.fd], timeout: 1000)
            _ = watcher.drain()
            guard let current = try store.job(id) else { return }
            if current.attempt != job.attempt { offset = 0 }
            job = current
        }
    }

    /// Copies the file from `offset` to stdout; returns the new offset.
    private func copy(from path: String, offset: Int64) -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return offset }
        defer { close(fd) }
        var position = offset
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(position)) }
            if n <= 0 { return position }
            writeAll(Array(buffer[0..<n]), to: STDOUT_FILENO)
            position += Int64(n)
        }
    }
}
