import ArgumentParser
import JobStore

/// `jobq list`: the queue and its history, newest first.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", _superCommandName: "jobq",
        abstract: "List jobs, newest first.",
        discussion: """
            Examples:
              jobq list
              jobq list --state failed --limit 20
              jobq list --state queued --json | jq '.[].id'

            Exit codes: 0 success, 1 runtime error, 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Option(help: ArgumentHelp("Only jobs in this state: queued, running, done or failed.", valueName: "STATE"))
    var state: JobState?
    @Option(help: ArgumentHelp("At most N jobs.", valueName: "N"))
    var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit needs a whole number of at least 1, not \(limit)") }
    }

    func run() throws {
        try Self.show(home: global.resolvedHome, state: state, limit: limit, json: output.json)
    }

    /// The listing itself (also run by `FastPath`).
    static func show(home: Home, state: JobState?, limit: Int?, json: Bool) throws {
        let store = try SQLiteStore(home: home)
        try store.readThroughMemoryMap()
        var terminal = Terminal()
        if json {
            try terminal.writeJSONArray { emit in
                try store.forEachJob(state: state, limit: limit) { emit(JobPresentation.json($0)) }
            }
        } else {
            var table = ListTable(now: WallClock.now())
            try store.forEachSummary(state: state, limit: limit) { try table.add($0) }
            table.write(to: &terminal, width: Terminal.width)
        }
        terminal.flush()
    }
}

extension JobState: ExpressibleByArgument {}
