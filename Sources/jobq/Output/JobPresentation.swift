import JobStore

/// How jobs look in tables and in `--json`. One place, so `list`, `errors` and `show` agree.
enum JobPresentation {
    /// How long the current attempt ran (or has been running).
    static func runtime(_ job: Job, now: Int64) -> String {
        runtime(startedAt: job.startedAt, finishedAt: job.finishedAt, running: job.state == .running, now: now)
    }

    static func runtime(startedAt: Int64?, finishedAt: Int64?, running: Bool, now: Int64) -> String {
        runtimeMilliseconds(startedAt: startedAt, finishedAt: finishedAt, running: running, now: now)
            .map { DurationParser.format(milliseconds: $0) } ?? ""
    }

    /// How long it ran (so far, while running); nil before it started.
    static func runtimeMilliseconds(startedAt: Int64?, finishedAt: Int64?, running: Bool, now: Int64) -> Int64? {
        guard let started = startedAt else { return nil }
        return max(0, (finishedAt ?? (running ? now : started)) - started)
    }

    static func time(_ milliseconds: Int64?) -> JSON {
        milliseconds.map { .string(TimeParser.formatUTC(milliseconds: $0)) } ?? .null
    }

    /// The stable JSON shape of a job. Keys are never removed or renamed; new ones may be added.
    static func json(_ job: Job, attempts: [Attempt]? = nil, stderrTail: [String]? = nil) -> JSON {
        var members: [(String, JSON)] = [
            ("id", .int(job.id.rawValue)),
            ("name", .string(job.name)),
            ("display_name", .string(job.displayName)),
            ("state", .string(job.state.rawValue)),
            ("reason", .string(job.reason?.rawValue)),
            ("priority", .int(Int64(job.priority))),
            ("kind", .string(job.payload.kind)),
        ]
        switch job.payload {
        case .command(let argv): members.append(("command", .array(argv.map(JSON.string))))
        case .script(let text): members.append(("script", .string(text)))
        case .message(let text, let seconds):
            members.append(("message", .string(text)))
            members.append(("seconds", .double(seconds)))
        }
        members += [
            ("cwd", .string(job.cwd)),
            ("source", .string(job.source)),
            ("timeout_ms", .int(job.timeoutMilliseconds)),
            ("max_retries", .int(Int64(job.maxRetries))),
            ("attempt", .int(Int64(job.attempt))),
            ("after", .array(job.after.map { .int($0.rawValue) })),
            ("run_after", time(job.runAfter > 0 ? job.runAfter : nil)),
            ("enqueued_at", time(job.enqueuedAt)),
            ("started_at", time(job.startedAt)),
            ("finished_at", time(job.finishedAt)),
            ("worker", .int(job.worker)),
            ("pid", .int(job.pid)),
            ("exit_code", .int(job.exitCode)),
            ("signal", .int(job.signal)),
            ("error", .string(job.error)),
            ("stdout_path", .string(job.stdoutPath)),
            ("stderr_path", .string(job.stderrPath)),
        ]
        if let environment = job.environment { members.append(("environment", .array(environment.map(JSON.string)))) }
        if let attempts { members.append(("attempts", .array(attempts.map(json)))) }
        if let stderrTail { members.append(("stderr_tail", .array(stderrTail.map(JSON.string)))) }
        return .object(members)
    }

    static func json(_ attempt: Attempt) -> JSON {
        .object([
            ("attempt", .int(Int64(attempt.number))),
            ("state", .string(attempt.state.rawValue)),
            ("reason", .string(attempt.reason?.rawValue)),
            ("started_at", time(attempt.startedAt)),
            ("finished_at", time(attempt.finishedAt)),
            ("worker", .int(attempt.worker)),
            ("pid", .int(attempt.pid)),
            ("exit_code", .int(attempt.exitCode)),
            ("signal", .int(attempt.signal)),
            ("error", .string(attempt.error)),
            ("stdout_path", .string(attempt.stdoutPath)),
            ("stderr_path", .string(attempt.stderrPath)),
        ])
    }
}
