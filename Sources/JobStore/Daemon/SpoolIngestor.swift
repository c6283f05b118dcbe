import CPosix
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Turns `*.task` files in the spool folder into queued jobs, crash-safely: at no point of a
/// crash is a file both lost and unqueued, or queued twice.
///
/// For each file: it must be a regular file of the daemon's user, opened without following a
/// symlink, that nobody has open for writing (a read lease is granted only then). It is
/// renamed into `spool/.ingest/` under a fresh random key (same folder, atomic; the name is free
/// again for the next file) and the folder is synced, so the rename survives a power cut. Then
/// it is read and committed as a job whose `source_key` is that key — unique in the schema — and
/// only then removed. After a crash, a file found in `.ingest/` whose key is already in the store
/// is just removed. A file that does not parse becomes a failed job (reason `invalid`) and is
/// moved to `spool/rejected/`, so nothing is lost.
public final class SpoolIngestor {
    public let directory: String
    let store: SQLiteStore
    let cwd: String
    let environment: [String]
    let logger = Logger(label: "jobq-daemon")
    private let uid = getuid()

    /// What happened to one file.
    public enum Result: Equatable, Sendable {
        case queued(JobID)
        case rejected(JobID)
        /// Not now: someone still has it open for writing, or it could not be recorded (a full
        /// disk): try again later.
        case busy
        /// Not ours to read (not *.task, hidden, gone already).
        case ignored
    }

    public var stagingDirectory: String { directory + "/.ingest" }
    public var rejectedDirectory: String { directory + "/rejected" }

    /// Checks the spool folder: it must be a folder owned by the daemon's user that no other
    /// user can write to, since every file in it is code the daemon will run.
    public init(directory: String, store: SQLiteStore, environment: [String]) throws(StoreError) {
        self.directory = directory
        self.store = store
        self.cwd = directory
        self.environment = environment
        var info = stat()
        guard stat(directory, &info) == 0 else {
            throw StoreError.cannotOpen(path: directory, detail: "the spool folder cannot be used: \(systemError(errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw StoreError.cannotOpen(path: directory, detail: "the spool must be a folder")
        }
        if info.st_uid != uid {
            throw StoreError.unsafeSpool(path: directory, problem: "it belongs to user \(info.st_uid), not to the daemon's user (\(uid))")
        }
        if info.st_mode & 0o022 != 0 {
            throw StoreError.unsafeSpool(
                path: directory,
                problem: "other users can write to it (mode \(String(info.st_mode & 0o777, radix: 8))); run chmod go-w \(directory)")
        }
        for folder in [stagingDirectory, rejectedDirectory] where mkdir(folder, 0o700) != 0 && errno != EEXIST {
            throw StoreError.cannotOpen(path: folder, detail: systemError(errno))
        }
    }

    /// Ingests everything there is: first what a crash left half-way in `.ingest/`, then the
    /// spool itself, in name order. Returns the names that were busy.
    public func scan() -> [String] {
        for name in Self.entries(of: stagingDirectory) { finishStaged(name) }
        var busy: [String] = []
        for name in Self.entries(of: directory) where ingest(name) == .busy { busy.append(name) }
        return busy
    }

    /// Ingests one file of the spool by name.
    @discardableResult
    public func ingest(_ name: String) -> Result {
        guard name.hasSuffix(".task"), !name.hasPrefix("."), !name.contains("/") else { return .ignored }
        let path = directory + "/" + name
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        if fd < 0 {
            let error = errno
            if error == ENOENT { return .ignored }
            if error == ELOOP { return reject(name, from: path, problem: "is a symlink; put the file itself in the spool") }
            return reject(name, from: path, problem: "cannot be read: \(systemError(error))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .ignored }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return reject(name, from: path, problem: "is a folder, not a file")
        case S_IFIFO: return reject(name, from: path, problem: "is a FIFO, not a regular file")
        default: return reject(name, from: path, problem: "is not a regular file")
        }
        if info.st_uid != uid {
            return reject(
                name, from: path,
                problem: "is owned by user \(info.st_uid), not by the daemon's user (\(uid)); a task file is code the "
                    + "daemon would run, so only its own user's files are accepted")
        }
        let young = WallClock.now() - (Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000) < 2000
        // `open(O_CREAT)` makes the file visible (and inotify reports it) before the opener holds
        // it for writing, so the lease below can be granted on a new file nobody has written yet:
        // `echo … > x.task` would be taken empty and rejected. An empty file is refused anyway,
        // so one gets 2 s before it is.
        if info.st_size == 0 && young { return .busy }
        // A read lease is granted only when no one has the file open for writing. Where leases
        // are not supported (NFS, leases switched off), a file untouched for 2 s counts as done.
        let lease = jq_set_lease(fd, F_RDLCK)
        if lease == EAGAIN { return .busy }
        if lease != 0 && young { return .busy }
        defer { if lease == 0 { _ = jq_set_lease(fd, F_UNLCK) } }
        let key = Self.newKey()
        let staged = stagingDirectory + "/" + key + "." + name
        guard rename(path, staged) == 0 else {
            logger.error("spool: cannot move \(name) to \(staged): \(systemError(errno))")
            return .ignored
        }
        syncFolder(stagingDirectory)
        return ingestStaged(originalName: name, staged: staged, key: key, recovering: false)
    }

    /// A random key (128 bits, hex) naming one ingestion of one file.
    private static func newKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// fsync on a folder: makes the renames into it durable.
    private func syncFolder(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    // MARK: Staged files

    /// A file left in `.ingest/` by a crash: `KEY.NAME`.
    private func finishStaged(_ stagedName: String) {
        guard let dot = stagedName.firstIndex(of: ".") else { return }
        let key = String(stagedName[..<dot])
        let name = String(stagedName[stagedName.index(after: dot)...])
        ingestStaged(originalName: name, staged: stagingDirectory + "/" + stagedName, key: key, recovering: true)
    }

    @discardableResult
    private func ingestStaged(originalName name: String, staged: String, key: String, recovering: Bool) -> Result {
        let contents: TaskFileReader.Contents
        switch TaskFileReader.read(staged, followSymlinks: false, requireOwner: uid) {
        case .success(let read): contents = read
        case .failure(let error): return reject(name, from: staged, problem: error.problem)
        }
        let source = directory + "/" + name
        do {
            if recovering, let existing = try store.job(forSourceKey: key) {
                // Committed before a crash: finish what was left to do.
                if existing.reason == .invalid { moveToRejected(name, from: staged) } else { unlink(staged) }
                return existing.reason == .invalid ? .rejected(existing.id) : .queued(existing.id)
            }
            switch spec(from: contents, name: name, source: source, key: key) {
            case .success(let spec):
                let id = try store.insert([spec], now: WallClock.now())[0]
                unlink(staged)
                logger.info("spool: \(name) queued as job \(id)")
                return .queued(id)
            case .failure(let problem):
                return recordInvalid(
                    name, from: staged, problem: problem.text, sourceKey: key, text: Self.printable(contents.bytes))
            }
        } catch {
            // The file stays staged; the daemon scans again a little later (and at every start).
            logger.error("spool: cannot record \(name): \(error)")
            return .busy
        }
    }

    /// The job a task file describes, or what is wrong with it.
    private func spec(from contents: TaskFileReader.Contents, name: String, source: String, key: String)
        -> Swift.Result<JobSpec, Problem>
    {
        switch TaskFileParser.parse(contents.bytes, file: name, now: WallClock.now()) {
        case .success(let file):
            var options = file.options
            if options.name == nil { options.name = name }
            var spec = options.spec(payload: file.payload, cwd: cwd, environment: environment, source: source)
            spec.sourceKey = key
            do {
                try JobLimits.check(spec)
            } catch {
                return .failure(Problem(text: "\(name): \(error.description)"))
            }
            return .success(spec)
        case .failure(let error):
            return .failure(Problem(text: error.description))
        }
    }

    struct Problem: Error { let text: String }

    /// Records a file that cannot even be read as a failed job, and moves it aside.
    private func reject(_ name: String, from path: String, problem: String) -> Result {
        recordInvalid(name, from: path, problem: "\(name): \(problem)")
    }

    /// Records a file that is not a job as a failed job (reason `invalid`) whose error is
    /// `problem`, and moves the file aside into `rejected/`. A `sourceKey` makes the record
    /// idempotent across a crash (see `ingestStaged`).
    private func recordInvalid(
        _ name: String, from path: String, problem: String, sourceKey: String? = nil, text: String = ""
    ) -> Result {
        do {
            let id = try store.insertInvalid(
                InvalidTaskFile(
                    name: name, source: directory + "/" + name, sourceKey: sourceKey, text: text, problem: problem,
                    cwd: cwd),
                now: WallClock.now())
            let kept = moveToRejected(name, from: path)
            logger.warning("spool: \(problem): recorded as failed job \(id), file kept as \(kept)")
            return .rejected(id)
        } catch {
            logger.error("spool: cannot record \(name): \(error)")
            return .busy
        }
    }

    /// Moves a file aside into `rejected/` under a name not taken yet; returns where it went.
    @discardableResult
    private func moveToRejected(_ name: String, from path: String) -> String {
        var target = rejectedDirectory + "/" + name
        var suffix = 1
        while access(target, F_OK) == 0 {
            target = rejectedDirectory + "/" + name + ".\(suffix)"
            suffix += 1
        }
        if rename(path, target) != 0 {
            logger.error("spool: cannot move \(path) to \(target): \(systemError(errno))")
            return path
        }
        return target
    }

    /// The text of a rejected file when it is readable text, for `jobq show`.
    private static func printable(_ bytes: [UInt8]) -> String {
        guard bytes.count <= 64 * 1024, !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self)
        else { return "" }
        return text
    }

    /// The names in a folder, sorted bytewise (so files are queued in name order).
    static func entries(of directory: String) -> [String] {
        DirectoryListing.names(in: directory).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
