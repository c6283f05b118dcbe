import ArgumentParser
import JobStore

/// `jobq list`: the queue and its history, newest first.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
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
        let jobs = try global.openStore().jobs(state: state, limit: limit)
        JobListing.print(jobs, json: output.json)
    }
}

extension JobState: ExpressibleByArgument {}

/// Prints a list of jobs as a table or as a JSON array (shared by `list` and `errors`).
enum JobListing {
    static func print(_ jobs: [Job], json: Bool, extra: ((Job) -> [(String, JSON)])? = nil) {
        var terminal = Terminal()
        if json {
            terminal.print(JSON.array(jobs.map { job in
                guard let extra, case .object(let members) = JobPresentation.json(job) else {
                    return JobPresentation.json(job)
                }
                return .object(members + extra(job))
            }).serialized())
        } else {
            let now = WallClock.now()
            var table = Table(JobPresentation.listHeaders)
            for job in jobs { table.append(JobPresentation.listRow(job, now: now)) }
            for line in table.render(width: Terminal.width) { terminal.print(line) }
        }
        terminal.flush()
    }
}
