/// A task file, understood: what it runs and the options its `#JOBQ` lines set.
public struct TaskFile: Sendable, Equatable {
    /// `.message` for the tutorial's `MESSAGE;SECONDS` line, `.script` (the file's exact text) otherwise.
    public var payload: Payload
    public var options: JobOptions

    public init(payload: Payload, options: JobOptions) {
        self.payload = payload
        self.options = options
    }
}

/// Why a task file cannot be queued. It becomes the failed job's reason, so it names the file, the line, and
/// what to change: `1.task: line 3: unknown option '--foo'; use --name, …`.
public struct TaskFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file name as given.
    public let file: String
    /// 1-based, when the problem is on a line.
    public let line: Int?
    public let problem: String

    public init(file: String, line: Int?, problem: String) {
        self.file = file
        self.line = line
        self.problem = problem
    }

    public var description: String { line.map { "\(file): line \($0): \(problem)" } ?? "\(file): \(problem)" }
}

/// Reads a task file's bytes (see "Task files" in DESIGN.md). Pure: no file system, no clock but `now`.
///
/// - The tutorial's form: the whole file is one line (one trailing newline allowed), not starting with `#!`,
///   whose text after the last `;` is a number of seconds (`7`, `2.5`, at most 366 days):
///   `I am the first task;7` prints the message and sleeps 7 s. A last field that is not a number
///   (`echo a;sleep 5`) makes the file a script; a negative or too large number is an error.
/// - A script: anything else, kept byte for byte. Its header (the `#!` line, blank lines and comments before
///   the first command) may hold `#JOBQ OPTIONS` lines: `#JOBQ` at the start of the line, then a space, a tab or
///   the line's end. They take the options of `jobq add`, split like a shell would (see `OptionWords`); later
///   lines win. A `#JOBQ` line below the first command is an error; `# JOBQ` and `#JOBQX` are plain comments.
///
/// Refused, with the line where it applies: more than `maximumBytes`, empty or only whitespace, a NUL byte
/// (a binary file), bytes that are not UTF-8, a carriage return (Windows line endings), a bad `#JOBQ` line.
public enum TaskFileParser {
    /// 1 MiB: a task file is a job description or a short script, not data.
    public static let maximumBytes = 1 << 20

    /// Parses `bytes`, the contents of the task file called `file`; `now` (ms since the epoch) anchors
    /// `--delay` and `--at`.
    public static func parse(_ bytes: [UInt8], file: String, now: Int64) -> Result<TaskFile, TaskFileError> {
        Result { () throws(TaskFileError) in try taskFile(bytes, file: file, now: now) }
    }

    private static func taskFile(_ bytes: [UInt8], file: String, now: Int64) throws(TaskFileError) -> TaskFile {
        func failure(_ problem: String, at offset: Int? = nil) -> TaskFileError {
            TaskFileError(file: file, line: offset.map { line(of: $0, in: bytes) }, problem: problem)
        }
        guard bytes.count <= maximumBytes else {
            throw failure("is \(bytes.count) bytes, over the \(maximumBytes)-byte (1 MiB) limit for task files")
        }
        guard !bytes.isEmpty else { throw failure("is empty; write a command, or MESSAGE;SECONDS, in it") }
        if let nul = bytes.firstIndex(of: 0) {
            throw failure(
                "has a NUL byte, so the file is binary, not a task file (a script, or MESSAGE;SECONDS)", at: nul)
        }
        if let bad = firstInvalidUTF8(bytes) {
            let column = bad - (bytes[..<bad].lastIndex(of: newline).map { $0 + 1 } ?? 0) + 1
            throw failure("byte \(column) is not valid UTF-8; save the file as UTF-8", at: bad)
        }
        guard bytes.contains(where: { !isWhitespace($0) }) else {
            throw failure("is empty (only whitespace); write a command, or MESSAGE;SECONDS, in it")
        }
        if let carriageReturn = bytes.firstIndex(of: 13) {
            let next = carriageReturn + 1
            guard next == bytes.count || bytes[next] == newline else {
                throw failure("has a carriage return in it; remove it", at: carriageReturn)
            }
            throw failure(
                "ends with a carriage return (Windows line endings); save the file with Unix line endings, e.g. "
                    + "dos2unix",
                at: carriageReturn)
        }
        if let message = try message(bytes, failure: { failure($0, at: 0) }) {
            return TaskFile(payload: message, options: JobOptions())
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return TaskFile(payload: .script(text), options: try headerOptions(text, file: file, now: now))
    }

    /// The tutorial's `MESSAGE;SECONDS` payload, or nil when the file is a script.
    private static func message(_ bytes: [UInt8], failure: (String) -> TaskFileError) throws(TaskFileError)
        -> Payload?
    {
        let body = bytes.last == newline ? bytes.dropLast() : bytes[...]
        guard !body.contains(newline), !body.starts(with: "#!".utf8), let semicolon = body.lastIndex(of: 59) else {
            return nil
        }
        var field = body[(semicolon + 1)...].drop { $0 == 32 || $0 == 9 }
        while let last = field.last, last == 32 || last == 9 { field.removeLast() }
        let negative = field.first == UInt8(ascii: "-")
        guard isDecimal(negative ? field.dropFirst() : field) else { return nil }
        let text = String(decoding: field, as: UTF8.self)
        guard !negative else {
            throw failure("the seconds after the last ';' are negative ('\(text)'); use 0 or more, e.g. Hello;7")
        }
        let limit = Double(DurationParser.maximumMilliseconds / 1_000)
        guard let seconds = Double(text), seconds <= limit else {
            throw failure("\(text) seconds after the last ';' is more than 366 days; use at most \(Int64(limit))")
        }
        return .message(String(decoding: body[..<semicolon], as: UTF8.self), seconds: seconds)
    }

    /// The options of the `#JOBQ` lines in the script's header.
    private static func headerOptions(_ text: String, file: String, now: Int64) throws(TaskFileError) -> JobOptions {
        var options = JobOptions()
        var firstCommand: Int?
        var number = 0
        for lineBytes in text.utf8.split(separator: newline, omittingEmptySubsequences: false) {
            number += 1
            let line = Substring(lineBytes)
            if number == 1 && line.hasPrefix("#!") { continue }
            if line.hasPrefix("#JOBQ"), lineBytes.count == 5 || [32, 9].contains(lineBytes.dropFirst(5).first) {
                if let firstCommand {
                    throw TaskFileError(
                        file: file, line: number,
                        problem: "#JOBQ comes after the first command (line \(firstCommand)); move #JOBQ lines "
                            + "above the first command")
                }
                do {
                    try options.apply(words: try OptionWords.split(line.dropFirst(5)), now: now)
                } catch {
                    throw TaskFileError(file: file, line: number, problem: error.message)
                }
                continue
            }
            let content = lineBytes.drop(while: isWhitespace)
            if firstCommand == nil, let first = content.first, first != UInt8(ascii: "#") { firstCommand = number }
        }
        return options
    }

    private static let newline = UInt8(ascii: "\n")

    /// 1-based number of the line holding the byte at `offset`.
    private static func line(of offset: Int, in bytes: [UInt8]) -> Int {
        bytes[..<offset].reduce(1) { $1 == newline ? $0 + 1 : $0 }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool { byte == 32 || (9...13).contains(byte) }

    /// `digits[.digits]` or `.digits`.
    private static func isDecimal(_ bytes: ArraySlice<UInt8>) -> Bool {
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        let allDigits = { (part: ArraySlice<UInt8>) in part.allSatisfy { (48...57).contains($0) } }
        guard parts.allSatisfy(allDigits), !bytes.isEmpty else { return false }
        return parts.count == 1 || !parts[1].isEmpty
    }

    /// The offset of the first byte that does not belong to a valid UTF-8 sequence, or nil.
    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }
}
