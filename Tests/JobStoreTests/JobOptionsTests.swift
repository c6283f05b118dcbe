import Testing

@testable import JobStore

@Suite struct JobOptionsTests {
    private let now: Int64 = 1_795_915_973_000  // 2026-11-29T01:32:53Z

    private func options(_ pairs: [(String, String)]) throws -> JobOptions {
        var options = JobOptions()
        for (flag, value) in pairs { try options.set(flag, value, now: now) }
        return options
    }

    private func problem(_ pairs: [(String, String)]) -> String? {
        let error = #expect(throws: InputError.self) { _ = try options(pairs) }
        return error?.message
    }

    @Test func setsEveryOption() throws {
        let options = try options([
            ("--name", "nightly build ✓"), ("--priority", "-5"), ("--cwd", "data"), ("--env", "A=1"),
            ("--env", "B=two=2"), ("--timeout", "10m"), ("--retries", "2"), ("--after", "41, #42"),
            ("--after", "42,43"), ("--delay", "90s"),
        ])
        #expect(options.name == "nightly build ✓")
        #expect(options.priority == -5)
        #expect(options.cwd == "data")
        #expect(options.environment == ["A=1", "B=two=2"])
        #expect(options.timeoutMilliseconds == 600_000)
        #expect(options.maxRetries == 2)
        #expect(options.after == [JobID(41), JobID(42), JobID(43)])
        #expect(options.runAfter == now + 90_000)
    }

    @Test func acceptsTheLimits() throws {
        let name = String(repeating: "é", count: 127) + "x"
        #expect(try options([("--name", name)]).name == name)
        #expect(try options([("--priority", "1000000")]).priority == JobOptions.maximumPriority)
        #expect(try options([("--priority", "-1000000")]).priority == -JobOptions.maximumPriority)
        #expect(try options([("--retries", "0")]).maxRetries == 0)
        #expect(try options([("--retries", "100")]).maxRetries == JobOptions.maximumRetries)
        #expect(try options([("--delay", "0")]).runAfter == now)
        #expect(try options([("--env", "_x9=")]).environment == ["_x9="])
        #expect(try options([("--at", "@1795916000")]).runAfter == 1_795_916_000_000)
        #expect(try options([("--at", "2026-12-01T00:00Z")]).runAfter == 1_796_083_200_000)
    }

    @Test func laterValuesWinAndDelayOrAtMayRepeat() throws {
        let options = try options([
            ("--priority", "1"), ("--priority", "2"), ("--delay", "1m"), ("--delay", "2m"), ("--name", "a"),
        ])
        #expect(options.priority == 2)
        #expect(options.runAfter == now + 120_000)
        #expect(try self.options([("--at", "@1795916000"), ("--at", "@1795917000")]).runAfter == 1_795_917_000_000)
    }

    @Test(
        arguments: [
            ([("--name", "")], "--name needs a name of 1 to 255 bytes"),
            ([("--name", String(repeating: "é", count: 128))], "is 256 bytes long; use at most 255"),
            ([("--name", "a\nb")], "--name 'a\\nb' contains a control character"),
            ([("--name", "a\tb")], "control character"), ([("--name", "a\0b")], "control character"),
            ([("--name", "a\u{7F}")], "control character"),
            ([("--priority", "x")], "--priority needs a whole number from -1000000 to 1000000, not 'x'"),
            ([("--priority", "1000001")], "not '1000001'"), ([("--priority", "1.5")], "whole number"),
            ([("--priority", "")], "whole number"), ([("--cwd", "")], "--cwd needs a directory"),
            ([("--cwd", "a\0b")], "NUL"), ([("--cwd", "~/data")], "does not expand"),
            ([("--env", "NOVALUE")], "--env needs KEY=VALUE, not 'NOVALUE'"), ([("--env", "=x")], "KEY of letters"),
            ([("--env", "1A=x")], "not '1A=x'"), ([("--env", "A-B=x")], "KEY of letters"),
            ([("--env", "É=x")], "KEY of letters"), ([("--env", "A=x\0y")], "NUL"),
            ([("--timeout", "0")], "--timeout needs a duration greater than zero, e.g. 10m, not '0'"),
            ([("--timeout", "10x")], "--timeout: '10x' is not a duration; use e.g. 90s, 10m, 1h30m, 2d"),
            ([("--timeout", "400d")], "--timeout: '400d' is longer than 366 days"),
            ([("--retries", "x")], "--retries needs a whole number from 0 to 100, not 'x'"),
            ([("--retries", "101")], "not '101'"), ([("--retries", "-1")], "not '-1'"),
            ([("--after", "x")], "--after needs job ids such as 42 or 41,#42, not 'x'"),
            ([("--after", "0")], "not '0'"),
            ([("--after", "1,,2")], "not '1,,2'"), ([("--after", "1,")], "job ids"), ([("--after", "1 2")], "job ids"),
            ([("--after", "-3")], "job ids"), ([("--after", "")], "job ids"),
            ([("--delay", "-1s")], "--delay: '-1s' is negative"), ([("--delay", "soon")], "--delay: 'soon' is not a"),
            ([("--at", "soon")], "--at: 'soon' is not a time"), ([("--at", "2030-01-01")], "more than 366 days"),
            ([("--delay", "1m"), ("--at", "23:00")], "--delay and --at cannot be used together"),
            ([("--at", "23:00"), ("--delay", "1m")], "--delay and --at cannot be used together"),
            (
                [("--foo", "x")],
                "unknown option '--foo'; use --name, --priority, --cwd, --env, --timeout, --retries, "
                    + "--after, --delay, --at"
            ),
            ([("-n", "x")], "unknown option '-n'"), ([("name", "x")], "unknown option 'name'"),
            ([("--json", "")], "unknown option '--json'"),
        ] as [([(String, String)], String)])
    func rejects(pairs: [(String, String)], fragment: String) {
        let message = problem(pairs)
        #expect(message?.contains(fragment) == true, "\(message ?? "no error")")
        #expect(message?.contains("\n") == false)
    }

    @Test func appliesWordsInBothSpellings() throws {
        var options = JobOptions()
        try options.apply(
            words: [
                "--timeout", "10m", "--retries=2", "--priority", "-5", "--env=A=b=c", "--name", "--weird",
                "--at=@1795916000",
            ],
            now: now)
        #expect(options.timeoutMilliseconds == 600_000)
        #expect(options.maxRetries == 2)
        #expect(options.priority == -5)
        #expect(options.environment == ["A=b=c"])
        #expect(options.name == "--weird")
        #expect(options.runAfter == 1_795_916_000_000)
        var empty = JobOptions()
        try empty.apply(words: [], now: now)
        #expect(empty == JobOptions())
    }

    @Test(
        arguments: [
            (["--timeout"], "--timeout needs a value, e.g. --timeout 10m"),
            (["--retries", "2", "--after"], "--after needs a value"),
            (["timeout", "10m"], "expected an option such as --timeout 10m, not 'timeout'"), (["-t", "1"], "not '-t'"),
            (["--foo"], "unknown option '--foo'"), (["--foo=1"], "unknown option '--foo'"),
            (["--timeout="], "--timeout: a duration cannot be empty"), (["--retries", "2", "7"], "not '7'"),
            (["--delay", "1m", "--at", "10:00"], "--delay and --at cannot be used together"),
        ] as [([String], String)])
    func rejectsWords(words: [String], fragment: String) {
        var options = JobOptions()
        let error = #expect(throws: InputError.self) { try options.apply(words: words, now: now) }
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error")")
    }

    @Test func commandLineFlagsOverrideTheFile() throws {
        let file = try options([
            ("--name", "from-file"), ("--priority", "3"), ("--timeout", "1h"), ("--retries", "1"), ("--env", "A=file"),
            ("--env", "B=file"), ("--after", "7"), ("--delay", "1m"), ("--cwd", "/srv"),
        ])
        let command = try options([("--priority", "9"), ("--env", "A=cli"), ("--at", "@1795916000")])
        let merged = file.overridden(by: command)
        #expect(merged.name == "from-file")
        #expect(merged.priority == 9)
        #expect(merged.timeoutMilliseconds == 3_600_000)
        #expect(merged.maxRetries == 1)
        #expect(merged.environment == ["A=file", "B=file", "A=cli"])
        #expect(merged.after == [JobID(7)])
        #expect(merged.runAfter == 1_795_916_000_000)
        #expect(merged.cwd == "/srv")
        #expect(file.overridden(by: JobOptions()) == file)
        #expect(JobOptions().overridden(by: command) == command)
        let afterOverride = file.overridden(by: try options([("--after", "8,9")]))
        #expect(afterOverride.after == [JobID(8), JobID(9)])
    }

    @Test func aRejectedValueChangesNothing() throws {
        var options = try options([("--after", "1"), ("--env", "A=1")])
        let before = options
        for (flag, value) in [("--after", "2,x"), ("--env", "1=2"), ("--priority", "x"), ("--delay", "-1")] {
            #expect(throws: InputError.self) { try options.set(flag, value, now: now) }
        }
        #expect(options == before)
    }

    @Test func overridingDelayWithAtIsNotAConflict() throws {
        var merged = try options([("--delay", "1m")]).overridden(by: try options([("--at", "@1795916000")]))
        #expect(merged.runAfter == 1_795_916_000_000)
        try merged.set("--at", "@1795917000", now: now)
        #expect(merged.runAfter == 1_795_917_000_000)
        #expect(throws: InputError.self) { try merged.set("--delay", "1m", now: now) }
    }

    @Test func specMergesTheEnvironment() throws {
        let options = try options([
            ("--env", "PATH=/opt/bin"), ("--env", "NEW=1"), ("--env", "NEW=2"), ("--env", "a=x"),
        ])
        let spec = options.spec(
            payload: .command(["true"]), cwd: "/home/u", environment: ["PATH=/usr/bin", "HOME=/home/u", "Z=z", "ODD"])
        #expect(spec.environment == ["HOME=/home/u", "NEW=2", "ODD", "PATH=/opt/bin", "Z=z", "a=x"])
    }

    @Test func specFillsInDefaults() {
        // Without --env, the captured environment is kept as it is, in its order.
        let spec = JobOptions().spec(payload: .script("echo hi\n"), cwd: "/work", environment: ["B=2", "A=1"])
        let expected = JobSpec(payload: .script("echo hi\n"), cwd: "/work", environment: ["B=2", "A=1"])
        #expect(spec == expected)
        let withSource = JobOptions().spec(payload: .command(["x"]), cwd: "/", environment: [], source: "/s/1.task")
        #expect(withSource.source == "/s/1.task")
    }

    @Test func specCarriesTheOptions() throws {
        let options = try options([
            ("--name", "n"), ("--priority", "4"), ("--timeout", "5s"), ("--retries", "3"), ("--after", "2"),
            ("--delay", "1s"),
        ])
        let spec = options.spec(payload: .message("hi", seconds: 1), cwd: "/w", environment: [])
        #expect(spec.name == "n")
        #expect(spec.priority == 4)
        #expect(spec.timeoutMilliseconds == 5_000)
        #expect(spec.maxRetries == 3)
        #expect(spec.after == [JobID(2)])
        #expect(spec.runAfter == now + 1_000)
    }

    @Test(
        arguments: [
            (nil, "/home/u/proj", "/home/u/proj"), ("data", "/home/u/proj", "/home/u/proj/data"),
            ("./data/", "/home/u/proj", "/home/u/proj/data"), ("../other", "/home/u/proj", "/home/u/other"),
            ("../../../..", "/home/u", "/"), ("a//b/./c/..", "/x", "/x/a/b"), ("/abs/./path/../dir", "/x", "/abs/dir"),
            (".", "/x/", "/x"), ("/", "/x", "/"),
        ] as [(String?, String, String)])
    func specResolvesTheWorkingDirectory(option: String?, captured: String, expected: String) throws {
        var options = JobOptions()
        if let option { try options.set("--cwd", option, now: now) }
        #expect(options.spec(payload: .command(["pwd"]), cwd: captured, environment: []).cwd == expected)
    }
}
