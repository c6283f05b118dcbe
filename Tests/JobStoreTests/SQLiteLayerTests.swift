import CSQLite
import Foundation
import Testing
import TestSupport

@testable import JobStore

@Suite struct SQLiteLayerTests {
    let folder = TemporaryDirectory("sqlite")

    @Test func boundValuesRoundTrip() throws {
        let db = try Database(path: folder.file("t.db"))
        try db.execute("CREATE TABLE t (a, b, c, d, e)")
        let values: [SQLValue] = [.null, .integer(-42), .real(2.5), .text("héllo\u{0}x"), .blob([0, 1, 255])]
        try db.statement("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)").execute(values)
        let row = try db.statement("SELECT a, b, c, d, e FROM t").firstRow { row in
            (row.isNull(0), row.int64(1), row.double(2), row.text(3), row.blob(4))
        }
        #expect(row?.0 == true)
        #expect(row?.1 == -42)
        #expect(row?.2 == 2.5)
        #expect(row?.3 == "héllo\u{0}x")
        #expect(row?.4 == [0, 1, 255])
    }

    @Test func errorCarriesCodeMessageAndSQL() throws {
        let db = try Database(path: folder.file("t.db"))
        try db.execute("CREATE TABLE t (x INTEGER CHECK (x > 0))")
        let error = #expect(throws: SQLiteError.self) {
            try db.statement("INSERT INTO t VALUES (?1)").execute([.integer(-1)])
        }
        #expect(error?.primaryCode == SQLITE_CONSTRAINT)
        #expect(error?.code == SQLITE_CONSTRAINT | (1 << 8))  // SQLITE_CONSTRAINT_CHECK
        #expect(error?.message.contains("CHECK constraint failed") == true)
        #expect(error?.sql == "INSERT INTO t VALUES (?1)")
        #expect(error?.description.hasPrefix("SQLite error 19: CHECK constraint failed") == true)
        #expect(error?.description.contains("while executing INSERT INTO t") == true)
    }

    @Test func prepareErrorNamesTheSQL() throws {
        let db = try Database(path: folder.file("t.db"))
        let error = #expect(throws: SQLiteError.self) { try db.statement("SELEKT 1") }
        #expect(error?.sql == "SELEKT 1")
        #expect(error?.message.contains("syntax error") == true)
    }

    @Test func preparedStatementsAreReused() throws {
        let db = try Database(path: folder.file("t.db"))
        let first = try db.statement("SELECT 1")
        let second = try db.statement("SELECT 1")
        #expect(first === second)
    }

    @Test func writeRollsBackWhenTheBodyThrows() throws {
        let db = try Database(path: folder.file("t.db"))
        try db.execute("CREATE TABLE t (x)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.write {
                try db.statement("INSERT INTO t VALUES (1)").execute()
                throw Boom()
            }
        }
        #expect(try db.integer("SELECT count(*) FROM t") == 0)
        try db.write { try db.statement("INSERT INTO t VALUES (1)").execute() }
        #expect(try db.integer("SELECT count(*) FROM t") == 1)
    }

    /// `write` commits with `synchronous = FULL` and `writeWithoutFlush` with NORMAL, whatever
    /// ran before; the setting is changed only when the kind of write changes (SQLite prepares
    /// a PRAGMA again at every run: the hot paths, all `writeWithoutFlush`, must not pay that).
    @Test func eachKindOfWriteCommitsWithItsOwnSyncSetting() throws {
        let db = try Database(path: folder.file("t.db"))
        try db.execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
        let settings = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        settings.initialize(to: 0)
        defer { settings.deallocate() }
        sqlite3_trace_v2(db.handle, UInt32(SQLITE_TRACE_STMT), { _, context, _, sql in
            if let sql, String(cString: sql.assumingMemoryBound(to: CChar.self)).hasPrefix("PRAGMA synchronous =") {
                context!.assumingMemoryBound(to: Int.self).pointee += 1
            }
            return 0
        }, settings)
        func level() throws -> Int64? { try db.integer("PRAGMA synchronous") }
        let kinds = [false, false, true, true, false, true]
        var seen: [Int64?] = []
        for flushed in kinds {
            let body = { () throws -> Int64? in
                try db.statement("INSERT INTO t VALUES (1)").execute()
                return try level()
            }
            seen.append(flushed ? try db.write(body) : try db.writeWithoutFlush(body))
        }
        #expect(seen == kinds.map { $0 ? 2 : 1 })  // FULL is 2, NORMAL 1
        #expect(settings.pointee == 4)  // false, true, false, true: one change each
        sqlite3_trace_v2(db.handle, 0, nil, nil)
    }

    /// A second writer waits for the first (bounded busy timeout) instead of failing at once,
    /// because writes start with BEGIN IMMEDIATE.
    @Test func writeTransactionsAreImmediate() throws {
        let path = folder.file("t.db")
        let a = try Database(path: path)
        try a.execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
        let b = try Database(path: path)
        try a.statement("BEGIN IMMEDIATE").execute()
        // While `a` holds the write lock, a deferred read in `b` still works (WAL)...
        #expect(try b.integer("SELECT count(*) FROM t") == 0)
        // ...and `b` cannot take the write lock: with a tiny timeout it reports SQLITE_BUSY.
        sqlite3_busy_timeout(b.handle, 10)
        let error = #expect(throws: SQLiteError.self) { try b.write {} }
        #expect(error?.isBusy == true)
        try a.statement("COMMIT").execute()
        try b.write { try b.statement("INSERT INTO t VALUES (1)").execute() }
        #expect(try a.integer("SELECT count(*) FROM t") == 1)
    }

    /// A writer kept waiting by another's write lock waits in jobq's busy handler, which cuts its
    /// thread's timer slack from the kernel's default 50 µs to 1 µs (so a 20 µs pause is not
    /// stretched to 70 µs). On a thread of its own, so that no other test's thread is changed,
    /// with the default set first: a thread inherits its creator's slack, which an earlier test
    /// may have cut already.
    @Test func busyWaitCutsTheTimerSlack() throws {
        let path = folder.file("t.db")
        let a = try Database(path: path)
        try a.execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
        try a.statement("BEGIN IMMEDIATE").execute()
        defer { _ = try? a.statement("ROLLBACK").execute() }
        let outcome = OnNewThread.run { () -> (before: Int32, busy: Bool, after: Int32) in
            jobq_set_timer_slack_ns(50_000)
            let before = jobq_timer_slack_ns()
            guard let b = try? Database(path: path) else { return (before, false, 0) }
            let state = UnsafeMutablePointer<jobq_busy_state>.allocate(capacity: 1)
            defer { state.deallocate() }
            state.initialize(to: jobq_busy_state())
            _ = jobq_sqlite_set_busy_handler(b.handle, state, 5)  // a short timeout: it gives up
            var busy = false
            do { try b.write {} } catch let error as SQLiteError { busy = error.isBusy } catch {}
            return (before, busy, jobq_timer_slack_ns())
        }
        #expect(outcome.before == 50_000)
        #expect(outcome.busy)
        #expect(outcome.after == 1_000)
    }
}
