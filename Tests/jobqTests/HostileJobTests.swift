import Glibc
import Testing
import TestSupport

@testable import JobStore

/// Jobs that do not go quietly: cancel and timeout still end all of their processes, and
/// nothing is left as a zombie.
@Suite struct HostileJobTests {
    /// Each script records the PIDs of its hidden processes in `pids` (one per line), then waits.
    static let hostile: [(name: String, script: String)] = [
        ("ignores SIGTERM", "trap '' TERM; echo $$ >> PIDS; sleep 60"),
        ("daemonized grandchild", "setsid sh -c 'sleep 60 & echo $! >> PIDS' ; echo $$ >> PIDS; sleep 60"),
        ("closed stdout", "exec >&- 2>&-; echo $$ >> PIDS; sleep 60"),
        // (perl-base is in every Debian; `setpgrp` moves the process to a group of its own.)
        ("own process group", "perl -e 'setpgrp(0, 0); select(undef, undef, undef, 60)' & echo $! >> PIDS; echo $$ >> PIDS; wait"),
        ("grandchild ignoring SIGTERM", "sh -c 'trap \"\" TERM; sleep 60' & echo $! >> PIDS; echo $$ >> PIDS; wait"),
    ]

    func pids(_ path: String) -> [Int32] {
        (readFile(path) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    @Test(arguments: [false, true])
    func cancelAndTimeoutEndEveryProcessOfHostileJobs(byTimeout: Bool) throws {
        let test = DaemonTestCase(byTimeout ? "hostile-timeout" : "hostile-cancel")
        try #require(test.daemon.start(["--workers", String(Self.hostile.count)]))
        var jobs: [(JobID, String)] = []
        for (index, hostile) in Self.hostile.enumerated() {
            let pidFile = test.folder.file("pids\(index)")
            let script = hostile.script.replacing("PIDS", with: pidFile)
            let options = byTimeout ? ["--timeout", "1s"] : []
            jobs.append((try test.addShell(script, options), pidFile))
        }
        for (id, _) in jobs { try test.waitFor(id, .running) }
        // Every job has written all of its PIDs (the main shell writes last).
        for ((id, pidFile), hostile) in zip(jobs, Self.hostile) {
            let expected = hostile.script.ranges(of: "PIDS").count
            #expect(waitUntil { pids(pidFile).count == expected }, "job \(id) (\(hostile.name)) did not start fully")
        }
        if !byTimeout {
            let cancel = test.jobq(["cancel"] + jobs.map { "\($0.0)" })
            #expect(cancel.status == 0, "\(cancel.stderr)")
        }
        for ((id, pidFile), hostile) in zip(jobs, Self.hostile) {
            let job = try test.waitFor(id)
            #expect(job.reason == (byTimeout ? .timeout : .cancelled), "\(hostile.name): \(String(describing: job.reason))")
            for pid in pids(pidFile) {
                #expect(waitUntil { isGone(pid) }, "\(hostile.name): process \(pid) survived")
            }
        }
        // No zombies under the daemon or its workers.
        let parents = Set([test.daemon.pid] + test.daemon.workerPIDs())
        #expect(waitUntil { zombies(withParentIn: parents).isEmpty }, "zombies: \(zombies(withParentIn: parents))")
    }

    func zombies(withParentIn parents: Set<Int32>) -> [Int32] {
        DirectoryListing.names(in: "/proc").compactMap { name in
            // After the command name: [state, ppid, …].
            guard let pid = Int32(name), let fields = ProcessIdentity.statFields(of: pid), fields.count > 1,
                fields[0] == "Z", let parent = Int32(fields[1]), parents.contains(parent)
            else { return nil }
            return pid
        }
    }
}
