import Glibc
import JobStore

/// The most common command of all, `jobq add -- COMMAND [ARG…]` with no job option (only
/// `--home` and `--json`), handed to a running daemon straight from the process's argv and
/// environment.
///
/// It runs before anything else in `main` — before `CommandLine.arguments` is even built —
/// and makes no Swift array: the first array of a kind that a process makes costs a metadata
/// instantiation (demangling, a search of the binary's prespecializations, page faults), and a
/// `jobq add` that went through `FastPath` spent more than half of its instructions there
/// (callgrind: 347,000 instructions, 195,000 of them in the runtime's metadata lookups). Every
/// other form, and this one when no daemon listens, is left to `FastPath` and the argument
/// parser, which give the same result the slower way: what is sent here is byte for byte what
/// `AddRequest` sends for the same command (a test checks that).
enum QuickAdd {
    /// Adds the job and prints its id; false, having sent nothing, when the arguments are of
    /// another form or no daemon listens. Throws the daemon's refusal, or when the daemon took
    /// the request but did not answer.
    static func run() throws -> Bool {
        guard let command = scan() else { return false }
        let argv = CommandLine.unsafeArgv
        let argc = Int(CommandLine.argc)
        guard let first = argv[command.first], first[0] != 0 else { return false }  // an empty command: the parser says so

        // The limits `JobLimits.check` applies, with a margin: it measures the strings a job is
        // made of, in which each invalid UTF-8 byte becomes a 3-byte U+FFFD. Anything near a
        // limit takes the ordinary path, which refuses it with the usual message.
        var words = argc - command.first
        var bytes = 0
        for index in command.first..<argc {
            guard let word = argv[index] else { return false }
            let length = strlen(word)
            guard length <= JobLimits.maximumStringBytes / 3 else { return false }
            bytes += length + 1
        }
        var entry = environ
        while let variable = entry.pointee {
            let length = strlen(variable)
            guard length <= JobLimits.maximumStringBytes / 3 else { return false }
            bytes += length + 1
            words += 1
            entry += 1
        }
        guard words <= JobLimits.maximumWords, bytes <= JobLimits.maximumArgvAndEnvironmentBytes / 3 else { return false }

        let cwdCapacity = Int(PATH_MAX) + 1
        let cwd = UnsafeMutablePointer<CChar>.allocate(capacity: cwdCapacity)
        defer { cwd.deallocate() }
        guard getcwd(cwd, cwdCapacity) != nil else { return false }
        let cwdBytes = UnsafeRawBufferPointer(start: cwd, count: strlen(cwd))
        guard isNormalized(cwdBytes) else { return false }  // "(unreachable)/…": the ordinary path decides

        var request = RequestWriter(capacity: bytes + cwdBytes.count + 64)
        request.header(cwd: cwdBytes, priority: 0, maxRetries: 0, runAfter: 0)
        for index in command.first..<argc { request.field(AddWire.Tag.argument, cString: argv[index]!) }
        entry = environ
        while let variable = entry.pointee {
            request.field(AddWire.Tag.environment, cString: variable)
            entry += 1
        }

        let home = Home.resolve(explicit: command.home.map { String(cString: $0) })
        guard home.path.hasPrefix("/") else { return false }
        let exchanged = home.socketPath.withCString { AddClient.exchange(request.message(), socketPath: $0) }
        guard let id = try AddClient.id(from: exchanged, home: home) else { return false }
        printID(id, json: command.json)
        return true
    }

    struct Command {
        var home: UnsafePointer<CChar>?
        var json = false
        /// Index in argv of the command's first word (the word after `--`).
        var first = 0
    }

    /// `[--home DIR] add [--home DIR | --json]… -- WORD…` — as `FastPath.scan` reads it, minus
    /// the job options — or nil.
    static func scan() -> Command? {
        let argv = CommandLine.unsafeArgv
        let argc = Int(CommandLine.argc)
        var command = Command()
        var sawAdd = false
        var index = 1
        while index < argc {
            guard let word = argv[index] else { return nil }
            index += 1
            if strcmp(word, "--") == 0 {
                guard sawAdd, index < argc else { return nil }
                command.first = index
                return command
            }
            if !sawAdd && strcmp(word, "add") == 0 {
                sawAdd = true
            } else if sawAdd && strcmp(word, "--json") == 0 {
                command.json = true
            } else if strncmp(word, "--home=", 7) == 0 {
                command.home = UnsafePointer(word + 7)
            } else if strcmp(word, "--home") == 0 {
                // A dash-led value is the parser's error to report (as in FastPath).
                guard index < argc, let value = argv[index], value[0] != CChar(UInt8(ascii: "-")) else { return nil }
                command.home = UnsafePointer(value)
                index += 1
            } else {
                return nil
            }
        }
        return nil
    }

    /// `42` or `{"ids":[42]}`, as `AddRequest` prints them.
    private static func printID(_ id: JobID, json: Bool) {
        var line: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes: the longest is 30
        withUnsafeMutableBytes(of: &line) { buffer in
            var count = 0
            func append(_ bytes: UnsafeRawBufferPointer) {
                memcpy(buffer.baseAddress! + count, bytes.baseAddress!, bytes.count)
                count += bytes.count
            }
            func append(_ text: StaticString) {
                append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
            }
            if json { append("{\"ids\":[") }
            withDecimal(id.rawValue) { append($0) }
            append(json ? "]}\n" : "\n")
            writeAll(UnsafeRawBufferPointer(start: buffer.baseAddress, count: count), to: STDOUT_FILENO)
        }
    }
}
