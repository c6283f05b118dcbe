import Glibc
import JobStore
import Testing
import TestSupport

/// Task files dropped into the spool: ingested whole and once, bad ones kept and recorded.
@Suite struct SpoolTests {
    func spool(_ test: DaemonTestCase) -> String { test.home + "/spool" }

    @Test func aMalformedFileIsRecordedAsFailedAndKept() throws {
        let test = DaemonTestCase("spoolbad")
        try #require(test.daemon.start(["--workers", "1"]))
        let text = "#!/bin/sh\n#JOBQ --retries many\necho hi\n"
        test.folder.write("bad.task", text)
        rename(test.folder.file("bad.task"), spool(test) + "/bad.task")
        let store = try test.store()
        try #require(try waitUntil { try store.counts()[.failed] == 1 }, "log:\n\(test.daemon.log)")
        let job = try #require(try store.jobs(state: .failed, limit: 1).first)
        #expect(job.reason == .invalid)
        #expect(job.name == "bad.task")
        #expect(job.error?.contains("bad.task: line 2:") == true)
        #expect(job.error?.contains("--retries") == true)
        #expect(readFile(spool(test) + "/rejected/bad.task") == text)
        #expect(access(spool(test) + "/bad.task", F_OK) != 0)
        #expect(test.jobq(["errors"]).stdout.contains("invalid"))
    }

    /// A file still open for writing is not read half-way: it is taken when its writer closes it.
    @Test func aFileWrittenSlowlyIsReadWhole() throws {
        let test = DaemonTestCase("spoolslow")
        try #require(test.daemon.start(["--workers", "1"]))
        let store = try test.store()
        let fd = open(spool(test) + "/slow.task", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        writeAll("#!/bin/sh\necho first half\n", to: fd)
        // Inotify reports events in order: once a file moved in after slow.task was created has
        // run, the daemon has looked at slow.task while it was still open — and left it alone.
        rename(test.folder.write("marker.task", "echo marker\n"), spool(test) + "/marker.task")
        func doneJob(named name: String) throws -> Job? {
            try store.jobs(state: .done, limit: nil).first { $0.name == name }
        }
        try #require(try waitUntil { try doneJob(named: "marker.task") != nil }, "log:\n\(test.daemon.log)")
        #expect(try store.jobs(state: nil, limit: nil).map(\.name) == ["marker.task"], "slow.task was taken while open")
        writeAll("echo second half\n", to: fd)
        close(fd)
        try #require(try waitUntil { try doneJob(named: "slow.task") != nil }, "log:\n\(test.daemon.log)")
        let job = try #require(try doneJob(named: "slow.task"))
        #expect(job.payload == .script("#!/bin/sh\necho first half\necho second half\n"))
        #expect(test.jobq(["log", "\(job.id)"]).stdout == "first half\nsecond half\n")
    }

    /// The ingestor itself, with no daemon to race: busy while a writer has the file open,
    /// queued whole once it is closed.
    @Test func aFileOpenForWritingIsBusyUntilClosed() throws {
        let test = DaemonTestCase("spoolopen")
        let store = try SQLiteStore(home: Home(path: test.home))
        let ingestor = try SpoolIngestor(directory: spool(test), store: store, environment: [])
        let fd = open(spool(test) + "/slow.task", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        writeAll("#!/bin/sh\necho first half\n", to: fd)
        #expect(ingestor.ingest("slow.task") == .busy)
        #expect(ingestor.scan() == ["slow.task"])
        #expect(try store.jobs(state: nil, limit: nil).isEmpty)
        writeAll("echo second half\n", to: fd)
        close(fd)
        // (Where the file system grants no leases, a closed file is taken once 2 s old.)
        var result = SpoolIngestor.Result.busy
        try #require(waitUntil { result = ingestor.ingest("slow.task"); return result != .busy })
        guard case .queued(let id) = result else {
            Issue.record("slow.task was not queued: \(result)")
            return
        }
        #expect(try store.job(id)?.payload == .script("#!/bin/sh\necho first half\necho second half\n"))
    }

    /// `open(O_CREAT)` shows a new file before its opener holds it for writing, so an empty new
    /// file may be one whose writer has not started yet (`echo … > x.task`): it is left alone
    /// for 2 s, and only an empty file older than that is rejected.
    @Test func aNewEmptyFileWaitsBeforeItIsRejected() throws {
        let test = DaemonTestCase("spoolempty")
        let store = try SQLiteStore(home: Home(path: test.home))
        let ingestor = try SpoolIngestor(directory: spool(test), store: store, environment: [])
        let path = spool(test) + "/empty.task"
        close(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600))
        #expect(ingestor.ingest("empty.task") == .busy)
        #expect(try store.jobs(state: nil, limit: nil).isEmpty)
        let old = timespec(tv_sec: time(nil) - 3, tv_nsec: 0)
        var times = [old, old]
        utimensat(AT_FDCWD, path, &times, 0)
        guard case .rejected(let id) = ingestor.ingest("empty.task") else {
            Issue.record("an empty file 3 s old was not rejected")
            return
        }
        #expect(try store.job(id)?.error?.contains("empty.task: is empty") == true)
        #expect(access(spool(test) + "/rejected/empty.task", F_OK) == 0)
    }

    @Test func symlinksFIFOsAndFoldersAreRejectedAndKept() throws {
        let test = DaemonTestCase("spoolodd")
        try #require(test.daemon.start(["--workers", "1"]))
        test.folder.write("target.task", "echo no\n")
        symlink(test.folder.file("target.task"), spool(test) + "/link.task")
        mkfifo(spool(test) + "/fifo.task", 0o600)
        mkdir(spool(test) + "/dir.task", 0o700)
        let store = try test.store()
        try #require(try waitUntil { try store.counts()[.failed] == 3 }, "log:\n\(test.daemon.log)")
        let errors = try store.jobs(state: .failed, limit: nil).compactMap(\.error).joined(separator: "\n")
        #expect(errors.contains("link.task: is a symlink"))
        #expect(errors.contains("fifo.task: is a FIFO"))
        #expect(errors.contains("dir.task: is a folder"))
        for name in ["link.task", "fifo.task", "dir.task"] {
            var info = stat()
            #expect(lstat(spool(test) + "/rejected/" + name, &info) == 0, "\(name) was not kept")
        }
        #expect(try store.counts()[.done] == 0)
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give a file to another user"))
    func filesOfAnotherUserAreRefused() throws {
        let test = DaemonTestCase("spoolowner")
        try #require(test.daemon.start(["--workers", "1"]))
        test.folder.write("theirs.task", "echo theirs\n")
        chown(test.folder.file("theirs.task"), 65534, 65534)
        rename(test.folder.file("theirs.task"), spool(test) + "/theirs.task")
        let store = try test.store()
        try #require(try waitUntil { try store.counts()[.failed] == 1 })
        let job = try #require(try store.jobs(state: .failed, limit: 1).first)
        #expect(job.error?.contains("is owned by user 65534") == true)
    }

    @Test func aSpoolOthersCanWriteToIsRefused() throws {
        let test = DaemonTestCase("spoolmode")
        let open = test.folder.file("open")
        mkdir(open, 0o777)
        chmod(open, 0o777)
        let result = test.jobq(["daemon", "--spool", open])
        #expect(result.status == 1)
        #expect(result.stderr.contains("refusing the spool folder \(open): other users can write to it"))
    }

    /// The original tutorial: `--spool .` in a folder of task files, which jobq runs in name order.
    @Test func spoolDotRunsTheTutorialFolder() throws {
        let test = DaemonTestCase("spooldot")
        let work = test.folder.file("work")
        mkdir(work, 0o755)
        for index in 1...3 { test.folder.write("work/\(index).task", "task \(index);0\n") }
        try #require(test.daemon.start(["--workers", "1", "--spool", "."], cwd: work))
        let store = try test.store()
        try #require(try waitUntil { try store.counts()[.done] == 3 })
        let jobs = try store.jobs(state: .done, limit: nil).sorted { $0.id < $1.id }
        #expect(jobs.map(\.name) == ["1.task", "2.task", "3.task"])
        #expect(jobs.allSatisfy { $0.cwd == work })
        #expect(access(work + "/1.task", F_OK) != 0)
    }

    /// A crash between the commit and the removal of the file: the next start finds the staged
    /// file, sees its identity is already a job, and does not queue it twice.
    @Test func aStagedFileAlreadyQueuedIsNotQueuedTwice() throws {
        let test = DaemonTestCase("spoolcrash")
        let home = test.home
        let store = try SQLiteStore(home: Home(path: home))
        let ingestor = try SpoolIngestor(directory: home + "/spool", store: store, environment: [])
        test.folder.write("home/spool/once.task", "echo once\n")
        // Stage it as the daemon does, and commit it, but "crash" before removing the file.
        let staged = home + "/spool/.ingest/00c0ffee.once.task"
        rename(home + "/spool/once.task", staged)
        var spec = JobSpec(name: "once.task", payload: .script("echo once\n"), cwd: home, environment: [])
        spec.sourceKey = "00c0ffee"
        _ = try store.insert([spec], now: 1)
        #expect(ingestor.scan().isEmpty)
        #expect(try jobCount(home: home) == 1)
        #expect(access(staged, F_OK) != 0)
        // A staged file whose commit never happened is queued now.
        test.folder.write("home/spool/.ingest/0badcafe.twice.task", "echo twice\n")
        _ = ingestor.scan()
        #expect(try store.jobs(state: nil, limit: nil).map(\.name) == ["twice.task", "once.task"])
    }
}

/// Corners of the spool found in review.
@Suite struct SpoolCornerTests {
    /// The same file submitted twice (same name, content and mtime, as `cp -p` or `rsync -a`
    /// leave it) is two jobs: nothing in its identity may mark the second as seen.
    @Test func resubmittingTheSameFileQueuesItAgain() throws {
        let test = DaemonTestCase("resubmit")
        try #require(test.daemon.start(["--workers", "1"]))
        let store = try test.store()
        for round in 1...3 {
            let path = test.folder.write("same.task", "echo same\n")
            var times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 0), timespec(tv_sec: 1_700_000_000, tv_nsec: 0)]
            utimensat(AT_FDCWD, path, &times, 0)
            rename(path, test.home + "/spool/same.task")
            try #require(try waitUntil { try store.counts()[.done] == round }, "round \(round): \(test.daemon.log)")
        }
    }

    /// A delayed task file starts when due, with no other event to wake the daemon.
    @Test func aDelayedTaskFileStartsWhenDue() throws {
        let test = DaemonTestCase("spooldelay")
        try #require(test.daemon.start(["--workers", "1"]))
        let path = test.folder.write("later.task", "#JOBQ --delay 600ms\necho later\n")
        rename(path, test.home + "/spool/later.task")
        let store = try test.store()
        try #require(try waitUntil(seconds: 20) { try store.counts()[.done] == 1 })
        let job = try #require(try store.jobs(state: .done, limit: 1).first)
        #expect(try #require(job.startedAt) >= job.runAfter)
    }
}
