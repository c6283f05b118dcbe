#if canImport(Glibc)
import Glibc
#endif

/// Brings a database to the schema this jobq was built with, tracked by `PRAGMA user_version`:
/// a new database runs the whole schema; an older one runs the migration steps from its
/// version up; a newer one is refused; a SQLite database that is not jobq's is refused.
public struct Migrator: Sendable {
    /// One step from `version` to `version + 1`.
    public struct Step: Sendable {
        public let version: Int
        public let sql: String
        public init(from version: Int, sql: String) {
            self.version = version
            self.sql = sql
        }
    }

    /// The full schema of `version`, and the `PRAGMA application_id` it marks databases with.
    public let schema: String
    public let version: Int
    public let applicationID: Int32
    public let steps: [Step]

    public init(schema: String, version: Int, applicationID: Int32, steps: [Step]) {
        self.schema = schema
        self.version = version
        self.applicationID = applicationID
        self.steps = steps
    }

    /// jobq's own schema: schema.sql, embedded at build time.
    public static let jobq = Migrator(
        schema: EmbeddedSchema.sql,
        version: EmbeddedSchema.version,
        applicationID: EmbeddedSchema.applicationID,
        steps: Migrations.steps
    )

    /// Checks the database and upgrades it if needed. Cheap when it is up to date: one read of
    /// the header.
    public func prepare(_ database: Database) throws {
        let (found, application) = try versionAndApplication(database)
        if found == version && application == applicationID {
            // Up to date — and in WAL mode, unless whoever created it died before switching.
            if try database.text("PRAGMA journal_mode") != "wal" { try useWAL(database) }
            return
        }
        // Everything else under the write lock, from one snapshot: several processes may open a
        // new home at once, and one of them must create it while the others wait and then see it.
        try database.write {
            let (current, application) = try versionAndApplication(database)
            try check(found: current, application: application, database: database)
            if current == 0 {
                try database.execute(schema)
                try database.execute("PRAGMA application_id = \(applicationID)")
            } else {
                for step in steps where step.version >= current && step.version < version {
                    try database.execute(step.sql)
                    try database.execute("PRAGMA user_version = \(step.version + 1)")
                }
            }
            let (final, _) = try versionAndApplication(database)
            guard final == version else {
                throw StoreError.cannotOpen(
                    path: database.path, detail: "no migration from schema version \(final) to \(version)")
            }
        }
        try useWAL(database)
    }

    /// Switches the file to WAL (outside any transaction; a property of the file from then on).
    /// The switch needs the database to itself, and SQLite does not wait for that with the busy
    /// handler, so a process that finds another one reading it tries again for a few seconds.
    private func useWAL(_ database: Database) throws {
        let deadline = WallClock.monotonic() + 10_000
        var pause: UInt32 = 500
        while true {
            do {
                let mode = try database.text("PRAGMA journal_mode = WAL")
                guard mode == "wal" else {
                    throw StoreError.cannotOpen(path: database.path, detail: "cannot switch to WAL (got \(mode ?? "nothing"))")
                }
                return
            } catch let error as SQLiteError where error.isBusy && WallClock.monotonic() < deadline {
                usleep(pause)
                pause = min(pause * 2, 20_000)
            }
        }
    }

    private func versionAndApplication(_ database: Database) throws -> (Int, Int32) {
        let statement = try database.statement(
            "SELECT (SELECT user_version FROM pragma_user_version), (SELECT application_id FROM pragma_application_id)")
        return try statement.firstRow { (Int($0.int64(0)), Int32(truncatingIfNeeded: $0.int64(1))) } ?? (0, 0)
    }

    private func check(found: Int, application: Int32, database: Database) throws {
        if found == 0 && application == 0 {
            // Either new (no tables yet) or someone else's database.
            let tables = try database.integer("SELECT count(*) FROM sqlite_schema") ?? 0
            if tables > 0 { throw StoreError.foreignDatabase(path: database.path) }
            return
        }
        if application != applicationID { throw StoreError.foreignDatabase(path: database.path) }
        if found > version {
            throw StoreError.newerSchema(path: database.path, found: found, supported: version)
        }
    }
}
