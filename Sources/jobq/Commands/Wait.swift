import ArgumentParser
import Glibc
import JobStore

/// `jobq wait`: block until jobs end.
struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait", _superCommandName: "jobq",
        abstract: "Wait until jobs end; exit non-zero if any failed.",
        discussion: """
            Without ids, waits for every job that is queued or running now. On a terminal it shows a
            progress line on stderr.

            Examples:
              jobq wait 42
              id=$(jobq add -- make) && jobq wait "$id" && echo built
              jobq wait --timeout 10m

            Exit codes: 0 all done, 1 runtime error or unknown id, 2 at least one failed,
            3 --timeout passed first, 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The jobs to wait for (default: all queued or running now).", valueName: "ID"))
    var ids: [JobID] = []
    @Option(help: ArgumentHelp("Give up after DUR (exit 3).", valueName: "DUR"), transform: parseDuration)
    var timeout: Int64?

    func run() throws {
        let home = global.resolvedHome
        let store = try SQLiteStore(home: home)
        var changes = try StoreChanges(home: home)
        let waiting = ids.isEmpty ? try store.unfinishedJobIDs() : ids
        let deadline = timeout.map { WallClock.monotonic() + $0 }
        let showProgress = isatty(STDERR_FILENO) == 1
        let distinct = Set(waiting).count
        while true {
            let (found, done, failed, running) = try store.progress(of: waiting)
            if found < distinct {
                let known = Set(try waiting.filter { try store.job($0) != nil })
                throw StoreError.unknownJob(waiting.first { !known.contains($0) }!)
            }
            if showProgress { progress(done: done, failed: failed, running: running, total: found) }
            if done + failed == found {
                if showProgress { writeAll("\n", to: STDERR_FILENO) }
                // A worker's commit is visible a moment before it is on disk (it flushes after
                // releasing the write lock): make what this wait saw durable before saying so.
                try? store.flush()
                if failed > 0 { throw ExitCode(2) }
                return
            }
            let remaining = deadline.map { $0 - WallClock.monotonic() }
            if let remaining, remaining <= 0 {
                if showProgress { writeAll("\n", to: STDERR_FILENO) }
                throw ExitCode(3)
            }
            changes.next(longest: min(remaining ?? 2_000, 2_000), spacing: Self.spacing(unfinished: found - done - failed))
        }
    }

    /// Milliseconds between looks while `unfinished` jobs remain: a look reads every job waited
    /// for, and the more remain the longer they take to end — 900 jobs take longer than 45 ms to
    /// run on any machine, so looking at them every 5 ms (as for the last few) only takes CPU
    /// from them. (Measured during a drain of 900 `true` jobs: 238 looks took 123 ms of CPU, a
    /// seventh of the drain.)
    static func spacing(unfinished: Int) -> Int64 {
        min(50, max(StoreChanges.burstInterval, Int64(unfinished / 20)))
    }

    private func progress(done: Int, failed: Int, running: Int, total: Int) {
        let width = 30
        let filled = total == 0 ? width : (done + failed) * width / total
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        writeAll("\r[\(bar)] \(done + failed)/\(total) finished, \(failed) failed, \(running) running ", to: STDERR_FILENO)
    }
}
