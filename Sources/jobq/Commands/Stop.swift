import ArgumentParser
import Glibc
import JobStore

/// `jobq stop`: stop the daemon now (running jobs go on under their workers), or drain it.
struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", _superCommandName: "jobq",
        abstract: "Stop the daemon; with --drain, after the running jobs are done.",
        discussion: """
            Without --drain the daemon exits at once; running jobs keep running under their workers,
            which record how they end. With --drain it starts nothing new and exits when the running
            jobs are done. Either way this command waits until the daemon has exited.

            Examples:
              jobq stop
              jobq stop --drain

            Exit codes: 0 stopped, 1 no daemon runs for this home, 64 bad usage.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Finish the running jobs first; start no new ones.")
    var drain = false

    func run() throws {
        let home = global.resolvedHome
        // Watch the run folder first: the daemon closing its lock file is the event we wait for.
        let watcher = try DirectoryWatcher(directory: home.runDirectory, events: DirectoryWatcher.changes, closesInBackground: true)
        guard let pid = DaemonControl.signal(home, drain ? SIGUSR1 : SIGTERM) else {
            throw CommandFailure("no daemon is running for \(home.path)")
        }
        while DaemonControl.runningDaemon(of: home) != nil {
            _ = EventWait.wait(for: [watcher.fd], timeout: 1000)
            _ = watcher.drain()
        }
        var terminal = Terminal()
        terminal.print("daemon \(pid) stopped")
        terminal.flush()
    }
}
