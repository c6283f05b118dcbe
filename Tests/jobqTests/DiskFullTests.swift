import Glibc
import JobStore
import Testing
import TestSupport

/// A home on a full disk: `add` fails clearly and changes nothing; the daemon keeps running,
/// keeps finished jobs' outcomes, and catches up once there is space again.
@Suite(.enabled(if: SmallDisk.canMount, "needs permission to mount a tmpfs (run as root)"))
struct DiskFullTests {
    @Test func aFullDiskFailsAddsCleanlyAndTheDaemonRecovers() throws {
        let folder = TemporaryDirectory("diskfull")
        let disk = try #require(SmallDisk(at: folder.file("disk"), megabytes: 4))
        let home = disk.path + "/home"
        let daemon = DaemonHarness(home: home, logPath: folder.file("daemon.log"))
        // The spool is on the big disk: a task file can arrive whole while the database cannot grow.
        let spool = folder.file("spool")
        mkdir(spool, 0o700)
        try #require(daemon.start(["--workers", "1", "--spool", spool]))
        let gate = folder.file("gate")
        let first = JobQProcess.run(["add", "--", "/bin/sh", "-c", "while [ ! -f \(gate) ]; do sleep 0.05; done"], home: home)
        try #require(first.status == 0)
        let firstID = try #require(JobID(parsing: String(first.stdout.dropLast())))
        let store = try SQLiteStore(path: home + "/jobq.db")
        try #require(waitUntil { (try? store.job(firstID))?.state == .running })

        disk.fill()
        let before = try store.counts()
        let refused = JobQProcess.run(["add", "--", "true"], home: home)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("full"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(try store.counts() == before)

        // A task file that arrives meanwhile cannot be recorded; it is taken once there is space.
        rename(folder.write("later.task", "echo later\n"), spool + "/later.task")
        #expect(waitUntil(seconds: 5) { daemon.log.contains("spool: cannot record later.task") }, "\(daemon.log)")
        // The running job ends while the disk is full: its outcome waits, it is not lost.
        _ = folder.write("gate", "")
        #expect(waitUntil(seconds: 5) { daemon.log.contains("cannot write to the database") }, "\(daemon.log)")
        #expect(kill(daemon.pid, 0) == 0, "the daemon died")
        disk.free()
        #expect(waitUntil(seconds: 60) { (try? store.job(firstID))?.state == .done }, "\(daemon.log)")
        #expect(waitUntil(seconds: 30) { ((try? store.counts())?[.done] ?? 0) >= 2 }, "the spooled file was not taken: \(daemon.log)")
        let after = JobQProcess.run(["add", "--", "true"], home: home)
        #expect(after.status == 0)
        let afterID = try #require(JobID(parsing: String(after.stdout.dropLast())))
        #expect(waitUntil { (try? store.job(afterID))?.state == .done })
        #expect(try store.database.text("PRAGMA integrity_check") == "ok")
    }
}

/// A size-limited tmpfs mounted for one test, unmounted when released.
final class SmallDisk {
    let path: String
    private var fillers = 0

    init?(at path: String, megabytes: Int) {
        self.path = path
        mkdir(path, 0o700)
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(megabytes)m,mode=0700") == 0 else { return nil }
    }

    deinit {
        umount2(path, Int32(MNT_DETACH))
        rmdir(path)
    }

    /// Whether this process may mount a tmpfs (decided once, by trying).
    static let canMount: Bool = {
        let probe = TemporaryDirectory("mountprobe")
        return SmallDisk(at: probe.file("m"), megabytes: 1) != nil
    }()

    /// Fills the disk to the last byte.
    func fill() {
        let fd = open(path + "/filler\(fillers)", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        fillers += 1
        let block = [UInt8](repeating: 0x55, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        close(fd)
    }

    func free() {
        for index in 0..<fillers { unlink(path + "/filler\(index)") }
    }
}
