import CPosix
import Glibc

/// The exit code a shell would report for a wait status: the code itself, or 128 + the signal.
public func exitCode(ofWaitStatus status: Int32) -> Int32 {
    jq_wifexited(status) != 0 ? jq_wexitstatus(status) : 128 + jq_wtermsig(status)
}

/// Reaps the child `pid` once it has exited, for at most `seconds`; returns its exit code (see
/// `exitCode(ofWaitStatus:)`), or nil when it was still running at the deadline (or is not our
/// child).
@discardableResult
public func waitForExit(_ pid: pid_t, seconds: Double = 20) -> Int32? {
    var status: Int32 = 0
    let reaped = waitUntil(seconds: seconds) { waitpid(pid, &status, WNOHANG) == pid }
    return reaped ? exitCode(ofWaitStatus: status) : nil
}

/// `waitForExit`, but a child still running at the deadline is killed (and reaped) rather than
/// left to write into a test folder that is about to be removed; nil then.
@discardableResult
public func waitForExitOrKill(_ pid: pid_t, seconds: Double = 20) -> Int32? {
    if let code = waitForExit(pid, seconds: seconds) { return code }
    kill(pid, SIGKILL)
    waitForExit(pid)
    return nil
}

/// How one of the `jobq add` loops of `runConcurrentAdds` ended.
public struct AddLoopOutcome {
    /// Its exit code; nil when it had not finished by the deadline (it was killed then).
    public var exitCode: Int32?
    /// What it printed: nothing, when every `add` worked.
    public var output: String
}

/// Runs `processes` shell loops at once, each running `jobq --home HOME add -- true` `each`
/// times, and waits for all of them. Their output goes to files in `logDirectory`.
public func runConcurrentAdds(
    home: String, processes: Int, each: Int, logDirectory: String, seconds: Double = 120
) -> [AddLoopOutcome] {
    let script = """
        i=0
        while [ $i -lt \(each) ]; do
            "$JOBQ" --home "$H" add -- true >/dev/null || echo "add failed" >&2
            i=$((i + 1))
        done
        """
    let loops = (0..<processes).map { index in
        let log = logDirectory + "/add-loop\(index).log"
        let child = JobQProcess.spawn(
            "/bin/sh", ["-c", script], environment: ["JOBQ": JobQProcess.binary, "H": home], captureOutput: false,
            logPath: log)
        return (pid: child.pid, log: log)
    }
    let deadline = monotonicSeconds() + seconds
    return loops.map { loop in
        let code = waitForExitOrKill(loop.pid, seconds: max(0, deadline - monotonicSeconds()))
        return AddLoopOutcome(exitCode: code, output: readFile(loop.log) ?? "")
    }
}
