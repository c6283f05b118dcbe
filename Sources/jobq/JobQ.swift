import ArgumentParser
import JobStore

/// jobq: a persistent job queue. `jobq add` puts work on the queue, `jobq daemon` runs it, and
/// `list`, `errors`, `show` tell what ran and how it ended. Every command is a subcommand in
/// Commands/; the state lives in the home's SQLite database (see Home).
@main
struct JobQ: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "jobq",
        abstract: "A persistent job queue: add shell work, run it a few at a time, see what ran and what failed.",
        discussion: """
            Jobs live in a SQLite database in the queue's home folder: --home DIR, else $JOBQ_HOME, else
            $XDG_STATE_HOME/jobq, else ~/.local/state/jobq.

            Example:
              jobq add -- make -j4
              jobq list

            Exit codes: 0 success, 1 runtime error, 64 bad usage.
            """,
        version: version,
        subcommands: [
            Add.self, DaemonCommand.self, List.self, Errors.self, Show.self, Log.self, Cancel.self, Retry.self,
            Wait.self, Clean.self, Status.self, Stop.self, WorkerCommand.self, CopyLogCommand.self,
        ]
    )

    /// Runs the command, and is the one place that decides how an error is shown: one line on
    /// stderr that says what to do, exit 1 (or 64 for bad usage, as the argument parser does).
    static func main() {
        do {
            try QuickAdd.reportWhatItLeft()
            let arguments = Array(CommandLine.arguments.dropFirst())
            let now = WallClock.now()
            if try FastPath.run(arguments, now: now) { return }
            var command = try parse(movingGlobalOptions(arguments))
            try command.run()
        } catch let error as any ReadableError {
            fail(error.description)
        } catch {
            exit(withError: error)
        }
    }

    /// Parses with the subcommand as the root when the first word names one: the argument
    /// parser then reflects over that command only, not all of them — a start-up cost every
    /// `jobq` process pays. (Each subcommand's configuration names "jobq" as its super-command,
    /// so usage and help read the same.) Anything else — no subcommand, `--help`, `help` —
    /// goes through the whole tree.
    static func parse(_ arguments: [String]) throws -> ParsableCommand {
        if let name = arguments.first,
            let subcommand = configuration.subcommands.first(where: { $0.configuration.commandName == name })
        {
            return try subcommand.parseAsRoot(Array(arguments.dropFirst()))
        }
        return try parseAsRoot(arguments)
    }

    /// `jobq --home DIR add …` works like `jobq add --home DIR …`: the argument parser only
    /// knows a subcommand's options after the subcommand's name, so they are moved there.
    static func movingGlobalOptions(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--home", index + 1 < arguments.count {
                leading += arguments[index...index + 1]
                index += 2
            } else if argument.hasPrefix("--home=") {
                leading.append(argument)
                index += 1
            } else {
                break
            }
        }
        guard !leading.isEmpty, index < arguments.count else { return arguments }
        return [arguments[index]] + leading + arguments[(index + 1)...]
    }

    static func fail(_ message: String) -> Never {
        Terminal.printError("jobq: \(message)")
        exit(withError: ExitCode.failure)
    }
}

/// A runtime error of a command (not bad usage): shown as one line, exit 1.
struct CommandFailure: ReadableError {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
