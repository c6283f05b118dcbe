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
        if found == version && application == applicationID { return }
        try check(found: found, application: application, database: database)
        if found == 0 {
            // WAL must be set outside a transaction; it is a property of the file from now on.
            let mode = try database.text("PRAGMA journal_mode = WAL")
            guard mode == "wal" else {
                throw StoreError.cannotOpen(path: database.path, detail: "cannot switch to WAL (got \(mode ?? "nothing"))")
            }
        }
        try database.write {
            // Another process may have created or upgraded it while we waited for the lock.
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
