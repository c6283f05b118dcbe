#if canImport(Glibc)
import Glibc
#endif

/// The calling process's environment, as `KEY=VALUE` strings and as a dictionary.
public enum ProcessEnvironment {
    public static func entries() -> [String] {
        var result: [String] = []
        var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }

    public static func dictionary() -> [String: String] {
        var result: [String: String] = [:]
        for entry in entries() {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            result[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        return result
    }
}
