import ArgumentParser
import JobStore

/// `jobq errors`: failed jobs, newest first, with how they ended and their last stderr lines.
struct Errors: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "errors", _superCommandName: "jobq",
        abstract: "List failed jobs, newest first: exit code or signal, reason, last lines of stderr.",
        discussion: """
            Reasons: exit (non-zero status), signal, timeout, cancelled, lost (its worker vanished),
            spawn (could not be started), invalid (task file), dependency (a job it runs after failed).

            Examples:
              jobq errors
              jobq errors --limit 5 --json

            Exit codes: 0 success, 1 runtime error, 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Option(help: ArgumentHelp("At most N jobs.", valueName: "N"))
    var limit: Int?
    @Option(help: ArgumentHelp("Lines of stderr to show for each job.", valueName: "N"))
    var lines: Int = 3

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit needs a whole number of at least 1, not \(limit)") }
        if lines < 0 { throw ValidationError("--lines needs a whole number of at least 0, not \(lines)") }
    }

    func run() throws {
        let home = global.resolvedHome
        let store = try SQLiteStore(home: home)
        try store.readThroughMemoryMap()
        func stderrTail(_ job: Job) -> [String] {
            job.outputPath(stderr: true, home: home).map { LogTail.lastLines(of: $0, count: lines) } ?? []
        }
        var terminal = Terminal()
        if output.json {
            try terminal.writeJSONArray { emit in
                try store.forEachJob(state: .failed, limit: limit) { emit(JobPresentation.json($0, stderrTail: stderrTail($0))) }
            }
        } else {
            let jobs = try store.jobs(state: .failed, limit: limit)
            let tails = jobs.map(stderrTail)
            var table = Table(["ID", "NAME", "REASON", "RESULT", "FINISHED", "COMMAND"])
            for job in jobs {
                table.append([
                    String(job.id.rawValue), job.displayName, job.reason?.rawValue ?? "", job.resultSummary,
                    job.finishedAt.map { TimeParser.formatLocal(milliseconds: $0) } ?? "", job.payload.summary,
                ])
            }
            let rendered = table.render(width: Terminal.width)
            terminal.print(rendered[0])
            for (index, line) in rendered.dropFirst().enumerated() {
                terminal.print(line)
                let error = jobs[index].error
                if let error { terminal.print("    ! \(error)") }
                // A spawn failure is also the job's stderr; do not show it twice.
                for tail in tails[index] where tail != "jobq: \(error ?? "")" { terminal.print("    | \(tail)") }
            }
        }
        terminal.flush()
    }
}
