#ifndef JOBQ_CSQLITE_SHIM_H
#define JOBQ_CSQLITE_SHIM_H

#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro over a cast Swift cannot import: tells SQLite to copy a bound value.
static inline sqlite3_destructor_type jobq_sqlite_transient(void) { return SQLITE_TRANSIENT; }

// sqlite3_db_config is variadic; these are the settings jobq uses.
static inline int jobq_sqlite_defensive(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
}

#endif
