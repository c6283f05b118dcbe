import CPosix
/// What a job runs.
public enum Payload: Sendable, Equatable {
    /// An argv, executed without a shell (`jobq add -- CMD ARGS`).
    case command([String])
    /// A script (a task file): run by its `#!` interpreter, or /bin/sh without one.
    case script(String)
    /// The tutorial's `MESSAGE;SECONDS` line: print MESSAGE, then sleep SECONDS.
    case message(String, seconds: Double)

    public var kind: String {
        switch self {
        case .command: return "command"
        case .script: return "script"
        case .message: return "message"
        }
    }

    /// A one-line summary for tables.
    public var summary: String {
        switch self {
        case .command(let argv):
            var text = ByteWriter()
            NulSeparated.encode(argv).withUnsafeBytes { CommandText.appendQuoted(argvBlob: $0, to: &text) }
            return text.string
        case .script(let body):
            let lines = body.split(separator: "\n", omittingEmptySubsequences: true)
            let firstCode = lines.first { !$0.hasPrefix("#") && !$0.allSatisfy(\.isWhitespace) }
            return "script: " + String(firstCode ?? lines.first ?? "")
        case .message(let text, let seconds): return "\(text);\(formatSeconds(seconds))"
        }
    }
}

/// Everything `jobq add` or a task file says about a new job, validated.
public struct JobSpec: Sendable, Equatable {
    public var name: String?
    public var priority: Int
    public var payload: Payload
    /// The working directory captured at enqueue time.
    public var cwd: String
    /// `KEY=VALUE` strings captured at enqueue time (plus --env), the job's whole environment.
    public var environment: [String]
    public var timeoutMilliseconds: Int64?
    public var maxRetries: Int
    /// Jobs that must be done before this one runs.
    public var after: [JobID]
    /// Not claimed before this time (ms since the epoch); 0 means at once.
    public var runAfter: Int64
    /// The task file this job came from, if any.
    public var source: String?
    /// A spool file's identity, which makes its ingestion idempotent.
    public var sourceKey: String?

    public init(
        name: String? = nil, priority: Int = 0, payload: Payload, cwd: String, environment: [String],
        timeoutMilliseconds: Int64? = nil, maxRetries: Int = 0, after: [JobID] = [], runAfter: Int64 = 0,
        source: String? = nil, sourceKey: String? = nil
    ) {
        self.name = name
        self.priority = priority
        self.payload = payload
        self.cwd = cwd
        self.environment = environment
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxRetries = maxRetries
        self.after = after
        self.runAfter = runAfter
        self.source = source
        self.sourceKey = sourceKey
    }
}

/// Quotes a word for display the way a POSIX shell would read it back.
public func shellQuoted(_ word: String) -> String {
    var text = ByteWriter()
    Array(word.utf8).withUnsafeBytes { CommandText.appendQuoted($0, to: &text) }
    return text.string
}

/// 7 → "7", 0.5 → "0.5".
public func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int64(seconds)) : String(seconds)
}

/// What a job may be at most, so that what is accepted can also be started: Linux refuses to
/// exec a single argument or environment string over 128 KiB (MAX_ARG_STRLEN), and an argv and
/// environment over ARG_MAX (2 MiB here) together. jobq keeps a margin below that.
public enum JobLimits {
    // (Defined in cposix.h: `jobq add`'s quick path checks them before the Swift runtime starts.)
    public static let maximumStringBytes = JQ_MAXIMUM_STRING_BYTES
    public static let maximumArgvAndEnvironmentBytes = JQ_MAXIMUM_ARGV_AND_ENVIRONMENT_BYTES
    public static let maximumWords = JQ_MAXIMUM_WORDS

    /// Refuses a spec whose command line or environment could not be executed.
    public static func check(_ spec: JobSpec) throws(InputError) {
        try check([spec])
    }

    /// `check` for many specs; an environment they share (one `add`) is measured once.
    public static func check(_ specs: [JobSpec]) throws(InputError) {
        var measured: (environment: [String], bytes: Int)?
        for spec in specs {
            let environmentBytes: Int
            if let measured, measured.environment == spec.environment {
                environmentBytes = measured.bytes
            } else {
                environmentBytes = try measure(spec.environment)
                measured = (spec.environment, environmentBytes)
            }
            var argv: [String] = []
            if case .command(let words) = spec.payload {
                guard !words.isEmpty, !words[0].isEmpty else { throw InputError("the command is empty") }
                argv = words
            }
            if argv.count + spec.environment.count > maximumWords {
                throw InputError(
                    "the command and environment have \(argv.count + spec.environment.count) entries; the limit is "
                        + "\(maximumWords)")
            }
            let total = environmentBytes + (try measure(argv))
            if total > maximumArgvAndEnvironmentBytes {
                throw InputError(
                    "the command and environment take \(total) bytes; the limit is \(maximumArgvAndEnvironmentBytes) (1 MiB)")
            }
        }
    }

    /// The bytes `words` take in an exec (each with its NUL), refusing any one that is too long.
    private static func measure(_ words: [String]) throws(InputError) -> Int {
        var total = 0
        for word in words {
            let bytes = word.utf8.count
            if bytes > maximumStringBytes {
                let start = String(word.prefix(20))
                throw InputError(
                    "an argument or environment entry (\(start)…) is \(bytes) bytes; the limit is \(maximumStringBytes) "
                        + "(Linux cannot start a program with a longer one)")
            }
            // (No NUL check: every way in — argv, environ, flags, task files, stdin — excludes NUL.)
            total += bytes + 1
        }
        return total
    }
}
