import Testing
import TestSupport

@testable import JobStore

/// schema.sql at the repository root is the one source of the schema.
@Suite struct SchemaTests {
    let folder = TemporaryDirectory("schema")

    static var schemaFilePath: String {
        // Tests/JobStoreTests/SchemaTests.swift → repository root.
        let parts = #filePath.split(separator: "/").dropLast(3)
        return "/" + parts.joined(separator: "/") + "/schema.sql"
    }

    @Test func embeddedSchemaIsSchemaSQLByteForByte() throws {
        let file = try #require(readFile(Self.schemaFilePath))
        #expect(EmbeddedSchema.sql == file)
        #expect(EmbeddedSchema.version >= 1)
    }

    /// What the store creates is exactly what schema.sql describes.
    @Test func storeSchemaEqualsSchemaSQL() throws {
        let store = try SQLiteStore(path: folder.file("jobq.db"))
        let reference = try Database(path: folder.file("reference.db"))
        try reference.execute(try #require(readFile(Self.schemaFilePath)))
        let query = "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name"
        let columns = { (row: Row) in [row.text(0), row.text(1), row.text(2), row.optionalText(3) ?? ""] }
        let created = try store.database.statement(query).rows([], columns)
        let expected = try reference.statement(query).rows([], columns)
        #expect(created == expected)
        #expect(created.contains { $0[1] == "jobs" })
        #expect(try store.database.integer("PRAGMA user_version") == Int64(EmbeddedSchema.version))
        #expect(try store.database.integer("PRAGMA application_id") == 0x6A6F_6271)
    }

    @Test func connectionSettings() throws {
        let store = try SQLiteStore(path: folder.file("jobq.db"))
        #expect(try store.database.text("PRAGMA journal_mode") == "wal")
        #expect(try store.database.integer("PRAGMA synchronous") == 2)  // FULL
        #expect(try store.database.integer("PRAGMA foreign_keys") == 1)
    }

    /// The state machine's second line of defence: the CHECK constraints refuse what the Swift
    /// enum would never produce.
    @Test func schemaRefusesInvalidStates() throws {
        let store = try SQLiteStore(path: folder.file("jobq.db"))
        let id = try store.insert([TestJobs.command(["true"])], now: 1)[0]
        let db = store.database
        #expect(throws: SQLiteError.self) {
            try db.statement("UPDATE jobs SET state = 'paused' WHERE id = ?1").execute([.integer(id.rawValue)])
        }
        // failed needs a reason, and a reason needs failed.
        #expect(throws: SQLiteError.self) {
            try db.statement("UPDATE jobs SET state = 'failed', finished_at = 1 WHERE id = ?1")
                .execute([.integer(id.rawValue)])
        }
        #expect(throws: SQLiteError.self) {
            try db.statement("UPDATE jobs SET reason = 'exit' WHERE id = ?1").execute([.integer(id.rawValue)])
        }
        #expect(throws: SQLiteError.self) {
            try db.statement("UPDATE jobs SET state = 'failed', reason = 'bogus', finished_at = 1 WHERE id = ?1")
                .execute([.integer(id.rawValue)])
        }
        #expect(try store.job(id)?.state == .queued)
    }

    /// The indexes that keep the hot queries fast at a million rows are used.
    @Test func hotQueriesUseIndexes() throws {
        let store = try SQLiteStore(path: folder.file("jobq.db"))
        func plan(_ sql: String) throws -> String {
            try store.database.statement("EXPLAIN QUERY PLAN " + sql).rows([]) { $0.text(3) }.joined(separator: "; ")
        }
        let next = try plan(SQL.claim)
        #expect(next.contains("jobs_ready"))
        #expect(!next.contains("TEMP B-TREE"))
        let newest = try plan("SELECT id FROM jobs ORDER BY id DESC LIMIT 50")
        #expect(!newest.contains("TEMP B-TREE"))
        let failed = try plan("SELECT id FROM jobs WHERE state = 'failed' ORDER BY id DESC LIMIT 50")
        #expect(failed.contains("jobs_failed"))
        #expect(!failed.contains("TEMP B-TREE"))
        // Listing one state walks that state's partial index, not the whole history.
        for (state, index) in [(JobState.queued, "jobs_ready"), (.running, "jobs_running"), (.failed, "jobs_failed")] {
            #expect(try plan(SQL.idsNewestFirst(in: state)).contains(index), "\(state)")
            #expect(try plan(SQL.summariesNewestFirst(in: state)).contains(index), "\(state)")
        }
        #expect(try plan(SQL.nextDue).contains("jobs_due"))
        // A listing's batches are read by id.
        let byID = try plan(SQL.jobsWithIDs)
        #expect(byID.contains("INTEGER PRIMARY KEY"), "\(byID)")
        #expect(try plan(SQL.runningCount).contains("jobs_running"))
    }
}
