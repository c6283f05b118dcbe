/// The steps that upgrade a database written by an older jobq. Step `from: N` turns schema
/// version N into N + 1; the migrator then sets `user_version`. schema.sql always holds the
/// newest full schema, and a new step must leave an old database with exactly that schema
/// (MigratorTests checks this for every step).
enum Migrations {
    static let steps: [Migrator.Step] = [
        // 1 → 2: a supervisor reserves its next jobs (schema.sql, jobs_reserved).
        Migrator.Step(
            from: 1, sql: "CREATE INDEX jobs_reserved ON jobs (worker) WHERE state = 'queued' AND worker IS NOT NULL;"),
    ]
}
