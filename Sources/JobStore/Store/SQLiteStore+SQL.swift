/// Every SQL statement of the SQLite store, in one place. Values are always bound (`?N`);
/// nothing is ever spliced into the text.
enum SQL {
    /// The columns `decodeJob` reads, in its order.
    static let jobColumns = """
        id, name, priority, state, reason, kind, argv, script, message, seconds, cwd, source, timeout_ms,
        max_retries, attempt, run_after, enqueued_at, started_at, finished_at, worker, pid, pid_start,
        exit_code, signal, error, stdout_path, stderr_path, cancel_requested_at, env_id
        """

    static let findEnvironment = "SELECT id FROM environments WHERE digest = ?1 AND vars = ?2"
    static let insertEnvironment = "INSERT INTO environments (digest, vars) VALUES (?1, ?2)"
    static let environment = "SELECT vars FROM environments WHERE id = ?1"

    /// The columns `insertJob` and `insertJobs` write, in the order of their values.
    private static let insertedJobColumns = """
        name, priority, state, reason, kind, argv, script, message, seconds, cwd, env_id,
        source, source_key, timeout_ms, max_retries, run_after, enqueued_at, finished_at, error
        """
    private static let insertedJobColumnNames = insertedJobColumns.split(separator: ",").map {
        String($0.filter { !$0.isWhitespace })
    }
    private static let insertedJobValueCount = insertedJobColumnNames.count
    static let insertJob = """
        INSERT INTO jobs (\(insertedJobColumns))
        VALUES (\((1...insertedJobValueCount).map { "?\($0)" }.joined(separator: ", ")))
        """
    /// `insertJob`'s `argv`.
    private static let insertJobArgvParameter = Int32(insertedJobColumnNames.firstIndex(of: "argv")! + 1)
    static let firstInsertJobsArgvParameter = Int32(insertedJobValueCount + 1)
    /// `count` jobs in one statement: `insertJob`'s values shared by all (bound as for
    /// `insertJob`), but each job's argv its own, in `?20…`, in the order the ids are given.
    /// (One statement for many rows opens its cursors and checks its indexes' pages once: a
    /// third of an insert's cost.)
    static func insertJobs(count: Int) -> String {
        let values = (1...insertedJobValueCount).map {
            Int32($0) == insertJobArgvParameter ? "line.column1" : "?\($0)"
        }
        let argvs = (0..<count).map { "(?\(firstInsertJobsArgvParameter + Int32($0)))" }
        return """
            INSERT INTO jobs (\(insertedJobColumns))
            SELECT \(values.joined(separator: ", ")) FROM (VALUES \(argvs.joined(separator: ", "))) AS line
            """
    }
    static let insertDependency = "INSERT INTO job_deps (job_id, after_id) VALUES (?1, ?2)"
    static let jobState = "SELECT state FROM jobs WHERE id = ?1"
    static let jobBySourceKey = "SELECT \(jobColumns) FROM jobs WHERE source_key = ?1"

    static let job = "SELECT \(jobColumns) FROM jobs WHERE id = ?1"
    /// The ids of a listing, newest first, and then its jobs a batch of ids at a time (a JSON
    /// array), each batch its own read: see `SQLiteStore.forEachJob`.
    static let idsNewestFirst = "SELECT id FROM jobs ORDER BY id DESC LIMIT ?1"
    /// Per state, so that each can use its partial index (a bound `state = ?` could not).
    static func idsNewestFirst(in state: JobState) -> String { newestFirst("id", in: state) }
    static let jobsWithIDs = """
        SELECT \(jobColumns) FROM jobs WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id DESC
        """

    /// The columns `decodeSummary` reads: what one line of `jobq list` shows.
    static let summaryColumns = """
        id, name, priority, state, reason, exit_code, signal, pid, run_after, enqueued_at, started_at, finished_at,
        kind, coalesce(argv, script, message), seconds
        """
    static let summariesNewestFirst = "SELECT \(summaryColumns) FROM jobs ORDER BY id DESC LIMIT ?1"
    static func summariesNewestFirst(in state: JobState) -> String { newestFirst(summaryColumns, in: state) }

    /// The state is one of four constants, written into the text so that its partial index
    /// applies — and is forced: left alone, SQLite walks every id newest first looking for the
    /// few queued jobs of a long history.
    private static func newestFirst(_ columns: String, in state: JobState) -> String {
        let index: String
        switch state {
        case .queued: index = " INDEXED BY jobs_ready"
        case .running: index = " INDEXED BY jobs_running"
        case .failed: index = " INDEXED BY jobs_failed"
        case .done: index = ""  // most of a history: newest first by id is the right walk
        }
        return "SELECT \(columns) FROM jobs\(index) WHERE state = '\(state.rawValue)' ORDER BY id DESC LIMIT ?1"
    }
    static let dependencies = "SELECT after_id FROM job_deps WHERE job_id = ?1 ORDER BY after_id"
    /// Whether any job has an --after list (most homes have none: then nothing to look up).
    static let anyDependencies = "SELECT EXISTS (SELECT 1 FROM job_deps)"
    /// The dependencies of the jobs in a JSON array of ids.
    static let dependenciesOfMany = """
        SELECT job_id, after_id FROM job_deps WHERE job_id IN (SELECT value FROM json_each(?1)) ORDER BY job_id, after_id
        """
    static let attempts = """
        SELECT attempt, state, reason, started_at, finished_at, worker, pid, exit_code, signal, error,
               stdout_path, stderr_path
        FROM attempts WHERE job_id = ?1 ORDER BY attempt
        """
    /// Counts per state: three through their partial indexes, done as the rest.
    static let counts = """
        SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM jobs WHERE state = 'queued'),
               (SELECT count(*) FROM jobs WHERE state = 'running'), (SELECT count(*) FROM jobs WHERE state = 'failed')
        """

    /// One statement takes the next ready jobs: queued, due, every dependency done, reserved by
    /// no supervisor (see `reserve`); in claim order; no more than `?3` in all running (the cap
    /// that holds across restarts).
    static let claim = claim(returning: jobColumns)
    /// The claim as the daemon makes it for an idle worker, which reads the job itself.
    static let claimIDs = claim(returning: "id")

    private static func claim(returning columns: String) -> String {
        """
        UPDATE jobs
        SET \(startAssignments)
        WHERE id IN (
            SELECT id FROM jobs AS j INDEXED BY jobs_ready
            WHERE \(ready)
            ORDER BY priority DESC, name, id
            LIMIT max(0, min(?1, ?3 - (SELECT count(*) FROM jobs WHERE state = 'running')))
        )
        RETURNING \(columns)
        """
    }

    /// What starting an attempt sets, in the claim, `startReserved` and `startReservedToSettle` (?2 now, ?4 the
    /// worker slot, ?5 the log directory).
    private static let startAssignments = """
        state = 'running', attempt = attempt + 1, started_at = ?2, worker = ?4, pid = NULL, pid_start = NULL,
            finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL, cancel_requested_at = NULL,
            stdout_path = ?5 || '/' || id || '.' || (attempt + 1) || '.out',
            stderr_path = ?5 || '/' || id || '.' || (attempt + 1) || '.err'
        """

    /// A job that may be claimed or reserved now (?2): queued, due, reserved by nobody, and
    /// every job it runs after done.
    private static let ready = """
        state = 'queued' AND run_after <= ?2 AND worker IS NULL
              AND NOT EXISTS (SELECT 1 FROM job_deps AS d JOIN jobs AS p ON p.id = d.after_id
                              WHERE d.job_id = j.id AND p.state <> 'done')
        """

    /// Supervisor ?4 reserves the next ?1 ready jobs, to start them later without a flush first
    /// (see `SQLiteStore.supervisorStep`). A reservation is a queued job with `worker` set: still
    /// queued — no cap counts it, `list` shows it queued — but only its supervisor may start it
    /// (a claim passes over it), a cancel must first settle with it (`requestCancelReserved`),
    /// and only the reconciler, once that supervisor is gone, may give it to anyone else.
    static let reserve = """
        UPDATE jobs SET worker = ?4
        WHERE id IN (
            SELECT id FROM jobs AS j INDEXED BY jobs_ready
            WHERE \(ready)
            ORDER BY priority DESC, name, id
            LIMIT ?1
        )
        RETURNING id, priority, name
        """

    /// Starts job ?1, reserved by supervisor ?6, in its slot ?4 — if it is still reserved, the
    /// slot runs nothing (the daemon may have claimed a job for it meanwhile), and fewer than ?3
    /// jobs run in all (the guarded start, while an earlier daemon's supervisor runs jobs in
    /// slots this daemon does not have: see `SQLiteStore.supervisorStep`).
    static let startReserved = """
        UPDATE jobs SET \(startAssignments)
        WHERE id = ?1 AND state = 'queued' AND worker = ?6 AND cancel_requested_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_running WHERE state = 'running' AND worker = ?4)
          AND (SELECT count(*) FROM jobs WHERE state = 'running') < ?3
        RETURNING \(jobColumns)
        """

    /// Jobs running in slots ?1 and above: an earlier daemon's, with more workers.
    static let runningBeyond = "SELECT count(*) FROM jobs WHERE state = 'running' AND worker >= ?1"

    /// Records that supervisor ?5 started its reserved job ?1 as attempt ?6 in slot ?3 at ?2, with
    /// process ?7 (start time ?8; NULL when it could not be spawned). The supervisor noted the
    /// start in its journal and spawned the job before this (see `SQLiteStore.supervisorStep`).
    /// A cancel requested meanwhile stays requested: the supervisor stops the job.
    static let recordReservedStart = """
        UPDATE jobs SET state = 'running', attempt = ?6, started_at = ?2, worker = ?3, pid = ?7, pid_start = ?8,
                        finished_at = NULL, exit_code = NULL, signal = NULL, error = NULL,
                        stdout_path = ?4 || '/' || id || '.' || ?6 || '.out',
                        stderr_path = ?4 || '/' || id || '.' || ?6 || '.err'
        WHERE id = ?1 AND state = 'queued' AND worker = ?5 AND attempt = ?6 - 1
        RETURNING cancel_requested_at IS NOT NULL
        """

    /// Starts job ?1, reserved by supervisor ?4, as an attempt in that slot, only so that it can
    /// be settled as lost (the reconciler, after a crash of the machine: it may have started).
    static let startReservedToSettle = """
        UPDATE jobs SET \(startAssignments)
        WHERE id = ?1 AND state = 'queued' AND worker = ?4 AND (?6 IS NULL OR attempt = ?6 - 1)
        RETURNING attempt
        """

    /// The slots whose supervisor holds reservations (the daemon settles them at start).
    static let reservers = """
        SELECT DISTINCT worker FROM jobs INDEXED BY jobs_reserved WHERE state = 'queued' AND worker IS NOT NULL
        """
    static let anyReservation = """
        SELECT EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_reserved WHERE state = 'queued' AND worker IS NOT NULL)
        """
    static let reservedBy = "SELECT id FROM jobs INDEXED BY jobs_reserved WHERE state = 'queued' AND worker = ?1"
    /// Supervisor ?1's reservations that a cancel asked to stop (`requestCancelReserved`).
    static let cancelRequestedReservations = """
        SELECT id FROM jobs INDEXED BY jobs_reserved
        WHERE state = 'queued' AND worker = ?1 AND cancel_requested_at IS NOT NULL
        """
    static let releaseReservations = """
        UPDATE jobs SET worker = NULL WHERE id IN (\(reservedBy))
        """

    static let recordStart = """
        UPDATE jobs SET pid = ?3, pid_start = ?4 WHERE id = ?1 AND attempt = ?2 AND state = 'running'
        """

    /// Ends a running attempt (guarded by state and attempt), recording its process when it was
    /// not recorded yet; returns what a retry decision needs.
    static let finish = """
        UPDATE jobs SET state = ?3, reason = ?4, finished_at = ?5, exit_code = ?6, signal = ?7, error = ?8,
                        pid = coalesce(pid, ?9), pid_start = coalesce(pid_start, ?10)
        WHERE id = ?1 AND attempt = ?2 AND state = 'running'
        RETURNING max_retries, cancel_requested_at IS NOT NULL
        """

    /// Keeps a finished attempt's outcome before the job is queued again.
    static let archiveAttempt = """
        INSERT INTO attempts (job_id, attempt, state, reason, started_at, finished_at, worker, pid, exit_code,
                              signal, error, stdout_path, stderr_path)
        SELECT id, attempt, state, reason, started_at, finished_at, worker, pid, exit_code, signal, error,
               stdout_path, stderr_path
        FROM jobs WHERE id = ?1 AND state IN ('done', 'failed') AND attempt > 0 AND started_at IS NOT NULL
        """

    /// failed → queued, clearing the last attempt's outcome (kept by `archiveAttempt`).
    static let requeue = """
        UPDATE jobs
        SET state = 'queued', reason = NULL, started_at = NULL, finished_at = NULL, worker = NULL, pid = NULL,
            pid_start = NULL, exit_code = NULL, signal = NULL, error = NULL, stdout_path = NULL,
            stderr_path = NULL, cancel_requested_at = NULL, run_after = ?2
        WHERE id = ?1 AND state = 'failed'
        """

    /// Fails every queued job that (transitively) runs after job ?1.
    static let failDependents = """
        WITH RECURSIVE dependents (id) AS (
            SELECT job_id FROM job_deps WHERE after_id = ?1
            UNION
            SELECT d.job_id FROM job_deps AS d JOIN dependents ON d.after_id = dependents.id
        )
        UPDATE jobs SET state = 'failed', reason = 'dependency', finished_at = ?2,
                        error = 'job ' || ?1 || ', which it runs after, failed'
        WHERE id IN (SELECT id FROM dependents) AND state = 'queued'
        """

    static let failedDependencies = """
        SELECT d.after_id FROM job_deps AS d JOIN jobs AS p ON p.id = d.after_id
        WHERE d.job_id = ?1 AND p.state = 'failed' ORDER BY d.after_id
        """

    static let hasDependents = "SELECT EXISTS (SELECT 1 FROM job_deps WHERE after_id = ?1)"

    static let runningInSlot = "SELECT \(jobColumns) FROM jobs WHERE state = 'running' AND worker = ?1"
    static let busySlots = "SELECT DISTINCT worker FROM jobs WHERE state = 'running'"

    static let runningCount = "SELECT count(*) FROM jobs WHERE state = 'running'"

    static let runningJobs = "SELECT \(jobColumns) FROM jobs WHERE state = 'running' ORDER BY id"

    static let cancelRequested = """
        SELECT cancel_requested_at IS NOT NULL FROM jobs WHERE id = ?1 AND attempt = ?2 AND state = 'running'
        """

    /// A queued job that no supervisor reserved is cancelled outright: it never runs.
    static let cancelQueued = """
        UPDATE jobs SET \(cancelledBeforeStart) WHERE id = ?1 AND state = 'queued' AND worker IS NULL
        """
    /// A reserved job whose cancel was requested, cancelled by its supervisor ?3 (which has not
    /// started it) or by whoever settles that supervisor's reservations.
    static let cancelReserved = """
        UPDATE jobs SET \(cancelledBeforeStart) WHERE id = ?1 AND state = 'queued' AND worker = ?3
        """
    /// `cancelReserved`, if its cancel was requested (a guarded start passes over it).
    static let cancelReservedIfRequested = """
        UPDATE jobs SET \(cancelledBeforeStart)
        WHERE id = ?1 AND state = 'queued' AND worker = ?3 AND cancel_requested_at IS NOT NULL
        """
    private static let cancelledBeforeStart = """
        state = 'failed', reason = 'cancelled', finished_at = ?2, error = 'cancelled before it started', worker = NULL
        """
    /// A reserved job may have just been started by its supervisor (which records the start
    /// after the spawn): the cancel is requested first; then `jobq cancel` asks the supervisor's
    /// journal, and cancels the job (`cancelReserved`) unless it started — then the supervisor
    /// stops it. A guarded start passes over a job whose cancel was requested.
    static let requestCancelReserved = """
        UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, ?2)
        WHERE id = ?1 AND state = 'queued' AND worker IS NOT NULL
        """

    /// A running job is marked; its worker stops it and records the outcome.
    static let requestCancel = """
        UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, ?2) WHERE id = ?1 AND state = 'running'
        """

    /// When the next delayed job comes due.
    static let nextDue = """
        SELECT min(run_after) FROM jobs INDEXED BY jobs_due WHERE state = 'queued' AND run_after > 0 AND run_after > ?1
        """

    /// How far a set of jobs (a JSON array of ids) has come, in one pass.
    static let progress = """
        SELECT count(*), coalesce(sum(state = 'done'), 0), coalesce(sum(state = 'failed'), 0),
               coalesce(sum(state = 'running'), 0)
        FROM jobs WHERE id IN (SELECT value FROM json_each(?1))
        """

    /// Through the two partial indexes (a plain `state IN (…)` would scan the whole history).
    static let unfinishedIDs = """
        SELECT id FROM jobs WHERE state = 'queued' UNION ALL SELECT id FROM jobs WHERE state = 'running' ORDER BY id
        """

    /// A batch of finished jobs to prune (never the newest job, so ids are never reused), with
    /// the log files of all their attempts.
    static let prunable = """
        SELECT j.id, j.stdout_path, j.stderr_path,
               (SELECT group_concat(coalesce(a.stdout_path, '') || char(0) || coalesce(a.stderr_path, ''), char(0))
                FROM attempts AS a WHERE a.job_id = j.id)
        FROM jobs AS j
        WHERE j.state IN ('done', 'failed') AND j.finished_at <= ?1 AND j.id < (SELECT max(id) FROM jobs)
        ORDER BY j.id LIMIT ?2
        """
    static let deleteJob = "DELETE FROM jobs WHERE id = ?1 AND state IN ('done', 'failed')"
    /// Environments no job uses any more — but never the newest, so that an environment id is
    /// never reused (workers cache environments by id). One pass over `jobs`, not one per row.
    static let deleteUnusedEnvironments = """
        DELETE FROM environments
        WHERE id NOT IN (SELECT DISTINCT env_id FROM jobs) AND id < (SELECT max(id) FROM environments)
        """
}
