import ArgumentParser
import JobStore

/// `jobq show ID`: everything about one job.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", _superCommandName: "jobq",
        abstract: "Show everything about one job.",
        discussion: """
            Examples:
              jobq show 42
              jobq show 42 --json

            Exit codes: 0 success, 1 no such job or runtime error, 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: ArgumentHelp("The job's id.", valueName: "ID"))
    var id: JobID

    func run() throws {
        let home = global.resolvedHome
        let store = try SQLiteStore(home: home)
        guard let job = try store.job(id) else { throw StoreError.unknownJob(id) }
        let attempts = try store.attempts(of: id)
        let tail = job.outputPath(stderr: true, home: home).map { LogTail.lastLines(of: $0, count: 5) } ?? []
        var terminal = Terminal()
        if output.json {
            terminal.print(JobPresentation.json(job, attempts: attempts, stderrTail: tail).serialized())
        } else {
            for line in describe(job, attempts: attempts, stderrTail: tail) { terminal.print(line) }
        }
        terminal.flush()
    }

    private func describe(_ job: Job, attempts: [Attempt], stderrTail: [String]) -> [String] {
        var fields: [(String, String)] = [("state", job.state.rawValue + (job.reason.map { " (\($0.rawValue))" } ?? ""))]
        if job.state == .failed || job.state == .done { fields.append(("result", job.resultSummary)) }
        if let error = job.error { fields.append(("error", error)) }
        switch job.payload {
        case .command(let argv): fields.append(("command", argv.map(shellQuoted).joined(separator: " ")))
        case .message(let text, let seconds): fields.append(("message", "\(text) (then sleeps \(formatSeconds(seconds))s)"))
        case .script: fields.append(("script", "\(job.payload.summary)"))
        }
        fields.append(("cwd", job.cwd))
        if let source = job.source { fields.append(("source", source)) }
        fields.append(("priority", String(job.priority)))
        if let timeout = job.timeoutMilliseconds { fields.append(("timeout", DurationParser.format(milliseconds: timeout))) }
        fields.append(("attempt", "\(job.attempt) of at most \(job.maxRetries + 1)"))
        if !job.after.isEmpty { fields.append(("after", job.after.map(\.description).joined(separator: ", "))) }
        if job.runAfter > 0 { fields.append(("not before", TimeParser.formatLocal(milliseconds: job.runAfter))) }
        fields.append(("enqueued", TimeParser.formatLocal(milliseconds: job.enqueuedAt)))
        if let started = job.startedAt { fields.append(("started", TimeParser.formatLocal(milliseconds: started))) }
        if let finished = job.finishedAt { fields.append(("finished", TimeParser.formatLocal(milliseconds: finished))) }
        if job.startedAt != nil { fields.append(("runtime", JobPresentation.runtime(job, now: WallClock.now()))) }
        if let worker = job.worker { fields.append(("worker", String(worker))) }
        if let pid = job.pid { fields.append(("pid", String(pid))) }
        if let path = job.stdoutPath { fields.append(("stdout", path)) }
        if let path = job.stderrPath { fields.append(("stderr", path)) }
        if let count = job.environment?.count { fields.append(("environment", "\(count) variables (--json lists them)")) }

        let width = fields.map(\.0.count).max() ?? 0
        var lines = ["job \(job.id) \(job.displayName)"]
        lines += fields.map { "  " + $0.0 + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }
        if case .script(let text) = job.payload {
            lines.append("  script:")
            lines += text.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }
        }
        for attempt in attempts {
            let how = attempt.state == .done ? "done" : "failed (\(attempt.reason?.rawValue ?? "?"))"
            var line = "  attempt \(attempt.number): \(how)"
            if let code = attempt.exitCode { line += ", exit \(code)" }
            if let signal = attempt.signal { line += ", signal \(signal)" }
            if let finished = attempt.finishedAt { line += ", ended \(TimeParser.formatLocal(milliseconds: finished))" }
            lines.append(line)
        }
        if !stderrTail.isEmpty {
            lines.append("  last lines of stderr:")
            lines += stderrTail.map { "    | " + $0 }
        }
        return lines
    }
}

extension JobID: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}
