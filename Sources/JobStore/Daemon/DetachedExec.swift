import CPosix
#if canImport(Glibc)
import Glibc
#endif

/// A job started by `Spawn.startDetached`, whose exec has not been reported yet: what the child
/// still reads from our memory (its stack block and its strings, kept here) and the pipe that
/// reports how its exec went.
public final class DetachedExec {
    /// Readable once the exec is reported (EOF: it happened; an errno: it failed).
    public let fd: Int32
    let program: String
    let cwd: String?
    /// What the child reads until its exec: argv, path and cwd, environment.
    let strings: [CStrings]
    /// Whether the program's path came from `ProgramPaths` (forgotten if the exec fails).
    let pathVariable: String
    let programs: ProgramPaths?

    public enum Outcome: Equatable {
        case execed
        case failed(String)
    }

    init(fd: Int32, program: String, cwd: String?, strings: [CStrings], pathVariable: String, programs: ProgramPaths?) {
        self.fd = fd
        self.program = program
        self.cwd = cwd
        self.strings = strings
        self.pathVariable = pathVariable
        self.programs = programs
        _ = jq_set_nonblocking(fd)
    }

    deinit { close(fd) }

    /// The outcome, once reported (nil: not yet). After the child was reaped it is always there.
    public func outcome() -> Outcome? {
        var report: (step: Int32, error: Int32) = (0, 0)
        while true {
            let n = withUnsafeMutableBytes(of: &report) { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return .execed }
            if n == MemoryLayout<(Int32, Int32)>.size {
                programs?.forget(program, pathVariable: pathVariable, cwd: cwd)
                return .failed(Self.describe(step: Int(report.step), error: report.error, program: program, cwd: cwd))
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return nil }
            return .failed("cannot run \(program): its start could not be confirmed")
        }
    }

    /// What a failed start reports, as a sentence for `jobq errors`: the step says which it was.
    static func describe(step: Int, error: Int32, program: String, cwd: String?) -> String {
        switch step {
        case JQ_DETACHED_STEP_CWD: return "cannot use working directory \(cwd ?? "?"): \(systemError(error))"
        case JQ_DETACHED_STEP_EXEC: return "cannot run \(program): \(systemError(error))"
        default: return "cannot start \(program): \(systemError(error))"
        }
    }
}

extension Spawn {
    /// Whether `path` is still a program (a remembered path is checked before a detached start:
    /// its exec failing later is no occasion to look the program up again).
    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }

    /// Whether `startDetached` works on this machine (x86_64 and aarch64 Linux).
    public static let canStartDetached = jq_spawn_detached_supported() == 1

    /// Starts a job as `start` does, without waiting for its exec (vfork's wait is most of a
    /// short job's start): the caller goes on while the child execs, and learns how that went
    /// from the returned `DetachedExec` — which, and `block` (`blockSize` bytes, the child's
    /// stack), must live until then.
    public static func startDetached(
        _ argv: [String], environment: CStrings, cwd: String?, stdout: Int32, stderr: Int32,
        programs: ProgramPaths?, block: UnsafeMutableRawPointer, blockSize: Int
    ) -> (pid: pid_t, exec: DetachedExec)? {
        guard let program = argv.first, !program.isEmpty else { return nil }
        let pathVariable = pathVariable(of: environment)
        var path: String
        if let known = programs?.path(of: program, pathVariable: pathVariable, cwd: cwd), isExecutableFile(known) {
            path = known
        } else {
            programs?.forget(program, pathVariable: pathVariable, cwd: cwd)
            guard case .success(let found) = resolve(program, pathVariable: pathVariable, cwd: cwd) else { return nil }
            path = found
        }
        let cArgv = CStrings(argv)
        let places = CStrings([path, cwd ?? ""])
        var pid: pid_t = 0
        var report: Int32 = -1
        let rc = jq_spawn_detached(
            &pid, &report, places.pointers[0], cArgv.pointers, environment.pointers, cwd == nil ? nil : places.pointers[1],
            stdout, stderr, 1, getpid(), block, blockSize)
        guard rc == 0 else { return nil }
        programs?.remember(program, at: path, pathVariable: pathVariable, cwd: cwd)
        let exec = DetachedExec(
            fd: report, program: program, cwd: cwd, strings: [cArgv, places, environment], pathVariable: pathVariable,
            programs: programs)
        return (pid, exec)
    }
}
