import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// The files a worker slot's jobs write their stdout and stderr to.
///
/// Creating a file is the most expensive thing a short job costs on ext4 (inode allocation,
/// the folder's lock), so a slot keeps two scratch files, `logs/.slot-N.out` and `.err`: a job
/// writes into them, and when it has ended, a scratch file that received output is renamed to
/// the attempt's own log (`logs/ID.ATTEMPT.out`), while an empty one is simply used again for
/// the next job. A job that prints nothing costs no file at all. An empty scratch file is
/// reused only when no other process has it open at all (a write lease is granted only then):
/// so a leftover grandchild's late output never lands in the next job's log, and a
/// `jobq log --follow` that holds the file open never reads the next job's output from it.
public final class SlotLogs {
    public let home: Home
    public let slot: Int
    /// Scratch files found reusable when the last job ended, already open for the next one.
    private var prepared: [Bool: Int32] = [:]

    public init(home: Home, slot: Int) {
        self.home = home
        self.slot = slot
    }

    deinit { for fd in prepared.values { close(fd) } }

    public static func scratchPath(_ home: Home, slot: Int, stderr: Bool) -> String {
        home.logsDirectory + "/.slot-\(slot)." + (stderr ? "err" : "out")
    }

    /// Descriptors for the next job's stdout and stderr (the caller closes them after spawning).
    public func open() -> Result<(stdout: Int32, stderr: Int32), Spawn.Failure> {
        switch (openScratch(stderr: false), openScratch(stderr: true)) {
        case (.success(let out), .success(let err)):
            return .success((out, err))
        case (.failure(let failure), let other), (let other, .failure(let failure)):
            if case .success(let fd) = other { close(fd) }
            return .failure(failure)
        }
    }

    /// After the job has ended: a scratch file that it wrote to, or that one of its processes
    /// still holds open, becomes the job's own log file; one that is empty and free is kept open
    /// for the next job.
    public func keep(stdoutPath: String?, stderrPath: String?) {
        for (stderr, target) in [(false, stdoutPath), (true, stderrPath)] {
            guard let target else { continue }
            let scratch = Self.scratchPath(home, slot: slot, stderr: stderr)
            if let fd = reusableDescriptor(scratch) {
                if let old = prepared.updateValue(fd, forKey: stderr) { close(old) }
            } else {
                rename(scratch, target)
            }
        }
    }

    private func openScratch(stderr: Bool) -> Result<Int32, Spawn.Failure> {
        let path = Self.scratchPath(home, slot: slot, stderr: stderr)
        // A prepared file is checked again: someone (a `log --follow` of the last job) may have
        // opened it since.
        if let fd = prepared.removeValue(forKey: stderr) {
            if isUnshared(fd) { return .success(fd) }
            close(fd)
        } else if let fd = reusableDescriptor(path) {
            return .success(fd)
        }
        // Not there, not empty, or still open elsewhere: start a fresh one (whoever still holds
        // the old one keeps their own file).
        unlink(path)
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return .failure(Spawn.Failure(text: "cannot create \(path): \(systemError(errno))")) }
        return .success(fd)
    }

    /// The file, open for appending, if it is an empty regular file that no other process has
    /// open (a write lease is granted only then).
    private func reusableDescriptor(_ path: String) -> Int32? {
        // O_NONBLOCK: a job may have put a FIFO there; opening it must not wait for a reader.
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size == 0, isUnshared(fd) else {
            close(fd)
            return nil
        }
        _ = jq_set_blocking(fd)
        return fd
    }

    /// Whether no other process has the file open (a write lease is granted only then).
    private func isUnshared(_ fd: Int32) -> Bool {
        guard jq_set_lease(fd, F_WRLCK) == 0 else { return false }
        _ = jq_set_lease(fd, F_UNLCK)
        return true
    }
}

extension Job {
    /// Where this attempt's stdout (or stderr) is now: its slot's scratch file while it runs,
    /// its own log file after. nil before it ever started. The file may not exist: a job that
    /// printed nothing has no log file.
    public func outputPath(stderr: Bool, home: Home) -> String? {
        guard let path = stderr ? stderrPath : stdoutPath else { return nil }
        if state == .running, let worker { return SlotLogs.scratchPath(home, slot: worker, stderr: stderr) }
        return path
    }
}
