/// How the current attempt ended, for tables: "exit 3", "signal 9", "timeout signal 15", …
public enum ResultText {
    public static func describe(
        state: JobState, reason: FailureReason?, exitCode: Int32?, signal: Int32?, pid: Int32?, runAfter: Int64
    ) -> String {
        var text = ByteWriter(capacity: 32)
        append(state: state, reason: reason, exitCode: exitCode, signal: signal, pid: pid, runAfter: runAfter, to: &text)
        return text.string
    }

    /// The same, written into `out` (`jobq list` writes one per job).
    public static func append(
        state: JobState, reason: FailureReason?, exitCode: Int32?, signal: Int32?, pid: Int32?, runAfter: Int64,
        to out: inout ByteWriter
    ) {
        switch state {
        case .queued: if runAfter > 0 { out.append(literal: "delayed") }
        case .running:
            if let pid {
                out.append(literal: "pid ")
                out.appendDecimal(Int64(pid))
            } else {
                out.append(literal: "starting")
            }
        case .done: out.append(literal: "exit 0")
        case .failed:
            if let reason, reason != .exit && reason != .signal {
                out.append(reason.rawValue)
                if signal == nil && exitCode == nil { return }
                out.append(UInt8(ascii: " "))
            }
            if let signal {
                out.append(literal: "signal ")
                out.appendDecimal(Int64(signal))
            } else if let exitCode {
                out.append(literal: "exit ")
                out.appendDecimal(Int64(exitCode))
            } else {
                out.append(reason?.rawValue ?? "failed")
            }
        }
    }
}
