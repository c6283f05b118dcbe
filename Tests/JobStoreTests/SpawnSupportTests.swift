import CPosix
import Glibc
import Testing
import TestSupport

@testable import JobStore

/// The pieces a worker uses at every job start: /proc/PID/stat read by field number, the
/// remembered PATH lookups, and the byte test for a normalized path.
@Suite struct SpawnSupportTests {
    let folder = TemporaryDirectory("spawn")

    @Test func statFieldsByNumberMatchTheKernel() throws {
        let stat = try #require(ProcessStat(getpid()))
        #expect(stat.number(4) == Int64(getppid()))
        #expect(stat.number(5) == Int64(getpgrp()))
        #expect(stat.number(6) == Int64(getsid(0)))
        #expect(stat.number(3) == nil)  // the state is a letter
        #expect(stat.number(999) == nil)
        let fields = try #require(ProcessIdentity.statFields(of: getpid()))
        #expect(stat.number(22) == Int64(fields[19]))
        #expect(ProcessIdentity.startTime(of: getpid()) == Int64(fields[19]))
        #expect(ProcessStat(-1) == nil)
    }

    /// A process spawned between two readings of the boot clock that agree has the start time
    /// they read: the identity a worker takes without reading /proc is the one /proc gives.
    @Test func aSpawnBetweenTwoEqualBootTicksStartedAtThatTick() throws {
        var agreed = 0
        for _ in 0..<40 {
            let before = ProcessIdentity.bootTicks()
            let child = JobQProcess.spawn("/bin/sleep", ["30"], captureOutput: false)
            let after = ProcessIdentity.bootTicks()
            defer {
                kill(child.pid, SIGKILL)
                _ = waitForExit(child.pid)
            }
            let fromProc = try #require(ProcessIdentity.current(child.pid))
            #expect(ProcessIdentity.spawned(child.pid, bootTicksBefore: before, after: after) == fromProc)
            if before != nil && before == after { agreed += 1 }
        }
        #expect(agreed > 0)
    }

    /// A command name with spaces and parentheses does not shift the fields.
    @Test func aStrangeCommandNameDoesNotShiftTheFields() throws {
        let program = folder.file("a) b (c")
        try #require(symlink("/bin/sleep", program) == 0)
        let child = JobQProcess.spawn(program, ["30"], captureOutput: false)
        defer {
            kill(child.pid, SIGKILL)
            _ = waitForExit(child.pid)
        }
        let stat = try #require(ProcessStat(child.pid))
        #expect(String(decoding: stat.fields, as: UTF8.self).first == " ")
        #expect(stat.number(4) == Int64(getpid()))
        #expect(try #require(stat.number(22)) >= (try #require(ProcessIdentity.startTime(of: getpid()))))
    }

    @Test func normalizedPathsByTheirBytes() {
        for (path, normalized) in [
            ("/", true), ("/a/b", true), ("/a.b/..c/...", true), ("", false), ("a/b", false), ("/a/", false),
            ("//a", false), ("/a//b", false), ("/a/./b", false), ("/a/../b", false), ("/..", false), ("/.", false),
        ] {
            #expect(isNormalized(path) == normalized, "\(path)")
        }
    }

    /// A program is looked up on the job's PATH, remembered for a second, and looked up again
    /// when what was remembered is gone.
    @Test func programPathsAreRememberedBriefly() throws {
        let first = folder.file("first")
        let second = folder.file("second")
        mkdir(first, 0o755)
        mkdir(second, 0o755)
        folder.write("second/tool", "#!/bin/sh\nexit 0\n", mode: 0o755)
        var now: Int64 = 1_000
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        let programs = ProgramPaths(clock: { now })
        let environment = CStrings(["PATH=\(first):\(second)"])
        func start() throws -> String? {
            guard case .started(let pid) = Spawn.start(
                ["tool"], environment: environment, cwd: nil, stdout: devNull, stderr: devNull,
                programs: programs)
            else { return nil }
            #expect(waitForExit(pid) == 0)
            return programs.path(of: "tool", pathVariable: "\(first):\(second)", cwd: nil)
        }
        #expect(try start() == second + "/tool")
        // Installed earlier on the PATH: not seen while the lookup is remembered…
        folder.write("first/tool", "#!/bin/sh\nexit 0\n", mode: 0o755)
        #expect(try start() == second + "/tool")
        // … and seen a second later.
        now += ProgramPaths.lifetime
        #expect(try start() == first + "/tool")
        // Removed while remembered: found again where it still is.
        unlink(first + "/tool")
        #expect(try start() == second + "/tool")
        // A relative PATH folder makes the cwd part of what is remembered.
        #expect(programs.path(of: "tool", pathVariable: "bin", cwd: "/a") == nil)
        programs.remember("tool", at: "/a/bin/tool", pathVariable: "bin", cwd: "/a")
        #expect(programs.path(of: "tool", pathVariable: "bin", cwd: "/a") == "/a/bin/tool")
        #expect(programs.path(of: "tool", pathVariable: "bin", cwd: "/b") == nil)
        #expect(programs.path(of: "tool", pathVariable: "/x::/y", cwd: "/b") == nil)
        // A program given with a slash is not looked up at all.
        programs.remember("./tool", at: "./tool", pathVariable: "bin", cwd: "/a")
        #expect(programs.path(of: "./tool", pathVariable: "bin", cwd: "/a") == nil)
    }

    /// A job started detached: its exec is reported through the pipe — EOF once it happened, the
    /// error when it failed (then the child exits 127) — and one stack block serves start after
    /// start.
    @Test func aDetachedStartReportsItsExec() throws {
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        let block = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 64)
        defer { block.deallocate() }
        let notAProgram = folder.file("not-a-program")
        #expect(writeFile(notAProgram, [0x7f, 0x45, 0x4c, 0x46], mode: 0o755))
        let cases: [(argv: [String], cwd: String?, expected: String?)] =
            Array(repeating: (["true"], "/", nil), count: 50) + [
                (["sh", "-c", "exit 3"], nil, nil),
                ([notAProgram], "/", "cannot run \(notAProgram): Exec format error"),
                (["true"], folder.file("missing"), "cannot use working directory \(folder.file("missing"))"),
                (["true"], notAProgram, "cannot use working directory \(notAProgram): Not a directory"),
            ]
        guard Spawn.canStartDetached else { return }
        for (argv, cwd, expected) in cases {
            let started = try #require(
                Spawn.startDetached(
                    argv, environment: CStrings(["PATH=/usr/bin:/bin"]), cwd: cwd, stdout: devNull, stderr: devNull,
                    programs: ProgramPaths(), block: block, blockSize: 65536))
            var status: Int32 = 0
            #expect(waitpid(started.pid, &status, 0) == started.pid)
            // (Another thread of this test process may fork meanwhile, and hold the report's
            // write end until its own exec: the report can come a moment after the reap.)
            var outcome: DetachedExec.Outcome?
            #expect(waitUntil { outcome = started.exec.outcome(); return outcome != nil })
            guard let outcome else { continue }
            if let expected {
                guard case .failed(let text) = outcome else {
                    Issue.record("\(argv) in \(cwd ?? "-") started")
                    continue
                }
                #expect(text.hasPrefix(expected), "\(text)")
                #expect((status >> 8) & 0xff == 127)
            } else {
                #expect(outcome == .execed)
                #expect((status >> 8) & 0xff == (argv == ["true"] ? 0 : 3))
            }
        }
    }

    /// The child reports which step failed: a working directory it may not enter (say) is named as
    /// such even where the folder is there to see.
    @Test func aDetachedStartNamesTheStepThatFailed() {
        #expect(
            DetachedExec.describe(step: JQ_DETACHED_STEP_CWD, error: EACCES, program: "make", cwd: "/srv/build")
                == "cannot use working directory /srv/build: Permission denied")
        #expect(DetachedExec.describe(step: JQ_DETACHED_STEP_EXEC, error: ENOENT, program: "make", cwd: "/") == "cannot run make: No such file or directory")
        #expect(DetachedExec.describe(step: JQ_DETACHED_STEP_START, error: EMFILE, program: "make", cwd: nil) == "cannot start make: Too many open files")
    }

    @Test func aMissingWorkingDirectoryIsNamedWhateverElseFails() {
        let missing = folder.file("missing")
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        for program in ["true", "no-such-program-anywhere"] {
            guard case .failed(let text) = Spawn.start(
                [program], environment: CStrings(["PATH=/usr/bin:/bin"]), cwd: missing, stdout: devNull, stderr: devNull,
                programs: ProgramPaths())
            else {
                Issue.record("\(program) started in a missing folder")
                continue
            }
            #expect(text.hasPrefix("cannot use working directory \(missing)"), "\(text)")
        }
    }
}
