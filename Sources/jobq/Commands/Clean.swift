import ArgumentParser
import Glibc
import JobStore

/// `jobq clean`: prune finished history.
struct Clean: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean", _superCommandName: "jobq",
        abstract: "Remove finished jobs (done or failed) and their logs from the history.",
        discussion: """
            Queued and running jobs are never touched, and neither is the newest job (so job ids are
            never reused).

            Examples:
              jobq clean                    # every finished job
              jobq clean --older-than 7d    # finished more than a week ago

            Exit codes: 0 success, 1 runtime error, 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Only jobs that finished longer ago than DUR.", valueName: "DUR"),
            transform: parseDuration)
    var olderThan: Int64 = 0

    func run() throws {
        let age = olderThan
        let store = try global.openStore()
        let (count, logFiles) = try store.pruneFinished(finishedBy: WallClock.now() - age)
        // The rows are gone (committed); now their files. A file already gone is fine.
        for path in logFiles { unlink(path) }
        var terminal = Terminal()
        terminal.print("removed \(count) finished job\(count == 1 ? "" : "s")")
        terminal.flush()
    }
}
