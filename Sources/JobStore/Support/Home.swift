import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// A queue's home folder and the paths inside it. A queue is its home: `--home DIR`, else
/// `$JOBQ_HOME`, else `$XDG_STATE_HOME/jobq`, else `~/.local/state/jobq`. It is created 0700 on
/// first use, and everything jobq writes lives inside it (never in /tmp).
public struct Home: Sendable, Equatable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Applies the lookup order above to an explicit `--home` and the process environment.
    public static func resolve(explicit: String?, environment: [String: String]) -> Home {
        resolve(explicit: explicit) { environment[$0] }
    }

    static func resolve(explicit: String?, variable: (String) -> String?) -> Home {
        if let explicit, !explicit.isEmpty { return Home(path: absolute(explicit)) }
        if let home = variable("JOBQ_HOME"), !home.isEmpty { return Home(path: absolute(home)) }
        if let state = variable("XDG_STATE_HOME"), state.hasPrefix("/") { return Home(path: state + "/jobq") }
        let user = variable("HOME").flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        return Home(path: (user == "/" ? "" : user) + "/.local/state/jobq")
    }

    /// `resolve` with this process's environment (read with getenv: no dictionary to build).
    public static func resolve(explicit: String?) -> Home {
        resolve(explicit: explicit) { name in getenv(name).map { String(cString: $0) } }
    }

    public var databasePath: String { path + "/jobq.db" }
    public var spoolDirectory: String { path + "/spool" }
    public var logsDirectory: String { path + "/logs" }
    /// Locks, the wake-up FIFO, the daemon's socket: things that only mean something while
    /// processes run.
    public var runDirectory: String { path + "/run" }

    /// Held by the running daemon; holds its PID.
    public var daemonLockPath: String { runDirectory + "/daemon.lock" }
    /// The daemon's wake-up FIFO: `jobq add` pokes it after its commit.
    public var wakePath: String { runDirectory + "/wake" }
    /// Where the daemon takes jobs from `jobq add` (see AddWire).
    public var socketPath: String { runDirectory + "/daemon.sock" }
    /// Held by the worker of slot N for as long as it lives.
    public func slotLockPath(_ slot: Int) -> String { runDirectory + "/slot-\(slot).lock" }
    /// The reserved jobs slot N's supervisor (whose first slot it is) started and has not
    /// recorded yet, and the cancels of its reservations (`StartJournal`).
    public func slotStartsPath(_ slot: Int) -> String { runDirectory + "/slot-\(slot).starts" }
    /// Poked by `jobq cancel` to make slot N's worker check its job.
    public func slotPokePath(_ slot: Int) -> String { runDirectory + "/slot-\(slot).poke" }
    /// Where a script job's text is written for the attempt that runs it.
    public func scriptPath(_ id: JobID, attempt: Int) -> String { runDirectory + "/job-\(id).\(attempt).script" }

    /// Creates the home and its folders (0700) where missing. Existing folders keep their mode.
    public func prepare() throws(StoreError) {
        try makeDirectory(path, parents: true)
        for folder in [spoolDirectory, logsDirectory, runDirectory] {
            try makeDirectory(folder, parents: false)
        }
        // The database file is created here, 0600, so SQLite (which copies the database's
        // mode to -wal and -shm) never creates it with the umask's wider default.
        let fd = open(databasePath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd >= 0 {
            close(fd)
        } else if errno != EEXIST {
            throw StoreError.cannotOpen(path: databasePath, detail: systemError(errno))
        }
    }

    private func makeDirectory(_ directory: String, parents: Bool) throws(StoreError) {
        if mkdir(directory, 0o700) == 0 { return }
        let error = errno
        if error == EEXIST {
            var info = stat()
            if stat(directory, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw StoreError.cannotOpen(path: directory, detail: "it exists and is not a folder")
        }
        if error == ENOENT && parents, let slash = directory.lastIndex(of: "/"), slash != directory.startIndex {
            try makeDirectory(String(directory[..<slash]), parents: true)
            if mkdir(directory, 0o700) == 0 || errno == EEXIST { return }
            throw StoreError.cannotOpen(path: directory, detail: systemError(errno))
        }
        throw StoreError.cannotOpen(path: directory, detail: systemError(error))
    }

    /// Makes a path absolute against the current directory (lexically).
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return normalize(currentDirectory() + "/" + path)
    }
}

/// The process's working directory ("/" if it cannot be read).
public func currentDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return "/" }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// Removes `.`, `..` and repeated slashes from an absolute path without touching the disk.
public func normalize(_ path: String) -> String {
    if isNormalized(path) { return path }
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == ".." {
            if !parts.isEmpty { parts.removeLast() }
            continue
        }
        parts.append(part)
    }
    return "/" + parts.joined(separator: "/")
}

/// Whether `path` is absolute with no empty, `.` or `..` component and no trailing slash —
/// true of any cwd from getcwd, so `normalize` leaves it as it is.
func isNormalized(_ path: String) -> Bool {
    var path = path
    return path.withUTF8 { isNormalized(UnsafeRawBufferPointer($0)) }
}

/// `isNormalized` of a path's bytes (jq_path_is_normalized: `jobq add` runs it before the Swift
/// runtime starts, see Sources/CQuickAdd).
public func isNormalized(_ path: UnsafeRawBufferPointer) -> Bool {
    jq_path_is_normalized(path.baseAddress?.assumingMemoryBound(to: CChar.self), path.count) != 0
}

/// strerror as a Swift string.
public func systemError(_ code: Int32) -> String {
    String(cString: strerror(code))
}
