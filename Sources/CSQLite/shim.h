#ifndef JOBQ_CSQLITE_SHIM_H
#define JOBQ_CSQLITE_SHIM_H

#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro over a cast Swift cannot import: tells SQLite to copy a bound value.
static inline sqlite3_destructor_type jobq_sqlite_transient(void) { return SQLITE_TRANSIENT; }

// sqlite3_config is variadic too. Without memory statistics, each allocation SQLite makes skips
// a global counter under a mutex: a tenth of the cost of an INSERT. jobq reads no statistics.
// It must run before SQLite initializes (the first open); later it fails harmlessly.
static inline int jobq_sqlite_configure(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

// sqlite3_db_config is variadic; these are the settings jobq uses.
static inline int jobq_sqlite_defensive(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
}

static inline int jobq_sqlite_checkpoint_on_close(sqlite3 *db, int checkpoint) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, checkpoint ? 0 : 1, (int *)0);
}

// A write-ahead-log hook that only counts: it takes the place of SQLite's own (the automatic
// checkpoint after a commit) and keeps how many frames the log holds after each commit.
static inline int jobq_sqlite_count_log_frames(void *frames, sqlite3 *db, const char *name, int count) {
    (void)db;
    (void)name;
    *(int *)frames = count;
    return SQLITE_OK;
}

/// Installs the hook above; `frames` must live as long as the connection (or until the hook is
/// removed: sqlite3_wal_hook(db, NULL, NULL)).
static inline void jobq_sqlite_record_log_frames(sqlite3 *db, int *frames) {
    sqlite3_wal_hook(db, jobq_sqlite_count_log_frames, frames);
}

// A busy handler that retries quickly. SQLite's own (sqlite3_busy_timeout) sleeps 1, 2, 5, 10,
// … up to 100 ms between tries, so two workers that take turns at a write lock held for a
// fraction of a millisecond would each wait tens of milliseconds. This one sleeps 20 µs,
// doubling up to 2 ms, until `timeout_ms` has passed in all. The kernel stretches a sleep by
// the thread's timer slack, 50 µs by default, which would make the first pause 70 µs or more:
// the first time a connection waits here, its thread's slack is cut to 1 µs. (In a drain the
// two workers collide on the write lock about one job in six, and each holds it for well
// under 100 µs.)
#include <time.h>
#include <stdint.h>
#include <sys/prctl.h>

static inline int64_t jobq_sqlite_now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

// The calling thread's timer slack in nanoseconds: set, and read (for tests).
static inline void jobq_set_timer_slack_ns(unsigned long nanoseconds) {
    prctl(PR_SET_TIMERSLACK, nanoseconds, 0UL, 0UL, 0UL);
}

static inline int jobq_timer_slack_ns(void) {
    return (int)prctl(PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL);
}

struct jobq_busy_state { int64_t timeout_us; int64_t started_us; int slack_set; };

static inline int jobq_sqlite_busy(void *context, int count) {
    struct jobq_busy_state *state = (struct jobq_busy_state *)context;
    int64_t now = jobq_sqlite_now_us();
    if (count == 0) state->started_us = now;
    if (now - state->started_us >= state->timeout_us) return 0;
    if (!state->slack_set) {
        jobq_set_timer_slack_ns(1000);
        state->slack_set = 1;
    }
    int64_t pause = 20LL << (count < 7 ? count : 7);
    if (pause > 2000) pause = 2000;
    struct timespec sleep = { 0, (long)(pause * 1000) };
    nanosleep(&sleep, 0);
    return 1;
}

/// Installs the handler above; `state` must live as long as the connection.
static inline int jobq_sqlite_set_busy_handler(sqlite3 *db, struct jobq_busy_state *state, int timeout_ms) {
    state->timeout_us = (int64_t)timeout_ms * 1000;
    state->started_us = 0;
    return sqlite3_busy_handler(db, jobq_sqlite_busy, state);
}

#endif
