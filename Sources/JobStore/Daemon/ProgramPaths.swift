/// Where a worker found its jobs' programs on their PATH, remembered for a second.
///
/// A worker starts the same few programs job after job, and finding one on the PATH costs a
/// `stat` of the program in every PATH folder before the one that has it — with this machine's
/// PATH, nine failed `stat`s before `/usr/bin/true`, a sixth of all the system calls a short
/// job cost its worker. Like a shell's `hash`, but forgetful: a program installed since into an
/// earlier PATH folder is found at most `lifetime` late, and one that vanished is looked up
/// again at once (the start fails, then `Spawn` asks again).
public final class ProgramPaths {
    static let lifetime: Int64 = 1000

    private struct Entry {
        let path: String
        let until: Int64
    }

    private var entries: [String: Entry] = [:]
    private let clock: () -> Int64

    public init(clock: @escaping () -> Int64 = WallClock.monotonic) {
        self.clock = clock
    }

    func path(of program: String, pathVariable: String, cwd: String?) -> String? {
        guard let key = Self.key(program, pathVariable, cwd), let entry = entries[key] else { return nil }
        guard clock() < entry.until else {
            entries[key] = nil
            return nil
        }
        return entry.path
    }

    func remember(_ program: String, at path: String, pathVariable: String, cwd: String?) {
        guard let key = Self.key(program, pathVariable, cwd), entries[key] == nil else { return }
        if entries.count >= 64 { entries.removeAll() }
        entries[key] = Entry(path: path, until: clock() + Self.lifetime)
    }

    func forget(_ program: String, pathVariable: String, cwd: String?) {
        if let key = Self.key(program, pathVariable, cwd) { entries[key] = nil }
    }

    /// What a lookup depends on: the program, the PATH, and the job's cwd when the PATH has a
    /// relative folder. nil for a program given with a slash (nothing to look up).
    private static func key(_ program: String, _ pathVariable: String, _ cwd: String?) -> String? {
        if program.contains("/") { return nil }
        // A folder that does not start with "/" (an empty one is the cwd).
        var relative = false
        var previous = UInt8(ascii: ":")
        for byte in pathVariable.utf8 {
            if previous == UInt8(ascii: ":") && byte != UInt8(ascii: "/") { relative = true }
            previous = byte
        }
        if previous == UInt8(ascii: ":") { relative = true }
        return program + "\0" + pathVariable + (relative ? "\0" + (cwd ?? "") : "")
    }
}
