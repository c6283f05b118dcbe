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
        let specs: [JobSpec]
        switch what {
        case .standardInput:
            specs = try readStandardInput().map {
                options.spec(payload: .command(["/bin/sh", "-c", $0]), cwd: cwd, environment: environment)
            }
            if specs.isEmpty { throw CommandFailure("standard input held no commands; nothing was added") }
        case .command(let argv):
            specs = [options.spec(payload: .command(argv), cwd: cwd, environment: environment)]
        case .taskFiles(let files):
            specs = try files.map { try taskFileSpec($0, cwd: cwd, environment: environment, now: now) }
        }
        try JobLimits.check(specs)
        let ids: [JobID]
        if specs.count == 1, case .added(let id) = try AddClient.add(specs[0], home: home) {
            // The daemon committed it (and knows about it).
            ids = [id]
        } else {
            ids = try SQLiteStore(home: home).insert(specs, now: now)
            DaemonControl.poke(home)
        }
        var terminal = Terminal()
        if json {
            terminal.print(JSON.object([("ids", .array(ids.map { .int($0.rawValue) }))]).serialized(pretty: false))
        } else {
            for id in ids { terminal.print(String(id.rawValue)) }
        }
        terminal.flush()
    }

    private func taskFileSpec(_ path: String, cwd: String, environment: [String], now: Int64) throws -> JobSpec {
        let contents = try TaskFileReader.read(path).get()
        let file = try TaskFileParser.parse(contents.bytes, file: path, now: now).get()
        var merged = file.options.overridden(by: options)
        if merged.name == nil { merged.name = String(path.split(separator: "/").last ?? Substring(path)) }
        return merged.spec(payload: file.payload, cwd: cwd, environment: environment, source: Home.absolute(path))
    }

    /// Non-blank lines of stdin, except comments (`#…`).
    private func readStandardInput() throws -> [String] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(STDIN_FILENO, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw CommandFailure("cannot read standard input: \(systemError(errno))") }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        if bytes.contains(0) { throw CommandFailure("standard input contains a NUL byte; nothing was added") }
        return bytes.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let text = String(decoding: line, as: UTF8.self)
            let trimmed = text.drop(while: { $0 == " " || $0 == "\t" })
            return trimmed.isEmpty || trimmed.hasPrefix("#") ? nil : text
        }
    }
}
