import ArgumentParser
import JobStore

/// `jobq copy-log`: copies a home's write-ahead log into its database file (a checkpoint).
/// Started, detached, by an `add --stdin` that made the log long while no daemon ran, so that the
/// add returns as soon as its jobs are on disk (see `LogCopyHandOff`); never by hand.
struct CopyLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy-log", _superCommandName: "jobq",
        abstract: "Internal: copy a home's write-ahead log into its database (started by a large add).",
        shouldDisplay: false)

    @Option var home: String

    func run() throws {
        // Closing the connection then, if it is the last one, also removes the emptied log file.
        try SQLiteStore(path: Home(path: home).databasePath, create: false).checkpointLog()
    }
}
