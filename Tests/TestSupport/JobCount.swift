import Glibc
import JobStore

/// How many jobs the home's database holds, in every state (0 when there is no database yet:
/// a refused `add` may not even create the home).
public func jobCount(home: String) throws -> Int {
    let path = home + "/jobq.db"
    guard access(path, F_OK) == 0 else { return 0 }
    return try SQLiteStore(path: path, create: false).counts().values.reduce(0, +)
}
