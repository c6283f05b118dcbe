#!/usr/bin/env python3
"""mark_history.py HOME — turn the queued jobs of a freshly filled jobq home into a history.

Harness setup for W5's large history: `jobq add --stdin` filled HOME/jobq.db with queued jobs
(the fast, honest way to get a million rows in); running a million jobs would take hours, so
this marks them as if they had run, directly in SQLite, consistently with schema.sql's CHECKs:

- all but the newest 10 jobs end: 1 in 20 `failed` with reason 'exit' and exit code 1, the
  rest `done` with exit code 0; attempt 1, a worker slot, a PID, started/finished times after
  enqueued_at, and log paths where the worker would have put them (HOME/logs/ID.1.out|.err);
- the newest 10 stay queued, as on a live queue;
- the failed jobs among the newest 2,000 get a real stderr file (two lines), so that
  `jobq errors --limit 50` reads real files, as it would on a real queue.

It refuses a database whose schema version it does not know.
"""
import os
import sqlite3
import sys

KEEP_QUEUED = 10
FAIL_EVERY = 20  # 5 %
STDERR_FILES_FOR_NEWEST = 2000


def main(home):
    db = sqlite3.connect(os.path.join(home, "jobq.db"), isolation_level=None)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    # 2 added only an index (jobs_reserved), which this UPDATE keeps as it should.
    if version not in (1, 2):
        sys.exit(f"mark_history.py: schema version {version}, expected 1 or 2: update this script")
    logs = os.path.join(home, "logs")
    os.makedirs(logs, exist_ok=True)
    (newest,) = db.execute("SELECT max(id) FROM jobs").fetchone()
    cutoff = newest - KEEP_QUEUED
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        """
        UPDATE jobs SET
            state = CASE WHEN id % :every = 7 THEN 'failed' ELSE 'done' END,
            reason = CASE WHEN id % :every = 7 THEN 'exit' END,
            exit_code = CASE WHEN id % :every = 7 THEN 1 ELSE 0 END,
            attempt = 1,
            worker = id % 2,
            pid = 1000 + id % 30000,
            pid_start = 100000 + id,
            started_at = enqueued_at + 2 + id % 50,
            finished_at = enqueued_at + 2 + id % 50 + 1 + id % 900,
            stdout_path = :logs || '/' || id || '.1.out',
            stderr_path = :logs || '/' || id || '.1.err'
        WHERE state = 'queued' AND id <= :cutoff
        """,
        {"every": FAIL_EVERY, "logs": logs, "cutoff": cutoff},
    )
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = db.execute(
        "SELECT id, stderr_path FROM jobs WHERE state = 'failed' AND id > ? ORDER BY id",
        (newest - STDERR_FILES_FOR_NEWEST,),
    ).fetchall()
    for job_id, path in rows:
        with open(path, "w") as f:
            f.write(f"processing item {job_id}\nerror: input is truncated (exit 1)\n")
    counts = dict(db.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
    db.close()
    print(f"mark_history.py: {counts}; {len(rows)} stderr files", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
