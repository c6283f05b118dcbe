// TEMPORARY: stands in for the parser files until they land. Delete when they do.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible { public let message: String; public init(_ message: String) { self.message = message }; public var description: String { message } }
public enum DurationParser { public static func milliseconds(_ text: String) throws(InputError) -> Int64 { 0 }; public static func format(milliseconds: Int64) -> String { "\(milliseconds)ms" } }
public enum TimeParser { public static func milliseconds(_ text: String, now: Int64) throws(InputError) -> Int64 { 0 }; public static func formatLocal(milliseconds: Int64) -> String { "\(milliseconds)" }; public static func formatUTC(milliseconds: Int64) -> String { "\(milliseconds)" } }
public struct JobOptions: Sendable, Equatable {
    public var name: String?; public var priority: Int?; public var cwd: String?; public var environment: [String] = []; public var timeoutMilliseconds: Int64?; public var maxRetries: Int?; public var after: [JobID] = []; public var runAfter: Int64?
    public init() {}
    public mutating func set(_ flag: String, _ value: String, now: Int64) throws(InputError) {}
    public mutating func apply(words: [String], now: Int64) throws(InputError) {}
    public func overridden(by other: JobOptions) -> JobOptions { self }
    public func spec(payload: Payload, cwd: String, environment: [String], source: String? = nil) -> JobSpec { JobSpec(payload: payload, cwd: cwd, environment: environment) }
}
public struct TaskFile: Sendable, Equatable { public var payload: Payload; public var options: JobOptions }
public struct TaskFileError: Error, Sendable, Equatable, CustomStringConvertible { public let file: String; public let line: Int?; public let problem: String; public init(file: String, line: Int?, problem: String) { self.file = file; self.line = line; self.problem = problem }; public var description: String { problem } }
public enum TaskFileParser { public static let maximumBytes = 1 << 20; public static func parse(_ bytes: [UInt8], file: String, now: Int64) -> Result<TaskFile, TaskFileError> { .failure(TaskFileError(file: file, line: nil, problem: "stub")) } }
