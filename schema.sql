-- jobq's database schema: the one source of it. The EmbedSchema plugin compiles this file
-- into the binary; a new database runs it whole, in one transaction. An older database is
-- brought up to date by the steps in Sources/JobStore/SQLite/Migrations.swift, and a test
-- checks that both roads end at the same schema.
--
-- Times are integer milliseconds since the Unix epoch; durations are integer milliseconds.

PRAGMA application_id = 1785684593; -- 'jobq'

-- A captured environment, stored once however many jobs share it (a shell that adds 100,000
-- jobs adds one row here). `vars` is the NUL-separated list of KEY=VALUE strings, sorted;
-- `digest` (FNV-1a 64 of vars) finds candidates, and `vars` itself decides equality.
CREATE TABLE environments (
    id      INTEGER PRIMARY KEY,
    digest  INTEGER NOT NULL,
    vars    BLOB NOT NULL
);
CREATE INDEX environments_by_digest ON environments (digest);

CREATE TABLE jobs (
    -- Not AUTOINCREMENT (which writes sqlite_sequence on every insert): ids are never reused
    -- because `jobq clean` never deletes the newest job.
    id          INTEGER PRIMARY KEY,

    -- Order: priority (higher first), then name in byte order, then id. Command-line jobs
    -- without --name have no name: among themselves they keep FIFO order (by id), and they go
    -- before named jobs of the same priority (NULL sorts first).
    name        TEXT,
    priority    INTEGER NOT NULL DEFAULT 0,

    -- (The CHECKs compare with OR, not IN: SQLite builds a temporary table for an IN list on
    -- every insert, which costs a third of a bulk insert's time.)
    state       TEXT NOT NULL DEFAULT 'queued'
                CHECK (state = 'queued' OR state = 'running' OR state = 'done' OR state = 'failed'),
    -- Why a failed job failed; set exactly when state = 'failed'.
    reason      TEXT CHECK (reason = 'exit' OR reason = 'signal' OR reason = 'timeout' OR reason = 'cancelled'
                            OR reason = 'lost' OR reason = 'spawn' OR reason = 'invalid' OR reason = 'dependency'),

    -- What to run: an argv (NUL-separated, no shell), a script (run by its #! interpreter or
    -- /bin/sh), or the tutorial's MESSAGE;SECONDS line (print MESSAGE, sleep SECONDS).
    kind        TEXT NOT NULL CHECK (kind = 'command' OR kind = 'script' OR kind = 'message'),
    argv        BLOB,
    script      TEXT,
    message     TEXT,
    seconds     REAL,
    cwd         TEXT NOT NULL,
    -- (Not a foreign key: the store inserts environments before the jobs that use them and
    -- deletes only unused ones; a foreign key would make `clean` scan every job per row.)
    env_id      INTEGER NOT NULL,

    -- Where it came from: the task file's path, and for a spool file the random key its
    -- ingestion gave it, which makes ingestion idempotent across a crash.
    source      TEXT,
    source_key  TEXT,

    timeout_ms  INTEGER CHECK (timeout_ms > 0),
    max_retries INTEGER NOT NULL DEFAULT 0 CHECK (max_retries >= 0),
    attempt     INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0), -- attempts started so far
    run_after   INTEGER NOT NULL DEFAULT 0, -- not claimed before this time (--delay, --at, retry)

    enqueued_at INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,

    -- The current attempt's process: the worker slot that owns it, the job's PID and the
    -- PID's start time in clock ticks since boot (/proc/PID/stat field 22), which tells the
    -- job apart from a later process that reuses the number.
    worker      INTEGER,
    pid         INTEGER,
    pid_start   INTEGER,
    exit_code   INTEGER,
    signal      INTEGER,
    error       TEXT, -- a sentence for people: the spawn error, the parser's message, …
    stdout_path TEXT,
    stderr_path TEXT,
    cancel_requested_at INTEGER,

    CHECK ((state = 'failed') = (reason IS NOT NULL)),
    CHECK ((kind = 'command') = (argv IS NOT NULL)),
    CHECK ((kind = 'script') = (script IS NOT NULL)),
    CHECK ((kind = 'message') = (message IS NOT NULL AND seconds IS NOT NULL)),
    CHECK (state <> 'running' OR started_at IS NOT NULL),
    CHECK ((state <> 'done' AND state <> 'failed') OR finished_at IS NOT NULL)
);

-- The next job to run: a walk of this small index in claim order.
CREATE INDEX jobs_ready ON jobs (priority DESC, name, id) WHERE state = 'queued';
-- Delayed jobs: when the next one comes due.
CREATE INDEX jobs_due ON jobs (run_after) WHERE state = 'queued' AND run_after > 0;
-- `errors` and `list --state failed`, newest first. (Done jobs, the bulk of a history, are
-- listed by walking ids newest first; queued and running ones have the indexes above and
-- below. Every index is a page to write on every state change, so there are no more.)
CREATE INDEX jobs_failed ON jobs (id) WHERE state = 'failed';
-- Running jobs by the worker slot that owns them (reconciling after a crash).
CREATE INDEX jobs_running ON jobs (worker) WHERE state = 'running';
-- Jobs a supervisor has reserved as its next ones (`worker` set on a queued job: the first
-- slot of the supervisor that reserved it), a handful at a time: they start the moment a slot
-- frees, without a flush of their own (see SQLiteStore.supervisorStep).
CREATE INDEX jobs_reserved ON jobs (worker) WHERE state = 'queued' AND worker IS NOT NULL;
CREATE UNIQUE INDEX jobs_by_source_key ON jobs (source_key) WHERE source_key IS NOT NULL;

-- `--after`: a job runs only once every job it names is done; it fails (reason 'dependency')
-- when one of them fails for good.
CREATE TABLE job_deps (
    job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    after_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, after_id)
) WITHOUT ROWID;
CREATE INDEX job_deps_by_after ON job_deps (after_id);

-- Earlier attempts of a job, kept when `jobq retry` or an automatic retry starts a new one.
CREATE TABLE attempts (
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state = 'done' OR state = 'failed'),
    reason      TEXT,
    started_at  INTEGER,
    finished_at INTEGER,
    worker      INTEGER,
    pid         INTEGER,
    exit_code   INTEGER,
    signal      INTEGER,
    error       TEXT,
    stdout_path TEXT,
    stderr_path TEXT,
    PRIMARY KEY (job_id, attempt)
) WITHOUT ROWID;

PRAGMA user_version = 2;
