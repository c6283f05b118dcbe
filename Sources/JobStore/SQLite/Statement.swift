import CSQLite

/// A value bound to a statement parameter or read from a result column.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One prepared statement: prepared in `init`, finalized in `deinit`. Not `Sendable`: it
/// belongs to one `Database`, used from one place at a time.
public final class Statement {
    let handle: OpaquePointer
    unowned let database: Database
    public let sql: String

    init(database: Database, sql: String) throws(SQLiteError) {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw database.error(code: rc, sql: sql)
        }
        self.handle = statement
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds values to `?1…?n` in order, after clearing earlier bindings and resetting.
    public func bind(_ values: [SQLValue]) throws(SQLiteError) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (index, value) in values.enumerated() {
            try bind(value, at: Int32(index + 1))
        }
    }

    public func bind(_ value: SQLValue, at index: Int32) throws(SQLiteError) {
        let rc: Int32
        switch value {
        case .null:
            rc = sqlite3_bind_null(handle, index)
        case .integer(let v):
            rc = sqlite3_bind_int64(handle, index, v)
        case .real(let v):
            rc = sqlite3_bind_double(handle, index, v)
        case .text(let v):
            // The byte count, not -1: a string may hold NUL characters.
            rc = sqlite3_bind_text(handle, index, v, Int32(v.utf8.count), jobq_sqlite_transient())
        case .blob(let v):
            rc = v.withUnsafeBytes { raw in
                sqlite3_bind_blob64(handle, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(raw.count), jobq_sqlite_transient())
            }
        }
        guard rc == SQLITE_OK else { throw database.error(code: rc, sql: sql) }
    }

    /// Runs the statement once more with the slices `ranges` of `bytes` bound, in place and
    /// without a copy, as blobs to the parameters from `firstIndex` on (SQLite reads them only
    /// while it runs, and the bindings are dropped before the bytes could go away). Every
    /// other value stays bound as it was.
    public func executeAgain(borrowing bytes: [UInt8], ranges: [Range<Int>], from firstIndex: Int32) throws(SQLiteError) {
        var failure: SQLiteError?
        bytes.withUnsafeBytes { raw in
            var rc = SQLITE_OK
            for (offset, range) in ranges.enumerated() where rc == SQLITE_OK {
                rc = sqlite3_bind_blob64(
                    handle, firstIndex + Int32(offset), raw.baseAddress.map { $0 + range.lowerBound } ?? UnsafeRawPointer(bitPattern: 1),
                    UInt64(range.count), nil)
            }
            if rc == SQLITE_OK {
                repeat { rc = sqlite3_step(handle) } while rc == SQLITE_ROW
            }
            if rc != SQLITE_DONE { failure = database.error(code: rc, sql: sql) }
            sqlite3_reset(handle)
            for offset in ranges.indices { sqlite3_bind_null(handle, firstIndex + Int32(offset)) }
        }
        if let failure { throw failure }
    }

    /// Advances to the next row: true while there is one, false when done.
    @discardableResult
    public func step() throws(SQLiteError) -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc:
            let error = database.error(code: rc, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs the statement to completion with the given values, ignoring any rows.
    public func execute(_ values: [SQLValue] = []) throws(SQLiteError) {
        try bind(values)
        defer { sqlite3_reset(handle) }
        while try step() {}
    }

    /// Runs the statement with the given values and maps each row.
    public func rows<T>(_ values: [SQLValue] = [], _ transform: (Row) throws -> T) throws -> [T] {
        var result: [T] = []
        try forEach(values) { result.append(try transform($0)) }
        return result
    }

    /// `body` on every row in turn, nothing kept (a listing of thousands of rows).
    public func forEach(_ values: [SQLValue] = [], _ body: (Row) throws -> Void) throws {
        try bind(values)
        defer { sqlite3_reset(handle) }
        let row = Row(statement: self)
        while try step() { try body(row) }
    }

    /// The first row mapped, or nil when there is none.
    public func firstRow<T>(_ values: [SQLValue] = [], _ transform: (Row) throws -> T) throws -> T? {
        try bind(values)
        defer { sqlite3_reset(handle) }
        guard try step() else { return nil }
        return try transform(Row(statement: self))
    }

    /// The number of rows the last INSERT/UPDATE/DELETE changed.
    public var changes: Int { Int(sqlite3_changes64(database.handle)) }
}

/// The current row of a stepping statement; valid only inside the `rows`/`firstRow` closure.
public struct Row {
    let statement: Statement

    public func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(statement.handle, column) == SQLITE_NULL
    }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement.handle, column) }

    public func int(_ column: Int32) -> Int { Int(int64(column)) }

    public func optionalInt(_ column: Int32) -> Int? { isNull(column) ? nil : int(column) }

    public func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    public func double(_ column: Int32) -> Double { sqlite3_column_double(statement.handle, column) }

    public func optionalDouble(_ column: Int32) -> Double? { isNull(column) ? nil : double(column) }

    public func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(statement.handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement.handle, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    public func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    /// The first byte of a text column (0 when empty or NULL): enough to tell the schema's
    /// keyword values apart without making a string of each.
    public func firstByte(_ column: Int32) -> UInt8 {
        guard let pointer = sqlite3_column_text(statement.handle, column),
            sqlite3_column_bytes(statement.handle, column) > 0
        else { return 0 }
        return pointer.pointee
    }

    public func blob(_ column: Int32) -> [UInt8] { Array(bytesInPlace(column)) }

    public func optionalBlob(_ column: Int32) -> [UInt8]? { isNull(column) ? nil : blob(column) }

    /// A text or blob column's bytes where SQLite holds them: no copy, valid until the
    /// statement steps or resets (read them inside the `rows`/`forEach` closure).
    public func bytesInPlace(_ column: Int32) -> UnsafeRawBufferPointer {
        guard let pointer = sqlite3_column_blob(statement.handle, column) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(statement.handle, column)))
    }
}
