import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's and workers' event log: one line per event on stderr, e.g.
/// `2026-11-29T01:32:53.123Z jobq-daemon[4242] info: job 7 started: pid 4250 (worker 0)`.
public struct EventLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) { self.label = label }

    /// Routes swift-log to this handler (once per process).
    public static func bootstrap() {
        LoggingSystem.bootstrap { EventLogHandler(label: $0) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = TimeParser.formatUTC(milliseconds: WallClock.now()) + " \(label)[\(getpid())] \(event.level): "
        line += event.message.description
        let merged = event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        if !merged.isEmpty {
            line += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        line += "\n"
        // One write per line, so lines from the daemon and its workers never interleave.
        writeAll(line, to: STDERR_FILENO)
    }
}
