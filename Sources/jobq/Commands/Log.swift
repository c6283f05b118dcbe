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

            A job that printed nothing has no output: `log` prints nothing and exits 0.

            Exit codes: 0 success, 1 no such job or it has not started yet (without --follow), 64 bad usage.
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
        // both folders' events means reacting at once without polling. While the job runs its
        // output is read through one open descriptor: the file it writes keeps its identity when
        // the worker renames it, and is never handed to another job while we hold it.
        var changes = try StoreChanges(home: home, alsoWatching: [home.logsDirectory])
        var live: (fd: Int32, attempt: Int)?
        var offset: Int64 = 0
        defer { if let live { close(live.fd) } }
        while true {
            if job.state == .running, live?.attempt != job.attempt, let path = job.outputPath(stderr: stderr, home: home) {
                if let live { close(live.fd) }
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                live = fd >= 0 ? (fd, job.attempt) : nil
                offset = 0
            }
            if let live {
                offset = copy(from: live.fd, offset: offset)
            }
            if job.state.isFinished {
                // Whatever it wrote since; a job that never ran while we watched: its log file.
                if live == nil, let path = job.outputPath(stderr: stderr, home: home) {
                    offset = copy(from: path, offset: offset)
                }
                return
            }
            changes.next()
            guard let current = try store.job(id) else { return }
            job = current
        }
    }

    /// Copies the file from `offset` to stdout; returns the new offset.
    private func copy(from path: String, offset: Int64) -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return offset }
        defer { close(fd) }
        return copy(from: fd, offset: offset)
    }

    private func copy(from fd: Int32, offset: Int64) -> Int64 {
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
