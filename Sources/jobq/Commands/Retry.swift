import ArgumentParser
import JobStore

/// `jobq retry`: a failed job goes back in the queue as a new attempt.
struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry", _superCommandName: "jobq",
        abstract: "Put failed jobs back in the queue, each as a new attempt.",
        discussion: """
            The earlier attempt's outcome stays visible in `jobq show ID`.

            Examples:
              jobq retry 42
              jobq errors --json | jq '.[].id' | xargs jobq retry

            Exit codes: 0 queued again, 1 an id is unknown or not failed (then nothing changes), 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The failed jobs to run again.", valueName: "ID"))
    var ids: [JobID]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("name the jobs to retry, e.g. jobq retry 42") }
    }

    func run() throws {
        let home = global.resolvedHome
        try SQLiteStore(home: home).retry(ids, now: WallClock.now())
        DaemonControl.poke(home)
        var terminal = Terminal()
        for id in ids { terminal.print("job \(id) queued again") }
        terminal.flush()
    }
}
