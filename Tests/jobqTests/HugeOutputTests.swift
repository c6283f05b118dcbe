import Glibc
import JobStore
import Testing
import TestSupport

/// A job that writes 1 GiB: its output goes straight to its log file, so neither the daemon
/// nor its worker grows, and `errors`/`show` read only the end of the log.
@Suite(.enabled(if: freeBytes(in: "/tmp") > 3 << 30, "needs 3 GiB free in /tmp for a 1 GiB log"))
struct HugeOutputTests {
    func residentKilobytes(_ pid: Int32) -> Int {
        let status = readFile("/proc/\(pid)/status") ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    @Test func aGigabyteOfOutputDoesNotGrowTheDaemon() throws {
        let test = DaemonTestCase("huge")
        try #require(test.daemon.start(["--workers", "1"]))
        let warmup = try test.add(["--", "true"])
        try test.waitFor(warmup, .done)
        let processes = [test.daemon.pid] + test.daemon.workerPIDs()
        let before = processes.map(residentKilobytes).reduce(0, +)

        let id = try test.addShell("head -c 1073741824 /dev/zero; echo last words >&2; exit 1")
        let job = try test.waitFor(id, seconds: 120)
        #expect(job.state == .failed && job.exitCode == 1)
        var info = stat()
        #expect(stat(try #require(job.stdoutPath), &info) == 0 && info.st_size == 1 << 30)
        let after = processes.map(residentKilobytes).reduce(0, +)
        #expect(after - before < 4 * 1024, "daemon and worker grew from \(before) to \(after) KiB")

        let started = monotonicSeconds()
        let errors = test.jobq(["errors"])
        #expect(errors.stdout.contains("    | last words"))
        #expect(test.jobq(["show", "\(id)"]).stdout.contains("last words"))
        #expect(monotonicSeconds() - started < 2, "reading the end of a huge log should be quick")
        unlink(try #require(job.stdoutPath))
    }
}

/// Free space for an unprivileged user in the filesystem of `path`.
func freeBytes(in path: String) -> Int {
    var info = statvfs()
    guard statvfs(path, &info) == 0 else { return 0 }
    return Int(info.f_bavail) * Int(info.f_frsize)
}
