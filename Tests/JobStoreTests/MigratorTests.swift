import Dispatch
import Glibc
import Synchronization
import Testing
import TestSupport

@testable import JobStore

@Suite struct MigratorTests {
    let folder = TemporaryDirectory("migrator")

    /// Two versions of a small schema, to exercise the upgrade path itself.
    static let v1 = "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT);\nPRAGMA user_version = 1;"
    static let v2 = """
        CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT, size INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX things_by_size ON things (size);
        PRAGMA user_version = 2;
        """
    static let step = Migrator.Step(
        from: 1, sql: "ALTER TABLE things ADD COLUMN size INTEGER NOT NULL DEFAULT 0; CREATE INDEX things_by_size ON things (size);")
    static let migratorV1 = Migrator(schema: v1, version: 1, applicationID: 7, steps: [])
    static let migratorV2 = Migrator(schema: v2, version: 2, applicationID: 7, steps: [step])

    func schema(_ db: Database) throws -> [String] {
        try db.statement("SELECT sql FROM sqlite_schema ORDER BY name").rows([]) { $0.text(0) }
    }

    @Test func olderDatabaseIsMigratedAndKeepsItsRows() throws {
        let path = folder.file("old.db")
        do {
            let db = try Database(path: path)
            try Self.migratorV1.prepare(db)
            try db.execute("INSERT INTO things (name) VALUES ('kept')")
        }
        let db = try Database(path: path)
        try Self.migratorV2.prepare(db)
        #expect(try db.integer("PRAGMA user_version") == 2)
        #expect(try db.text("SELECT name FROM things") == "kept")
        #expect(try db.integer("SELECT size FROM things") == 0)

        // The migrated database has the schema a new one gets (modulo ALTER's text form).
        let fresh = try Database(path: folder.file("new.db"))
        try Self.migratorV2.prepare(fresh)
        let columns = "SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info('things') ORDER BY cid"
        let read = { (row: Row) in "\(row.text(0)) \(row.text(1)) \(row.int(2)) \(row.optionalText(3) ?? "")" }
        #expect(try db.statement(columns).rows([], read) == fresh.statement(columns).rows([], read))
        #expect(try db.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'things_by_size'") == 1)
    }

    @Test func newerDatabaseIsRefused() throws {
        let path = folder.file("new.db")
        try Self.migratorV2.prepare(try Database(path: path))
        let error = #expect(throws: StoreError.self) { try Self.migratorV1.prepare(try Database(path: path)) }
        guard case .newerSchema(_, let found, let supported)? = error else {
            Issue.record("expected newerSchema, got \(String(describing: error))")
            return
        }
        #expect(found == 2 && supported == 1)
        #expect(error?.description.contains("newer than this jobq understands") == true)
    }

    @Test func foreignSQLiteDatabaseIsRefusedAndUntouched() throws {
        let path = folder.file("other.db")
        do {
            let db = try Database(path: path)
            try db.execute("CREATE TABLE recipes (x)")
        }
        let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        #expect(error?.description.contains("jobq did not create") == true)
        let db = try Database(path: path)
        #expect(try db.integer("SELECT count(*) FROM sqlite_schema") == 1)
    }

    @Test func garbageFileIsRefusedAndNeverOverwritten() throws {
        let garbage = Array(repeating: Array("this is not a database\n".utf8), count: 200).flatMap { $0 }
        let path = folder.writeBytes("jobq.db", garbage)
        let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        #expect(error?.description.contains("is not a jobq database") == true)
        #expect(readFile(path).map { Array($0.utf8) } == garbage)
    }

    /// A creator that died between creating the schema and switching to WAL: the next opener
    /// switches.
    @Test func anUpToDateDatabaseNotInWALModeIsSwitched() throws {
        let path = folder.file("jobq.db")
        do {
            let store = try SQLiteStore(path: path)
            try store.database.execute("PRAGMA journal_mode = DELETE")
        }
        #expect(try Database(path: path).text("PRAGMA journal_mode") == "delete")
        let store = try SQLiteStore(path: path)
        #expect(try store.database.text("PRAGMA journal_mode") == "wal")
    }

    @Test func upToDateDatabaseIsLeftAsIs() throws {
        let path = folder.file("jobq.db")
        _ = try SQLiteStore(path: path)
        let before = try schema(Database(path: path))
        _ = try SQLiteStore(path: path)
        #expect(try schema(Database(path: path)) == before)
    }
}

/// Many connections creating the same new database at the same instant (threads, so that no
/// process start-up spreads them out): one creates it; the others wait, then use it.
@Suite struct ConcurrentCreationTests {
    @Test func manyConnectionsCreateOneDatabase() throws {
        for round in 0..<20 {
            let folder = TemporaryDirectory("create\(round)")
            let path = folder.file("jobq.db")
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                do {
                    let store = try SQLiteStore(path: path)
                    _ = try store.counts()
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty, "round \(round): \(failures.withLock { $0 })")
            #expect(try Database(path: path).text("PRAGMA journal_mode") == "wal")
        }
    }
}
