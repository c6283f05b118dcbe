import JobStore

/// The common forms of the two hottest commands, read without the argument parser:
/// `jobq add [--home DIR] [OPTIONS] -- COMMAND…` and `jobq list [--state S] [--limit N] [--json]`
/// (and `jobq --version`).
///
/// Every `jobq` is a process start, and building swift-argument-parser's command tree (which
/// reflects over the command's properties) costs more than an enqueue's own work. This reads
/// those forms directly — the same option names, each value checked by the same code the
/// commands use — and leaves everything else (task files, --stdin, --help, any mistake) to the
/// argument parser, so usage errors and help look the same either way.
enum FastPath {
    /// Runs the command when the arguments are of a simple form; false when they are for the parser.
    static func run(_ arguments: [String], now: Int64) throws -> Bool {
        if let add = scan(arguments, command: "add", valueFlags: JobOptions.flags, needsCommand: true) {
            var options = JobOptions()
            for (flag, value) in add.options {
                do { try options.set(flag, value, now: now) } catch { return false }
            }
            try AddRequest(
                home: Home.resolve(explicit: add.home), options: options, what: .command(add.command), json: add.json
            ).run(now: now)
            return true
        }
        if let list = scan(arguments, command: "list", valueFlags: ["--state", "--limit"], needsCommand: false) {
            var state: JobState?
            var limit: Int?
            for (flag, value) in list.options {
                if flag == "--state" {
                    guard let parsed = JobState(rawValue: value) else { return false }
                    state = parsed
                } else {
                    guard let parsed = Int(value), parsed >= 1 else { return false }
                    limit = parsed
                }
            }
            try List.show(home: Home.resolve(explicit: list.home), state: state, limit: limit, json: list.json)
            return true
        }
        // What scripts and the benchmark ask for the version: answered as the parser would.
        if arguments == ["--version"] {
            var terminal = Terminal()
            terminal.print(JobQ.version)
            terminal.flush()
            return true
        }
        // The daemon starts its supervisors always the same way: skipping the parser's start-up
        // also keeps its code out of every supervisor's memory. (`--slot N`: a daemon of an
        // earlier version, whose binary was replaced while it ran, restarting its worker.)
        if arguments.count == 9, arguments[0] == "worker", arguments[1] == "--home",
            arguments[3] == "--slots" || arguments[3] == "--slot",
            arguments[5] == "--workers", arguments[7] == "--kill-grace-ms",
            let slots = WorkerCommand.parseSlots(arguments[4]),
            let workers = Int(arguments[6]), let killGrace = Int64(arguments[8])
        {
            try WorkerCommand.run(
                home: Home.resolve(explicit: arguments[2]), slots: slots, workers: workers, killGrace: killGrace)
        }
        return false
    }

    struct Scanned {
        var home: String?
        /// Flags and their values, one after the other: `[flag, value, flag, value, …]`.
        ///
        /// Only `[String]`s here (no Set, tuple array or array of structs): each generic type a
        /// process uses for the first time costs a metadata instantiation (demangling, page
        /// faults), and this runs in every `jobq add` — measured, a `Set` of the flag names was
        /// ~7 % of an add's CPU and an array of (flag, value) structs ~4 %.
        var flagsAndValues: [String] = []
        /// The (flag, value) pairs.
        var options: some Sequence<(String, String)> {
            stride(from: 0, to: flagsAndValues.count, by: 2).lazy.map { (flagsAndValues[$0], flagsAndValues[$0 + 1]) }
        }
        var json = false
        /// The words after `--`.
        var command: [String] = []
    }

    /// `[--home DIR] COMMAND [--flag VALUE | --flag=VALUE | --json]… [-- WORDS…]`, or nil for
    /// anything else (an unknown flag, a missing value, `--help`, words where none belong).
    static func scan(_ arguments: [String], command name: String, valueFlags: [String], needsCommand: Bool)
        -> Scanned?
    {
        var scanned = Scanned()
        var sawCommand = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == name && !sawCommand {
                sawCommand = true
                continue
            }
            if argument == "--" {
                guard sawCommand, needsCommand, index < arguments.count else { return nil }
                scanned.command = Array(arguments[index...])
                return scanned
            }
            if argument == "--json" && sawCommand {
                scanned.json = true
                continue
            }
            var flag = argument
            var value: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                flag = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            guard flag == "--home" || (sawCommand && valueFlags.contains(flag)) else { return nil }
            if value == nil {
                guard index < arguments.count else { return nil }
                value = arguments[index]
                index += 1
                // The parser takes a dash-led word as a value only for `add`'s job options
                // (`--priority -3`); for the others it is a missing value: leave it the error.
                if value!.hasPrefix("-") && !(name == "add" && flag != "--home") { return nil }
            }
            if flag == "--home" { scanned.home = value } else { scanned.flagsAndValues += [flag, value!] }
        }
        return sawCommand && !needsCommand ? scanned : nil
    }
}
