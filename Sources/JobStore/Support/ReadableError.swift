/// An error whose description is one sentence for the person at the terminal: what is wrong
/// and what to do. `jobq` prints these as `jobq: <description>` and exits 1; anything else is
/// a usage error or a bug and goes through the argument parser.
public protocol ReadableError: Error, CustomStringConvertible {}

extension StoreError: ReadableError {}
extension InputError: ReadableError {}
extension TaskFileError: ReadableError {}
extension AddRefused: ReadableError {}
extension SQLiteError: ReadableError {}
