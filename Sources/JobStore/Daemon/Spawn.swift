import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// Starting processes: a job (its own session, stdin /dev/null, stdout/stderr to its log files,
/// default signal dispositions, its captured cwd and environment), a worker, or a detached
/// `jobq copy-log` (`LogCopyHandOff`).
public enum Spawn {
    /// What a spawn produced: the running child, or why it could not start.
    public enum Result: Sendable {
        case started(pid_t)
        case failed(String)
    }

    /// Starts `argv` with `environment` in `cwd`, resolving argv[0] on the *job's* PATH (not
    /// ours), with stdout/stderr on the given descriptors and `extraFDs` as 3, 4, …. A job is
    /// started `diesWithParent` (SIGKILL when its worker dies); a worker, which must outlive the
    /// daemon, and a `copy-log`, which outlives its `add`, are not.
    public static func start(
        _ argv: [String], environment: [String], cwd: String?, stdout: Int32, stderr: Int32, extraFDs: [Int32] = [],
        diesWithParent: Bool = true
    ) -> Result {
        start(
            argv, environment: CStrings(environment), cwd: cwd, stdout: stdout, stderr: stderr, extraFDs: extraFDs,
            diesWithParent: diesWithParent)
    }

    /// `start` with the environment already in C form (a worker keeps it from job to job: jobs
    /// of one `add` share one), and, for a worker, its memory of where programs are.
    public static func start(
        _ argv: [String], environment: CStrings, cwd: String?, stdout: Int32, stderr: Int32, extraFDs: [Int32] = [],
        diesWithParent: Bool = true, programs: ProgramPaths? = nil
    ) -> Result {
        guard let program = argv.first, !program.isEmpty else { return .failed("the command is empty") }
        let pathVariable = pathVariable(of: environment)
        var remembered = false
        var path: String
        if let known = programs?.path(of: program, pathVariable: pathVariable, cwd: cwd) {
            (path, remembered) = (known, true)
        } else {
            switch resolve(program, pathVariable: pathVariable, cwd: cwd) {
            case .success(let found): path = found
            case .failure(let failure): return .failed(diagnosis(cwd: cwd) ?? failure.text)
            }
        }
        let cArgv = CStrings(argv)
        var pid: pid_t = 0
        func spawn() -> Int32 {
            extraFDs.withUnsafeBufferPointer { extra in
                jq_spawn(&pid, path, cArgv.pointers, environment.pointers, cwd, stdout, stderr, extra.baseAddress,
                         Int32(extra.count), diesWithParent ? 1 : 0)
            }
        }
        var rc = spawn()
        if rc != 0 && remembered {
            // What was remembered may be gone: look again.
            programs?.forget(program, pathVariable: pathVariable, cwd: cwd)
            switch resolve(program, pathVariable: pathVariable, cwd: cwd) {
            case .success(let found): path = found
            case .failure(let failure): return .failed(diagnosis(cwd: cwd) ?? failure.text)
            }
            rc = spawn()
        }
        // The working directory is checked only when something failed (the child's chdir
        // would have failed too): a stat less for every job that starts.
        guard rc == 0 else { return .failed(diagnosis(cwd: cwd) ?? "cannot run \(program): \(systemError(rc))") }
        programs?.remember(program, at: path, pathVariable: pathVariable, cwd: cwd)
        return .started(pid)
    }

    /// The PATH a job's program is looked up on: its own.
    static func pathVariable(of environment: CStrings) -> String {
        environment.strings.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/local/bin:/usr/bin:/bin"
    }

    /// Why `cwd` cannot be a job's working directory, or nil when it can.
    static func diagnosis(cwd: String?) -> String? {
        guard let cwd else { return nil }
        var info = stat()
        guard stat(cwd, &info) == 0 else { return "cannot use working directory \(cwd): \(systemError(errno))" }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return "cannot use working directory \(cwd): not a folder" }
        return nil
    }

    /// Why a process could not be started, as a sentence for `jobq errors`.
    public struct Failure: Error, Sendable {
        public let text: String
    }

    /// `program` as a path to execute: as given when it contains a slash, else the first
    /// executable match on the job's PATH (relative entries against the job's cwd).
    static func resolve(_ program: String, pathVariable: String, cwd: String?) -> Swift.Result<String, Failure> {
        if program.contains("/") { return .success(program) }
        for directory in pathVariable.split(separator: ":", omittingEmptySubsequences: false) {
            var base = directory.isEmpty ? "." : String(directory)
            if !base.hasPrefix("/"), let cwd { base = cwd + "/" + base }
            let candidate = base + "/" + program
            if isExecutableFile(candidate) {
                return .success(candidate)
            }
        }
        return .failure(Failure(text: "command not found: \(program) (not in the job's PATH)"))
    }

    /// The path of the running executable (for starting workers from the same binary).
    public static func currentExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return CommandLine.arguments[0] }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// A NULL-terminated array of C strings (an argv or envp), freed with it. The array is allocated
/// here, not a Swift array's storage: a job started detached reads it after the call that
/// passed it returned (`Spawn.startDetached`).
public final class CStrings {
    public let strings: [String]
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    public init(_ strings: [String]) {
        self.strings = strings
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
        pointers[strings.count] = nil
    }

    deinit {
        for index in 0..<strings.count { free(pointers[index]) }
        pointers.deallocate()
    }
}

/// The argv that runs a job's payload. A script is run from `scriptPath`, where the caller
/// wrote it: directly when it starts with `#!` (the kernel runs its interpreter), else with
/// /bin/sh. The tutorial's message form prints its message, then sleeps.
public func commandLine(for payload: Payload, scriptPath: String?) -> [String] {
    switch payload {
    case .command(let argv):
        return argv
    case .script(let text):
        let path = scriptPath ?? "/dev/null"
        return text.hasPrefix("#!") ? [path] : ["/bin/sh", path]
    case .message(let text, let seconds):
        return ["/bin/sh", "-c", "printf '%s\\n' \"$1\"; exec sleep \"$2\"", "jobq-message", text, formatSeconds(seconds)]
    }
}
