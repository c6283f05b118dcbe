/// The options that `jobq add` flags and a task file's `#JOBQ` lines share. Every value is validated here, in
/// `set`, so a flag means the same thing and fails with the same message wherever it is written.
///
/// A nil (or empty) option was not given; `spec` fills in the defaults.
public struct JobOptions: Sendable, Equatable {
    public var name: String?
    public var priority: Int?
    public var cwd: String?
    /// `KEY=VALUE`, in the order given.
    public var environment: [String] = []
    public var timeoutMilliseconds: Int64?
    public var maxRetries: Int?
    public var after: [JobID] = []
    /// Not before this time (ms since the epoch); set by `--delay` (now + the delay) or `--at`.
    public var runAfter: Int64?
    /// Which of `--delay` and `--at` set `runAfter`, so that giving both is caught.
    private var runAfterFlag: String?

    public static let maximumPriority = 1_000_000
    public static let maximumRetries = 100
    public static let maximumNameBytes = 255

    /// The flags `set` understands, in the order help text lists them.
    public static let flags = [
        "--name", "--priority", "--cwd", "--env", "--timeout", "--retries", "--after", "--delay", "--at",
    ]

    public init() {}

    /// Applies one option given as `--flag` and its value text; the single place where values are validated.
    /// `now` (ms since the epoch) anchors `--delay` and `--at`.
    public mutating func set(_ flag: String, _ value: String, now: Int64) throws(InputError) {
        let shown = InputError.quoted(value)
        switch flag {
        case "--name":
            let bytes = value.utf8.count
            guard bytes >= 1 else { throw InputError("--name needs a name of 1 to 255 bytes, not an empty one") }
            guard bytes <= Self.maximumNameBytes else {
                throw InputError("--name \(shown) is \(bytes) bytes long; use at most \(Self.maximumNameBytes)")
            }
            guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw InputError("--name \(shown) contains a control character (newline, tab, …); remove it")
            }
            name = value
        case "--priority":
            guard let number = Int(value), (-Self.maximumPriority...Self.maximumPriority).contains(number) else {
                throw InputError(
                    "--priority needs a whole number from -\(Self.maximumPriority) to \(Self.maximumPriority), "
                        + "not \(shown)")
            }
            priority = number
        case "--cwd":
            guard !value.isEmpty else { throw InputError("--cwd needs a directory, not an empty string") }
            guard !value.utf8.contains(0) else { throw InputError("--cwd \(shown) contains a NUL byte; remove it") }
            guard !value.hasPrefix("~") else {
                throw InputError("--cwd \(shown) starts with ~, which jobq does not expand; write the full path")
            }
            cwd = value
        case "--env":
            environment.append(try Self.environmentEntry(value))
        case "--timeout":
            let duration = try Self.duration(flag, value)
            guard duration > 0 else {
                throw InputError("--timeout needs a duration greater than zero, e.g. 10m, not \(shown)")
            }
            timeoutMilliseconds = duration
        case "--retries":
            guard let number = Int(value), (0...Self.maximumRetries).contains(number) else {
                throw InputError("--retries needs a whole number from 0 to \(Self.maximumRetries), not \(shown)")
            }
            maxRetries = number
        case "--after":
            var ids: [JobID] = []
            for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                let words = item.split(separator: " ")
                guard words.count == 1, let id = JobID(parsing: String(words[0])) else {
                    throw InputError("--after needs job ids such as 42 or 41,#42, not \(shown)")
                }
                ids.append(id)
            }
            for id in ids where !after.contains(id) { after.append(id) }
        case "--delay":
            let (time, overflow) = now.addingReportingOverflow(try Self.duration(flag, value))
            guard !overflow else { throw InputError("--delay \(shown) ends too far in the future") }
            try setRunAfter(time, by: flag)
        case "--at":
            let time: Int64
            do { time = try TimeParser.milliseconds(value, now: now) } catch { throw InputError("--at: \(error)") }
            try setRunAfter(time, by: flag)
        default:
            throw Self.unknownOption(flag)
        }
    }

    /// Parses the words of a `#JOBQ` line: `--timeout 10m`, `--timeout=10m`, `--retries 2 --priority 5`.
    public mutating func apply(words: [String], now: Int64) throws(InputError) {
        var index = 0
        while index < words.count {
            let word = words[index]
            index += 1
            guard word.hasPrefix("--") else {
                throw InputError(
                    "expected an option such as --timeout 10m, not \(InputError.quoted(word)); options start with --")
            }
            if let equals = word.firstIndex(of: "=") {
                try set(String(word[..<equals]), String(word[word.index(after: equals)...]), now: now)
                continue
            }
            guard Self.flags.contains(word) else { throw Self.unknownOption(word) }
            guard index < words.count else {
                throw InputError("\(word) needs a value, e.g. \(word) \(Self.example(word))")
            }
            try set(word, words[index], now: now)
            index += 1
        }
    }

    /// `other`'s explicitly set options win (command-line flags over a file's `#JOBQ` lines); environment lists
    /// are concatenated, `other`'s last, so its values win at run time.
    public func overridden(by other: JobOptions) -> JobOptions {
        var result = self
        result.name = other.name ?? name
        result.priority = other.priority ?? priority
        result.cwd = other.cwd ?? cwd
        result.environment = environment + other.environment
        result.timeoutMilliseconds = other.timeoutMilliseconds ?? timeoutMilliseconds
        result.maxRetries = other.maxRetries ?? maxRetries
        result.after = other.after.isEmpty ? after : other.after
        if other.runAfter != nil {
            result.runAfter = other.runAfter
            result.runAfterFlag = other.runAfterFlag
        }
        return result
    }

    /// Builds the job's spec. `environment` is the captured environment (`KEY=VALUE`), kept as it is when
    /// there is no `--env`; otherwise the options' entries are laid over it (same key: the option's value,
    /// the later option winning), giving one entry per key, sorted by key. `cwd` is the captured working directory; a relative `--cwd` is resolved against it.
    /// Paths are normalized lexically (`.`, `..`, repeated slashes), as the shell's `cd` does, without
    /// touching the file system.
    public func spec(payload: Payload, cwd: String, environment: [String], source: String? = nil) -> JobSpec {
        // Without --env the captured environment is used as it is (a process's environment has
        // one entry per key already); merging is for when --env adds or overrides.
        let merged = self.environment.isEmpty ? environment : Self.merged(environment + self.environment)
        let directory = self.cwd.map { $0.hasPrefix("/") ? $0 : cwd + "/" + $0 } ?? cwd
        return JobSpec(
            name: name, priority: priority ?? 0, payload: payload, cwd: normalize(directory),
            environment: merged, timeoutMilliseconds: timeoutMilliseconds, maxRetries: maxRetries ?? 0,
            after: after, runAfter: runAfter ?? 0, source: source)
    }

    /// One entry per key, the last one given winning, sorted by key. (No dictionary: this runs
    /// in every `jobq add`, and sorting a few dozen entries by (key, position) is cheaper.)
    static func merged(_ entries: [String]) -> [String] {
        let keys = entries.map { entry in Array(entry.utf8.prefix { $0 != UInt8(ascii: "=") }) }
        let ordered = entries.indices.sorted { a, b in
            keys[a] == keys[b] ? a < b : keys[a].lexicographicallyPrecedes(keys[b])
        }
        var result: [String] = []
        result.reserveCapacity(ordered.count)
        for (position, index) in ordered.enumerated()
        where position + 1 == ordered.count || keys[ordered[position + 1]] != keys[index] {
            result.append(entries[index])
        }
        return result
    }

    private mutating func setRunAfter(_ time: Int64, by flag: String) throws(InputError) {
        if let runAfterFlag, runAfterFlag != flag {
            throw InputError("--delay and --at cannot be used together; give only one of them")
        }
        runAfter = time
        runAfterFlag = flag
    }

    private static func environmentEntry(_ value: String) throws(InputError) -> String {
        let shown = InputError.quoted(value)
        guard let equals = value.firstIndex(of: "=") else {
            throw InputError("--env needs KEY=VALUE, not \(shown)")
        }
        let key = value.utf8[..<equals]
        let isName =
            key.first.map { !isDigit($0) } == true
            && key.allSatisfy { isDigit($0) || $0 == UInt8(ascii: "_") || isLetter($0) }
        guard isName else {
            throw InputError(
                "--env needs KEY=VALUE with a KEY of letters, digits and _ that does not start with a digit, "
                    + "not \(shown)")
        }
        guard !value.utf8.contains(0) else { throw InputError("--env \(shown) contains a NUL byte; remove it") }
        return value
    }

    private static func unknownOption(_ flag: String) -> InputError {
        InputError("unknown option \(InputError.quoted(flag)); use \(flags.joined(separator: ", "))")
    }

    private static func duration(_ flag: String, _ value: String) throws(InputError) -> Int64 {
        do { return try DurationParser.milliseconds(value) } catch { throw InputError("\(flag): \(error)") }
    }

    private static func example(_ flag: String) -> String {
        switch flag {
        case "--name": return "nightly"
        case "--priority": return "5"
        case "--cwd": return "/srv/data"
        case "--env": return "LANG=C"
        case "--timeout": return "10m"
        case "--retries": return "2"
        case "--after": return "41,42"
        case "--delay": return "30s"
        default: return "23:30"
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) }

    private static func isLetter(_ byte: UInt8) -> Bool { (65...90).contains(byte) || (97...122).contains(byte) }

    /// Removes `.`, `..` and repeated slashes from an absolute path, without touching the disk.
}
