import Glibc
import JobStore

/// What `jobq add` does once its arguments are understood — by the argument parser (`Add`) or
/// by `FastPath`, which spares the common case the parser's start-up cost.
struct AddRequest {
    enum What {
        case command([String])
        case taskFiles([String])
        case standardInput
    }

    var home: Home
    var options: JobOptions
    var what: What
    var json: Bool

    func run(now: Int64) throws {
        let cwd = currentDirectory()
        let environment = ProcessEnvironment.entries()
        let ids: [JobID]
        switch what {
        case .standardInput:
            let lines = try readStandardInput()
            if lines.isEmpty { throw CommandFailure("standard input held no commands; nothing was added") }
            ids = try addShellCommands(lines, cwd: cwd, environment: environment, now: now)
        case .command(let argv):
            ids = try add([options.spec(payload: .command(argv), cwd: cwd, environment: environment)], now: now)
        case .taskFiles(let files):
            ids = try add(files.map { try taskFileSpec($0, cwd: cwd, environment: environment, now: now) }, now: now)
        }
        var terminal = Terminal()
        if json {
            terminal.print(JSON.object([("ids", .array(ids.map { .int($0.rawValue) }))]).serialized(pretty: false))
        } else {
            for id in ids { terminal.print(id.rawValue) }
        }
        terminal.flush()
    }

    private func add(_ specs: [JobSpec], now: Int64) throws -> [JobID] {
        try JobLimits.check(specs)
        if specs.count == 1, case .added(let id) = try AddClient.add(specs[0], home: home) {
            // The daemon committed it (and knows about it).
            return [id]
        }
        let ids = try SQLiteStore(home: home).insert(specs, now: now)
        DaemonControl.poke(home)
        return ids
    }

    /// One job per line, each `/bin/sh -c LINE`. Many go straight to the database in one
    /// transaction that binds what they share once.
    private func addShellCommands(_ lines: WordList, cwd: String, environment: [String], now: Int64) throws -> [JobID] {
        let shell = ["/bin/sh", "-c"]
        guard lines.count > 1 else {
            let spec = options.spec(payload: .command(shell + [lines[0]]), cwd: cwd, environment: environment)
            return try add([spec], now: now)
        }
        // The limits grow with a line's length: the longest line passing means all do.
        let longest = lines[lines.longestIndex!]
        try JobLimits.check(options.spec(payload: .command(shell + [longest]), cwd: cwd, environment: environment))
        let template = options.spec(payload: .command(shell), cwd: cwd, environment: environment)
        // Copying the write-ahead log into the database file, which a long add makes due, is left
        // to another process, so that the command returns once its jobs are on disk (the log is
        // what a commit flushes): see `LogCopyHandOff`. (If this connection cannot be set up for
        // that, it copies the log itself, as usual.) The connection is closed before that. The
        // jobs are committed whatever happens then: a failure is a warning, never an error
        // (which would get the whole add run again).
        let (ids, copyDue) = try { () throws -> ([JobID], Bool) in
            let store = try SQLiteStore(home: home)
            let leftToOthers = (try? store.leaveCheckpointToOthers()) != nil
            let ids = try store.insert(template, appendingToCommand: lines, now: now)
            let copyDue = leftToOthers && store.logIsDueForCheckpoint
            // A short log is copied when the connection closes, as usual.
            if leftToOthers && !copyDue { try? store.checkpointOnClose() }
            return (ids, copyDue)
        }()
        if copyDue {
            // Measured on 100,000 jobs here, the copy and its fsync were a third of the add's time.
            if case .failed(let text) = LogCopyHandOff.leave(home: home, executable: Spawn.currentExecutable()) {
                Terminal.printError("jobq: warning: the jobs were added, but copying the write-ahead log failed: \(text)")
            }
        } else {
            DaemonControl.poke(home)
        }
        return ids
    }

    private func taskFileSpec(_ path: String, cwd: String, environment: [String], now: Int64) throws -> JobSpec {
        let contents = try TaskFileReader.read(path).get()
        let file = try TaskFileParser.parse(contents.bytes, file: path, now: now).get()
        var merged = file.options.overridden(by: options)
        if merged.name == nil { merged.name = String(path.split(separator: "/").last ?? Substring(path)) }
        return merged.spec(payload: file.payload, cwd: cwd, environment: environment, source: Home.absolute(path))
    }

    /// Non-blank lines of stdin, except comments (`#…`): see `WordList(lines:)`.
    private func readStandardInput() throws -> WordList {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(STDIN_FILENO, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw CommandFailure("cannot read standard input: \(systemError(errno))") }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        let nul = bytes.withUnsafeBytes { buffer in buffer.baseAddress.flatMap { memchr($0, 0, buffer.count) } }
        if nul != nil {
            throw CommandFailure("standard input contains a NUL byte; nothing was added")
        }
        return WordList(lines: bytes)
    }
}
