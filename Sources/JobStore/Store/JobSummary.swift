/// A job as one line of `jobq list`, read in place from the row SQLite holds: what the table
/// shows and nothing more, with no copy of a name or a command (a list reads one per job, and
/// 10,000 jobs should take milliseconds). Valid only inside the `SQLiteStore.forEachSummary`
/// call that hands it over. The columns are `SQL.summaryColumns`, in that order.
public struct JobSummary {
    let row: Row

    public var id: JobID { JobID(row.int64(0)) }
    /// The name's UTF-8 bytes, nil for a job added without one.
    public var name: UnsafeRawBufferPointer? { row.isNull(1) ? nil : row.bytesInPlace(1) }
    public var priority: Int { row.int(2) }
    public var state: JobState { JobState(firstByte: row.firstByte(3)) }
    public var reason: FailureReason? { row.isNull(4) ? nil : FailureReason(rawValue: row.text(4)) }
    public var exitCode: Int32? { row.optionalInt(5).map(Int32.init(truncatingIfNeeded:)) }
    public var signal: Int32? { row.optionalInt(6).map(Int32.init(truncatingIfNeeded:)) }
    public var pid: Int32? { row.optionalInt(7).map(Int32.init(truncatingIfNeeded:)) }
    public var runAfter: Int64 { row.int64(8) }
    public var enqueuedAt: Int64 { row.int64(9) }
    public var startedAt: Int64? { row.optionalInt64(10) }
    public var finishedAt: Int64? { row.optionalInt64(11) }
    /// What it runs, as stored: the NUL-separated argv, the script, or the message.
    public var kind: Kind { Kind(firstByte: row.firstByte(12)) }
    public var payload: UnsafeRawBufferPointer { row.bytesInPlace(13) }
    public var seconds: Double? { row.optionalDouble(14) }

    public enum Kind: Sendable {
        case command, script, message

        /// From the first byte of the schema's `kind` column.
        public init(firstByte: UInt8) {
            switch firstByte {
            case UInt8(ascii: "c"): self = .command
            case UInt8(ascii: "m"): self = .message
            default: self = .script
            }
        }
    }

    /// Appends "exit 3", "pid 812", … (as `ResultText` words it) to `out`.
    public func appendResult(to out: inout ByteWriter, state: JobState) {
        let failed = state == .failed
        ResultText.append(
            state: state, reason: failed ? reason : nil, exitCode: failed ? exitCode : nil,
            signal: failed ? signal : nil, pid: state == .running ? pid : nil, runAfter: state == .queued ? runAfter : 0,
            to: &out)
    }

    /// Appends the one-line summary of what it runs (as `Payload.summary` words it) to `out`.
    public func appendCommandSummary(to out: inout ByteWriter) {
        switch kind {
        case .command: CommandText.appendQuoted(argvBlob: payload, to: &out)
        case .message:
            out.append(payload)
            out.append(UInt8(ascii: ";"))
            out.append(formatSeconds(seconds ?? 0))
        case .script: out.append(Payload.script(String(decoding: payload, as: UTF8.self)).summary)
        }
    }
}
