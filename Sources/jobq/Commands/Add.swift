import ArgumentParser
import Glibc
import JobStore

/// `jobq add`: enqueue a command, task files, or one shell command per stdin line.
struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", _superCommandName: "jobq",
        abstract: "Put work on the queue; prints the new job id(s).",
        discussion: """
            Three forms:
              jobq add [OPTIONS] -- COMMAND [ARG...]   a command, run without a shell
              jobq add [OPTIONS] FILE.task...          task files (the same parser as the spool)
              jobq add [OPTIONS] --stdin               one shell command per line, in one transaction

            The working directory and the environment are captured now: the job runs with them
            wherever the daemon was started. Options given here override a task file's #JOBQ lines.

            Examples:
              jobq add -- make -j4
              jobq add --priority 5 --timeout 10m --retries 2 -- ./simulate.sh input.dat
              jobq add --after 12 --name report -- python3 report.py
              jobq add 1.task 2.task
              seq 100 | sed 's/^/convert page-/' | jobq add --stdin

            Exit codes: 0 added, 1 nothing added (the error says why), 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("A name; jobs of equal priority run in byte order of their names.", valueName: "NAME"))
    var name: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Higher runs first (default 0).", valueName: "N"))
    var priority: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Run in DIR instead of the current folder.", valueName: "DIR"))
    var cwd: String?
    @Option(parsing: .unconditionalSingleValue, help: ArgumentHelp("Set an environment variable for the job (repeatable).", valueName: "KEY=VALUE"))
    var env: [String] = []
    @Option(parsing: .unconditional, help: ArgumentHelp("Stop the job after DUR (e.g. 90s, 10m, 1h30m).", valueName: "DUR"))
    var timeout: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Run again up to N times when it fails.", valueName: "N"))
    var retries: String?
    @Option(parsing: .unconditionalSingleValue, help: ArgumentHelp("Run only after these jobs are done (repeatable).", valueName: "ID[,ID...]"))
    var after: [String] = []
    @Option(parsing: .unconditional, help: ArgumentHelp("Do not start before DUR from now.", valueName: "DUR"))
    var delay: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Do not start before TIME (HH:MM, YYYY-MM-DD HH:MM, @EPOCH).", valueName: "TIME"))
    var at: String?
    @Flag(help: "Read one shell command per line from standard input.")
    var stdin = false
    @Flag(help: "Print the new ids as JSON.")
    var json = false

    @Argument(help: ArgumentHelp("Task files, or after -- the command and its arguments.", valueName: "FILE.task | -- COMMAND"))
    var arguments: [String] = []

    /// Words after `--` are a command; without `--` they are task files. (The argument parser
    /// gives both as one list, so the raw command line decides.)
    private var isCommand: Bool { CommandLine.arguments.contains("--") }
    private var command: [String] { isCommand ? arguments : [] }
    private var files: [String] { isCommand ? [] : arguments }

    mutating func validate() throws {
        let forms = (command.isEmpty ? 0 : 1) + (files.isEmpty ? 0 : 1) + (stdin ? 1 : 0)
        if forms == 0 {
            throw ValidationError("nothing to add: give a command after --, task files, or --stdin")
        }
        if forms > 1 {
            throw ValidationError("give one of: a command after --, task files, or --stdin")
        }
        if let notTask = files.first(where: { !$0.hasSuffix(".task") }) {
            throw ValidationError(
                "'\(notTask)' is not a .task file; to run a command, put it after --: jobq add -- \(files.joined(separator: " "))"
            )
        }
        do {
            _ = try options(now: WallClock.now())
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The flags as job options, each value checked by `JobOptions.set`.
    func options(now: Int64) throws(InputError) -> JobOptions {
        var options = JobOptions()
        let single: [(String, String?)] = [
            ("--name", name), ("--priority", priority), ("--cwd", cwd), ("--timeout", timeout),
            ("--retries", retries), ("--delay", delay), ("--at", at),
        ]
        for case let (flag, value?) in single { try options.set(flag, value, now: now) }
        for value in env { try options.set("--env", value, now: now) }
        for value in after { try options.set("--after", value, now: now) }
        return options
    }

    func run() throws {
        let what: AddRequest.What = stdin ? .standardInput : (command.isEmpty ? .taskFiles(files) : .command(command))
        let now = WallClock.now()
        try AddRequest(home: global.resolvedHome, options: try options(now: now), what: what, json: json).run(now: now)
    }
}
