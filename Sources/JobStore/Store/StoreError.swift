/// A store operation that could not be done. `description` is one line for a person: what is
/// wrong, and what to do about it.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// The file at the database path is not a SQLite database, or is damaged.
    case notADatabase(path: String, detail: String)
    /// A jobq database that SQLite finds damaged (truncated, overwritten in part).
    case damaged(path: String, detail: String)
    /// A SQLite database that jobq did not create.
    case foreignDatabase(path: String)
    /// A database written by a newer jobq.
    case newerSchema(path: String, found: Int, supported: Int)
    /// The home or database cannot be created or written.
    case cannotOpen(path: String, detail: String)
    /// The disk (or the filesystem holding the home) is full.
    case diskFull(path: String)
    /// A spool folder that other users could use to make the daemon run their code.
    case unsafeSpool(path: String, problem: String)
    /// Another daemon holds the home's lock.
    case daemonRunning(home: String, pid: Int32?)
    /// The daemon took a job over its socket and then did not answer.
    case daemonNoAnswer(home: String)
    case unknownJob(JobID)
    /// The job is not in a state the operation accepts.
    case wrongState(JobID, JobState, String)
    /// Anything else SQLite reported.
    case sqlite(SQLiteError)

    public var description: String {
        switch self {
        case .notADatabase(let path, let detail):
            return "\(path) is not a jobq database (\(detail)); it was left untouched: move it away or "
                + "use another home (--home DIR or JOBQ_HOME)"
        case .damaged(let path, let detail):
            return "\(path) is damaged (\(detail)); it was left untouched: move it away (or restore a copy) and "
                + "start again, or use another home (--home DIR or JOBQ_HOME)"
        case .foreignDatabase(let path):
            return "\(path) is a SQLite database that jobq did not create; it was left untouched: "
                + "use another home (--home DIR or JOBQ_HOME)"
        case .newerSchema(let path, let found, let supported):
            return "\(path) has schema version \(found), newer than this jobq understands (\(supported)); "
                + "use the newer jobq that wrote it"
        case .cannotOpen(let path, let detail):
            return "cannot open \(path): \(detail); check that the folder exists and is writable, or use "
                + "another home (--home DIR or JOBQ_HOME)"
        case .diskFull(let path):
            return "the disk holding \(path) is full; nothing was changed. Free some space and try again"
        case .unsafeSpool(let path, let problem):
            return "refusing the spool folder \(path): \(problem)"
        case .daemonRunning(let home, let pid):
            return "a daemon is already running for \(home)" + (pid.map { " (pid \($0))" } ?? "")
                + "; stop it with `jobq stop` or use another home"
        case .daemonNoAnswer(let home):
            return "the daemon of \(home) took the job but did not answer; it may or may not have been added: "
                + "check `jobq list` before adding it again"
        case .unknownJob(let id):
            return "there is no job \(id); `jobq list` shows the jobs there are"
        case .wrongState(let id, let state, let wanted):
            return "job \(id) is \(state.rawValue); \(wanted)"
        case .sqlite(let error):
            return error.description
        }
    }

    /// Wraps an error from SQLite in the case that explains it best.
    static func from(_ error: Error, path: String) -> Error {
        guard let error = error as? SQLiteError else { return error }
        if error.isDiskFull { return StoreError.diskFull(path: path) }
        if error.isCorrupt { return StoreError.damaged(path: path, detail: error.message) }
        if error.isNotADatabase { return StoreError.notADatabase(path: path, detail: error.message) }
        if error.isReadOnly { return StoreError.cannotOpen(path: path, detail: error.message) }
        return StoreError.sqlite(error)
    }
}
