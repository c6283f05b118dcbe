import ArgumentParser
import Glibc
import JobStore

/// `jobq daemon`: run the queue in the foreground.
struct DaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon", _superCommandName: "jobq",
        abstract: "Run the queue in the foreground: start jobs, a few at a time, in priority order.",
        discussion: """
            Drop *.task files into the spool folder (HOME/spool, or --spool DIR) and they are queued,
            named after the file; jobs added with `jobq add` start at once when a worker is free.
            One daemon per home. Jobs run in worker processes that outlive the daemon: stop it
            (Ctrl-C, SIGTERM, `jobq stop`) and running jobs go on and still get recorded; start it
            again and it picks up where it was. `jobq stop --drain` waits for running jobs instead.

            Events (job started, ended, file ingested or rejected, lost) go to stderr, one line each.

            Examples:
              jobq daemon
              jobq daemon --workers 4 --spool .

            Exit codes: 0 stopped, 1 could not start (e.g. another daemon runs for this home), 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("How many jobs may run at once (default: the number of cores).", valueName: "N"))
    var workers: Int?
    @Option(help: ArgumentHelp("The folder to take *.task files from (default HOME/spool).", valueName: "DIR"))
    var spool: String?
    @Option(help: ArgumentHelp("Between SIGTERM and SIGKILL when stopping a job (default 10s).", valueName: "DUR"),
            transform: parseDuration)
    var killGrace: Int64 = 10_000

    func validate() throws {
        if let workers, !(1...1024).contains(workers) {
            throw ValidationError("--workers needs a whole number from 1 to 1024, not \(workers)")
        }
    }

    func run() throws {
        EventLogHandler.bootstrap()
        let home = global.resolvedHome
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let daemon = try Daemon(configuration: Daemon.Configuration(
            home: home, workers: workers ?? max(1, cores), spool: spool.map(Home.absolute) ?? home.spoolDirectory,
            killGraceMilliseconds: killGrace, executable: Spawn.currentExecutable()))
        throw ExitCode(try daemon.run())
    }
}

/// `jobq worker`: the supervisor of worker slots. Started by the daemon, never by hand.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", _superCommandName: "jobq",
        abstract: "Internal: the supervisor of worker slots (started by the daemon).",
        shouldDisplay: false)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The slots, comma-separated; their locks are descriptors 3, 4, …, the daemon's pipe the next one.")
    var slots: String
    @Option var workers: Int
    @Option var killGraceMs: Int64

    func run() throws {
        guard let numbers = Self.parseSlots(slots) else {
            throw ValidationError("--slots: a comma-separated list of distinct slot numbers")
        }
        try Self.run(home: global.resolvedHome, slots: numbers, workers: workers, killGrace: killGraceMs)
    }

    static func parseSlots(_ text: String) -> [Int]? {
        let numbers = text.split(separator: ",").compactMap { Int($0) }
        guard !numbers.isEmpty, numbers.count == text.split(separator: ",", omittingEmptySubsequences: false).count,
            numbers.allSatisfy({ $0 >= 0 }), Set(numbers).count == numbers.count
        else { return nil }
        return numbers
    }

    /// (Also reached from `FastPath`, which reads the daemon's arguments for a supervisor
    /// directly.) Exits with the supervisor's status itself: the argument parser's exit path
    /// builds its help machinery first (3 million instructions at every supervisor's exit).
    static func run(home: Home, slots: [Int], workers: Int, killGrace: Int64) throws -> Never {
        EventLogHandler.bootstrap()
        let supervisor = try Supervisor(
            configuration: Supervisor.Configuration(
                home: home, slots: slots, workers: workers, killGraceMilliseconds: killGrace),
            firstLockFD: 3, daemonPipe: 3 + Int32(slots.count))
        Glibc.exit(supervisor.run())
    }
}
