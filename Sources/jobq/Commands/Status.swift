import ArgumentParser
import JobStore

/// `jobq status`: whether the daemon is up, and counts per state.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", _superCommandName: "jobq",
        abstract: "Show whether the daemon runs and how many jobs are in each state.",
        discussion: """
            Examples:
              jobq status
              jobq status --json

            Exit codes: 0 success, 1 runtime error, 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let home = global.resolvedHome
        let counts = try SQLiteStore(home: home).counts()
        let daemon = DaemonControl.runningDaemonAndWorkers(of: home)
        let busy = counts[.running] ?? 0
        var terminal = Terminal()
        if output.json {
            terminal.print(JSON.object([
                ("home", .string(home.path)),
                ("daemon", .object([
                    ("running", .bool(daemon != nil)), ("pid", .int(daemon?.pid)), ("workers", .int(daemon?.workers)),
                    ("busy", .int(Int64(busy))),
                ])),
                ("counts", .object(JobState.allCases.map { ($0.rawValue, .int(Int64(counts[$0] ?? 0))) })),
            ]).serialized())
        } else {
            terminal.print("home     \(home.path)")
            let workers = daemon?.workers.map { ", \(busy) of \($0) workers busy" } ?? ""
            terminal.print("daemon   " + (daemon.map { "running (pid \($0.pid)\(workers))" } ?? "not running (start it with `jobq daemon`)"))
            for state in JobState.allCases {
                terminal.print(state.rawValue + String(repeating: " ", count: 9 - state.rawValue.count) + String(counts[state] ?? 0))
            }
        }
        terminal.flush()
    }
}
