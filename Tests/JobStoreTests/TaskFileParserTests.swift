import Testing
import TestSupport

@testable import JobStore

@Suite struct TaskFileParserTests {
    private let now: Int64 = 1_795_915_973_000  // 2026-11-29T01:32:53Z

    private func parse(_ text: String, file: String = "1.task") -> Result<TaskFile, TaskFileError> {
        TaskFileParser.parse(Array(text.utf8), file: file, now: now)
    }

    private func payload(_ text: String) -> Payload? {
        try? parse(text).get().payload
    }

    private func failure(_ bytes: [UInt8], file: String = "1.task") -> TaskFileError? {
        guard case .failure(let error) = TaskFileParser.parse(bytes, file: file, now: now) else { return nil }
        return error
    }

    private func failure(_ text: String, file: String = "1.task") -> TaskFileError? {
        failure(Array(text.utf8), file: file)
    }

    // MARK: The tutorial's form

    @Test func tutorialFilesAreMessages() throws {
        let files = [
            ("1.task", "I am the first task;7", "I am the first task", 7.0),
            ("2.task", "I am the second task;3\n", "I am the second task", 3.0),
            ("3.task", "I am the third task;2.5", "I am the third task", 2.5),
        ]
        for (name, text, message, seconds) in files {
            let file = try parse(text, file: name).get()
            #expect(file.payload == .message(message, seconds: seconds))
            #expect(file.options == JobOptions())
        }
    }

    @Test(
        arguments: [
            ("hello;0", "hello", 0.0), ("a;b;5", "a;b", 5.0), (" spaced ; 7 ", " spaced ", 7.0), (";7", "", 7.0),
            ("x;.5", "x", 0.5), ("x;007", "x", 7.0), ("x;\t7\t\n", "x", 7.0),
            ("say \"hi\" $HOME;1", "say \"hi\" $HOME", 1.0),
            ("x;31622400", "x", 31_622_400.0), ("# not a shebang;3", "# not a shebang", 3.0),
            ("héllo ✓;1", "héllo ✓", 1.0),
        ] as [(String, String, Double)])
    func messageForms(text: String, message: String, seconds: Double) {
        #expect(payload(text) == .message(message, seconds: seconds))
    }

    @Test(arguments: [
        "echo a;sleep 5", "echo hi", "hello;world", "#!/bin/sh;5", "a;5\nb", "a;5\n\n", "\na;5", "a;inf", "a;nan",
        "a;1e3", "a;5.", "a;+5", "a;5s", "a;0x10", "a; ", "a;", "7",
    ])
    func scriptsThatLookAlmostLikeMessages(text: String) {
        #expect(payload(text) == .script(text))
    }

    @Test(arguments: [
        ("a;-5", "negative"), ("a;-0.5\n", "negative"), ("a;31622400.5", "more than 366 days"),
        ("a;99999999999999999999999", "more than 366 days"),
    ])
    func badSecondsAreErrorsOnLineOne(text: String, fragment: String) {
        let error = failure(text)
        #expect(error?.line == 1)
        #expect(error?.problem.contains(fragment) == true, "\(error?.problem ?? "no error")")
    }

    // MARK: Scripts and #JOBQ lines

    @Test func scriptWithShebangAndOptions() throws {
        let text = """
            #!/bin/bash
            # nightly conversion
            #JOBQ --timeout 10m --retries 2
            #JOBQ --priority 5 --name "nightly convert"

              # an indented comment
            #JOBQ\t--env 'GREETING=hello world' --retries=3  # flaky network
            #JOBQ
            #JOBQX --not-an-option
            # JOBQ --not-an-option
              #JOBQ --not-an-option
            #JOBQ --delay 5m
            set -e
            echo "$GREETING"

            """
        let file = try parse(text).get()
        #expect(file.payload == .script(text))
        var expected = JobOptions()
        expected.timeoutMilliseconds = 600_000
        try expected.set("--retries", "3", now: now)
        try expected.set("--priority", "5", now: now)
        try expected.set("--name", "nightly convert", now: now)
        try expected.set("--env", "GREETING=hello world", now: now)
        try expected.set("--delay", "5m", now: now)
        #expect(file.options == expected)
        #expect(file.options.runAfter == now + 300_000)
    }

    @Test func scriptWithoutShebangOrOptions() throws {
        let file = try parse("cd /tmp\nmake -j2 ; echo done\n").get()
        #expect(file.payload == .script("cd /tmp\nmake -j2 ; echo done\n"))
        #expect(file.options == JobOptions())
        #expect(try parse("#JOBQ --retries 1\n").get().options.maxRetries == 1)
        #expect(try parse("#JOBQ --retries 1").get().options.maxRetries == 1)
    }

    @Test func laterJobqLinesWin() throws {
        let file = try parse("#JOBQ --priority 1 --timeout 1m\n#JOBQ --priority 2\ntrue\n").get()
        #expect(file.options.priority == 2)
        #expect(file.options.timeoutMilliseconds == 60_000)
    }

    @Test func commandLineOptionsOverrideTheFile() throws {
        let file = try parse("#JOBQ --priority 1 --timeout 1m --env A=file\ntrue\n").get()
        var flags = JobOptions()
        try flags.set("--priority", "9", now: now)
        try flags.set("--env", "A=cli", now: now)
        let spec = file.options.overridden(by: flags).spec(payload: file.payload, cwd: "/w", environment: ["A=0"])
        #expect(spec.priority == 9)
        #expect(spec.timeoutMilliseconds == 60_000)
        #expect(spec.environment == ["A=cli"])
    }

    @Test func jobqAfterTheFirstCommandIsAnError() {
        let error = failure("#!/bin/sh\n#JOBQ --retries 1\n\necho hi\n# fine\n#JOBQ --timeout 1m\n")
        #expect(error?.line == 6)
        #expect(error?.problem.contains("after the first command (line 4)") == true)
        #expect(error?.problem.contains("move #JOBQ lines above the first command") == true)
        #expect(failure("echo hi\n#JOBQX ok\n# JOBQ ok\n  #JOBQ ok\n") == nil)
    }

    @Test(
        arguments: [
            ("#JOBQ --foo 1\ntrue\n", 1, "unknown option '--foo'; use --name"),
            ("#!/bin/sh\n#JOBQ --retries x\n", 2, "--retries needs a whole number from 0 to 100, not 'x'"),
            (
                "#!/bin/sh\n\n#JOBQ --name 'unterminated\n", 3,
                "single quote is never closed (it starts at 'unterminated)"
            ),
            ("#JOBQ --name \"unterminated\n", 1, "double quote is never closed"),
            ("#JOBQ --timeout\n", 1, "--timeout needs a value"), ("#JOBQ timeout 1m\n", 1, "expected an option"),
            ("#JOBQ --delay 1m\n#JOBQ --at 23:00\n", 2, "--delay and --at cannot be used together"),
            ("#JOBQ --timeout 0\n", 1, "greater than zero"), ("#JOBQ --at 2031-01-01\n", 1, "more than 366 days"),
            ("#JOBQ --name x\\", 1, "lone backslash"),
        ] as [(String, Int, String)])
    func badJobqLines(text: String, line: Int, fragment: String) {
        let error = failure(text)
        #expect(error?.line == line)
        #expect(error?.problem.contains(fragment) == true, "\(error?.problem ?? "no error")")
        #expect(error?.description.hasPrefix("1.task: line \(line): ") == true)
    }

    // MARK: Files that are refused

    @Test func emptyFiles() {
        for text in ["", " ", "\n", " \t\n\n  \n"] {
            let error = failure(text, file: "x.task")
            #expect(error?.line == nil)
            #expect(error?.problem.hasPrefix("is empty") == true)
            #expect(error?.description.hasPrefix("x.task: is empty") == true)
        }
    }

    @Test func tooLarge() throws {
        let line = Array("# padding padding padding padding padding padding padding padding padding padding\n".utf8)
        var bytes = Array("echo big\n".utf8)
        while bytes.count + line.count <= TaskFileParser.maximumBytes { bytes += line }
        bytes += Array(repeating: UInt8(ascii: "#"), count: TaskFileParser.maximumBytes - bytes.count)
        #expect(bytes.count == TaskFileParser.maximumBytes)
        #expect(failure(bytes) == nil)
        bytes.append(UInt8(ascii: "\n"))
        let error = failure(bytes)
        #expect(error?.line == nil)
        #expect(error?.problem == "is 1048577 bytes, over the 1048576-byte (1 MiB) limit for task files")
    }

    @Test func binaryFiles() {
        let error = failure(Array("#!/bin/sh\necho a\nec".utf8) + [0] + Array("ho\n".utf8))
        #expect(error?.line == 3)
        #expect(error?.problem.contains("NUL byte") == true)
        #expect(error?.problem.contains("binary") == true)
        let elf: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00, 0xFF, 0x0A]
        #expect(failure(elf)?.line == 1)
        #expect(failure(elf)?.problem.contains("NUL byte") == true)
    }

    @Test(
        arguments: [
            ([0xFF], 1, 1), (Array("echo a\necho \u{e9}\nx".utf8) + [0xC3], 3, 2),
            (Array("ok\nb".utf8) + [0xC0, 0xAF], 2, 2),
            (Array("a\n\n".utf8) + [0xED, 0xA0, 0x80], 3, 1), (Array("a;5".utf8) + [0xE2, 0x82], 1, 4),
            ([0xF4, 0x90, 0x80, 0x80], 1, 1), (Array("x\n".utf8) + [0x80], 2, 1),
        ] as [([UInt8], Int, Int)])
    func notUTF8(bytes: [UInt8], line: Int, column: Int) {
        let error = failure(bytes)
        #expect(error?.line == line)
        #expect(error?.problem == "byte \(column) is not valid UTF-8; save the file as UTF-8")
    }

    @Test func windowsLineEndings() {
        for (text, line) in [
            ("I am the first task;7\r\n", 1), ("#!/bin/sh\r\necho a\r\n", 1), ("echo a\necho b\r\n", 2),
            ("echo a\necho b\r", 2),
        ] {
            let error = failure(text)
            #expect(error?.line == line)
            #expect(
                error?.problem
                    == "ends with a carriage return (Windows line endings); save the file with Unix line endings, "
                    + "e.g. dos2unix")
        }
        let lone = failure("echo a\necho\rb\n")
        #expect(lone?.line == 2)
        #expect(lone?.problem.contains("carriage return") == true)
    }

    // MARK: Properties

    /// Random bytes and random edits of valid files: the parser never traps, is deterministic, and every
    /// error's line number is a line of the file.
    @Test func neverTrapsAndLinesAreInRange() {
        var random = SplitMix64(seed: 2026)
        let seeds = [
            "I am the first task;7\n", "#!/bin/sh\n#JOBQ --timeout 10m --retries 2\necho hi\n",
            "#JOBQ --name 'a b' --env \"K=v w\" --after 1,#2 --at 23:00\n\ntrue;false\n", "x;2.5",
        ].map { Array($0.utf8) }
        let fragments =
            [
                "\n", "\r", "\0", ";", "#", "#JOBQ ", "#!", "'", "\"", "\\", " --delay 1m", " --at 10:00", " --timeout",
                "=", "-5", "9", ".", "é", "--priority 99999999", "#JOBQ --cwd ~", "\t",
            ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xED, 0xA0, 0x80]]
        for round in 0..<600 {
            var bytes: [UInt8]
            if round % 3 == 0 {
                let count = Int.random(in: 0..<64, using: &random)
                bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                bytes = seeds.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    let at = Int.random(in: 0...bytes.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: bytes.insert(contentsOf: fragments.randomElement(using: &random)!, at: at)
                    case 1: if at < bytes.count { bytes.remove(at: at) }
                    default: if at < bytes.count { bytes[at] = UInt8.random(in: 0...255, using: &random) }
                    }
                }
            }
            let result = TaskFileParser.parse(bytes, file: "r.task", now: now)
            #expect(result == TaskFileParser.parse(bytes, file: "r.task", now: now))
            let lineCount = bytes.filter { $0 == UInt8(ascii: "\n") }.count + (bytes.last == UInt8(ascii: "\n") ? 0 : 1)
            switch result {
            case .success(let file):
                if case .script(let text) = file.payload { #expect(Array(text.utf8) == bytes) }
            case .failure(let error):
                #expect(error.file == "r.task")
                #expect(!error.problem.isEmpty && !error.problem.contains("\n"))
                if let line = error.line { #expect((1...max(1, lineCount)).contains(line), "\(bytes)") }
            }
        }
    }
}

@Suite struct OptionWordsTests {
    @Test(
        arguments: [
            ("", []), ("   \t ", []), ("--a b", ["--a", "b"]), ("  --a \t b  ", ["--a", "b"]), ("'a b'", ["a b"]),
            (#"'a"b\c'"#, [#"a"b\c"#]), (#""a \"b\" \\ c \$d \x `e`""#, [#"a "b" \ c $d \x `e`"#]),
            (#"a\ b"#, ["a b"]), (#"--name=a' b'"c""#, ["--name=a bc"]), ("''", [""]), (#""""#, [""]),
            ("x '' y", ["x", "", "y"]), ("x # a comment", ["x"]), ("# all comment", []), ("a#b", ["a#b"]),
            ("'#' x", ["#", "x"]), (##"\#x"##, ["#x"]), ("é ✓", ["é", "✓"]), (#"\'"#, ["'"]),
            ("$HOME ~ * ;", ["$HOME", "~", "*", ";"]),
        ] as [(String, [String])])
    func splits(text: String, words: [String]) throws {
        #expect(try OptionWords.split(Substring(text)) == words)
    }

    @Test(arguments: [
        ("'abc", "single quote is never closed (it starts at 'abc); add the closing quote"),
        (#""abc"#, "double quote is never closed"),
        (#""abc\""#, "double quote is never closed"), (#"abc\"#, "lone backslash"), ("a 'b c", "never closed"),
    ])
    func rejects(text: String, fragment: String) {
        let error = #expect(throws: InputError.self) { try OptionWords.split(Substring(text)) }
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error")")
    }
}
