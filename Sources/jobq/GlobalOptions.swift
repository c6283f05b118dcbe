import ArgumentParser
import JobStore

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The queue's home folder.", valueName: "DIR"))
    var home: String?

    var resolvedHome: Home { Home.resolve(explicit: home) }

    /// The home's store, created on first use.
    func openStore() throws -> SQLiteStore { try SQLiteStore(home: resolvedHome) }
}

/// `--json` for commands that print data.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON (a stable shape, for scripts) instead of a table.")
    var json = false
}

/// A duration option's value (`90s`, `10m`, `1h30m`) in milliseconds; a bad one is a usage
/// error that says what a duration looks like.
func parseDuration(_ text: String) throws -> Int64 {
    do {
        return try DurationParser.milliseconds(text)
    } catch {
        throw ValidationError(error.description)
    }
}
