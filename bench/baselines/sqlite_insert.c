/* sqlite_insert DB [ROWS]
 *
 * The raw limit of an enqueue (W1) and of a bulk add: open DB in WAL mode with
 * synchronous=FULL (jobq's durability promise), create the table if needed, and insert
 * ROWS rows (default 1) of about 200 bytes in ONE transaction, then close. W1 runs it once
 * per row from a bash loop, exactly like the queues' enqueue commands; the bulk workload
 * runs it once with ROWS=N_BULK (run.sh: 100000, or fewer with --quick). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int exec(sqlite3 *db, const char *sql) {
    char *error = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf(stderr, "sqlite_insert: %s: %s\n", sql, error ? error : "?");
        sqlite3_free(error);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: sqlite_insert DB [ROWS]\n");
        return 64;
    }
    long rows = argc == 3 ? strtol(argv[2], NULL, 10) : 1;
    if (rows < 1) {
        fprintf(stderr, "sqlite_insert: ROWS must be at least 1\n");
        return 64;
    }
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        fprintf(stderr, "sqlite_insert: cannot open %s: %s\n", argv[1], sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_busy_timeout(db, 5000);
    if (exec(db, "PRAGMA journal_mode=WAL") || exec(db, "PRAGMA synchronous=FULL") ||
        exec(db, "CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, state TEXT NOT NULL,"
                 " command BLOB NOT NULL, cwd TEXT NOT NULL, enqueued_at INTEGER NOT NULL)") ||
        exec(db, "BEGIN IMMEDIATE"))
        return 1;

    sqlite3_stmt *insert;
    if (sqlite3_prepare_v2(db, "INSERT INTO jobs (state, command, cwd, enqueued_at) VALUES ('queued', ?1, ?2, ?3)",
                           -1, &insert, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite_insert: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    /* ~200 bytes per row: a command line and a working directory of typical length. */
    static const char command[] = "/usr/bin/env PATH=/usr/local/bin:/usr/bin:/bin ./convert --input data/in.png "
                                  "--output data/out.png --quality 90 --threads 4 --log run.log --verbose";
    static const char cwd[] = "/home/user/projects/example-batch-processing/work";
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    for (long i = 0; i < rows; i++) {
        sqlite3_bind_blob(insert, 1, command, (int)strlen(command), SQLITE_STATIC);
        sqlite3_bind_text(insert, 2, cwd, -1, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 3, (sqlite3_int64)t.tv_sec * 1000 + t.tv_nsec / 1000000);
        if (sqlite3_step(insert) != SQLITE_DONE) {
            fprintf(stderr, "sqlite_insert: %s\n", sqlite3_errmsg(db));
            return 1;
        }
        sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    if (exec(db, "COMMIT")) return 1;
    return sqlite3_close(db) == SQLITE_OK ? 0 : 1;
}
