import CPosix
import Glibc

/// What a finished process printed and how it ended.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
}

/// Runs the built `jobq` binary (or any program) as a real child process.
public enum JobQProcess {
    /// The `jobq` built next to the test bundle (.build/<config>/jobq).
    public static let binary: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        precondition(count > 0)
        let exe = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let directory = exe.split(separator: "/").dropLast().joined(separator: "/")
        return "/" + directory + "/jobq"
    }()

    /// Runs `jobq ARGS` with `--home` first, waits for it, and returns its output.
    public static func run(
        _ arguments: [String], home: String?, stdin: String = "", environment: [String: String] = [:],
        cwd: String? = nil
    ) -> ProcessResult {
        var arguments = arguments
        if let home { arguments = ["--home", home] + arguments }
        return runProgram(binary, arguments, stdin: stdin, environment: environment, cwd: cwd)
    }

    /// Spawns `path ARGS` with the test's environment plus `environment`, feeds `stdin`,
    /// collects stdout and stderr, and waits for it to end.
    public static func runProgram(
        _ path: String, _ arguments: [String], stdin: String = "", environment: [String: String] = [:],
        cwd: String? = nil
    ) -> ProcessResult {
        let child = spawn(path, arguments, environment: environment, cwd: cwd, captureOutput: true)
        var input = Array(stdin.utf8)
        var outputs: [[UInt8]] = [[], []]
        var fds = [child.stdin, child.stdout, child.stderr]
        if input.isEmpty {
            close(fds[0])
            fds[0] = -1
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while fds[1] >= 0 || fds[2] >= 0 || fds[0] >= 0 {
            var polls = fds.enumerated().map { index, fd in
                pollfd(fd: fd, events: Int16(index == 0 ? POLLOUT : POLLIN), revents: 0)
            }
            if poll(&polls, nfds_t(polls.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[0] >= 0 && polls[0].revents != 0 {
                let n = input.withUnsafeBytes { write(fds[0], $0.baseAddress, $0.count) }
                if n > 0 { input.removeFirst(n) }
                if n < 0 || input.isEmpty {
                    close(fds[0])
                    fds[0] = -1
                }
            }
            for index in 1...2 where fds[index] >= 0 && polls[index].revents != 0 {
                let n = read(fds[index], &buffer, buffer.count)
                if n > 0 {
                    outputs[index - 1] += buffer[0..<n]
                } else if n == 0 || errno != EINTR {
                    close(fds[index])
                    fds[index] = -1
                }
            }
        }
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
        return ProcessResult(
            status: exitCode(ofWaitStatus: status), stdout: String(decoding: outputs[0], as: UTF8.self),
            stderr: String(decoding: outputs[1], as: UTF8.self))
    }

    public struct Child {
        public var pid: pid_t
        public var stdin: Int32
        public var stdout: Int32
        public var stderr: Int32
    }

    /// Starts a process without waiting. With `captureOutput`, its stdio are pipes (the caller
    /// must drain them); without, stdin is /dev/null and stdout/stderr go to `logPath` (or
    /// /dev/null).
    public static func spawn(
        _ path: String, _ arguments: [String], environment: [String: String] = [:], cwd: String? = nil,
        captureOutput: Bool, logPath: String? = nil
    ) -> Child {
        var merged: [String: String] = [:]
        var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                merged[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        for (key, value) in environment { merged[key] = value }
        let envStrings = merged.map { "\($0.key)=\($0.value)" }

        var stdinPipe: [Int32] = [-1, -1]
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if captureOutput {
            jq_pipe_cloexec(&stdinPipe)
            jq_pipe_cloexec(&stdoutPipe)
            jq_pipe_cloexec(&stderrPipe)
            posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
            posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            let log = logPath ?? "/dev/null"
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        if let cwd { jq_spawn_file_actions_addchdir(&actions, cwd) }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = envStrings.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        precondition(rc == 0, "cannot start \(path): \(rc)")
        if captureOutput {
            close(stdinPipe[0])
            close(stdoutPipe[1])
            close(stderrPipe[1])
        }
        return Child(pid: pid, stdin: stdinPipe[1], stdout: stdoutPipe[0], stderr: stderrPipe[0])
    }
}
