import CPosix
import CQuickAdd
import Glibc
@testable import JobStore
import Testing
import TestSupport

/// `jobq add -- COMMAND` with no job option goes to the daemon's socket straight from argv and
/// environ, before main (Sources/CQuickAdd); with an option it goes through the argument reading
/// of FastPath and AddRequest. Both must send the very same request and treat the answer the same way. A
/// stand-in daemon — a socket in the home that records what arrives and answers as told —
/// sees exactly what each sends.
@Suite struct QuickAddTests {
    let folder = TemporaryDirectory("quickadd")
    var home: String { folder.file("home") }

    init() {
        mkdir(home, 0o700)
        mkdir(home + "/run", 0o700)
    }

    /// A fixed environment (so that both runs send the same one, in the same order).
    let environment = ["HOME=/nowhere", "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "X=a b=c"]

    /// Runs `jobq ARGS` against a stand-in daemon that answers `answer` (nil: closes without
    /// answering). Returns the request it received (nil: none came) and the process's output.
    func exchange(_ arguments: [String], answer: [UInt8]?) throws -> (request: [UInt8]?, status: Int32?, output: String) {
        let socket = home + "/run/daemon.sock"
        unlink(socket)
        let listener = jq_unix_listen(socket)
        try #require(listener >= 0)
        defer {
            close(listener)
            unlink(socket)
        }
        let log = folder.file("output-\(arguments.count)-\(answer?.count ?? -1)")
        unlink(log)
        let child = JobQProcess.spawn(
            "/usr/bin/env", ["-i"] + environment + [JobQProcess.binary, "--home", home] + arguments, cwd: folder.path,
            captureOutput: false, logPath: log)
        // The client connects, or ends without connecting.
        var connection: Int32 = -1
        var exitStatus: Int32?
        let settled = waitUntil {
            connection = jq_unix_accept(listener)
            if connection >= 0 { return true }
            var status: Int32 = 0
            guard waitpid(child.pid, &status, WNOHANG) == child.pid else { return false }
            exitStatus = exitCode(ofWaitStatus: status)
            return true
        }
        try #require(settled)
        let request = connection >= 0 ? respond(on: connection, answer: answer) : nil
        let status = exitStatus ?? waitForExit(child.pid)
        // Whatever the answer, a job is sent once: never again by the path after the quick one.
        let again = jq_unix_accept(listener)
        #expect(again < 0, "\(arguments): sent a second time")
        if again >= 0 { close(again) }
        return (request, status, readFile(log) ?? "")
    }

    /// The stand-in daemon's side of one connection: reads the request, answers `answer` (nil:
    /// none), closes. Returns the request's payload (nil: the connection ended first).
    private func respond(on connection: Int32, answer: [UInt8]?) -> [UInt8]? {
        defer { close(connection) }
        _ = jq_set_blocking(connection)
        _ = jq_socket_timeout(connection, 10_000)
        let request = readRequest(connection)
        if let answer { _ = AddWire.frame(answer).withUnsafeBytes { send(connection, $0.baseAddress, $0.count, 0) } }
        return request
    }

    /// A whole framed request's payload (nil: the connection ended first).
    private func readRequest(_ fd: Int32) -> [UInt8]? {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let (payload, _) = AddWire.unframe(received) { return payload }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            received += chunk[0..<n]
        }
    }

    @Test func sendsWhatTheOrdinaryPathSends() throws {
        let command = ["/bin/echo", "a b", "ü", "--not-an-option", ""]
        let ok = NulSeparated.encode(["ok", "41"])
        let quick = try exchange(["add", "--"] + command, answer: ok)
        // `--priority 0` is the default, but an option: FastPath and AddRequest send this one.
        let ordinary = try exchange(["add", "--priority", "0", "--"] + command, answer: ok)
        let request = try #require(quick.request)
        #expect(request == ordinary.request)
        let spec = try #require(AddWire.decode(request))
        #expect(spec.payload == .command(command))
        #expect(spec.cwd == folder.path)
        #expect(spec.environment == environment)
        #expect(spec.priority == 0 && spec.maxRetries == 0 && spec.runAfter == 0 && spec.name == nil)
        #expect(quick.status == 0 && quick.output == "41\n")
        #expect(ordinary.status == 0 && ordinary.output == "41\n")
    }

    @Test func printsTheIdAsJSONToo() throws {
        let ok = NulSeparated.encode(["ok", "9223372036854775806"])
        for arguments in [["add", "--json", "--", "true"], ["add", "--json", "--retries", "0", "--", "true"]] {
            let result = try exchange(arguments, answer: ok)
            #expect(result.status == 0)
            #expect(result.output == "{\"ids\":[9223372036854775806]}\n", "\(arguments)")
        }
    }

    @Test func aRefusalIsTheDaemonsMessage() throws {
        let refusal = NulSeparated.encode(["error", "the disk is full; nothing was changed"])
        for arguments in [["add", "--", "true"], ["add", "--retries", "0", "--", "true"]] {
            let result = try exchange(arguments, answer: refusal)
            #expect(result.status == 1)
            #expect(result.output == "jobq: the disk is full; nothing was changed\n", "\(arguments)")
        }
    }

    @Test func noAnswerSaysTheJobMayHaveBeenAdded() throws {
        for arguments in [["add", "--", "true"], ["add", "--retries", "0", "--", "true"]] {
            let result = try exchange(arguments, answer: nil)
            #expect(result.status == 1)
            #expect(result.output.contains("did not answer; it may or may not have been added"), "\(result.output)")
        }
        // A garbled answer is no answer either.
        let garbled = try exchange(["add", "--", "true"], answer: Array("ok\u{0}4x\u{0}".utf8))
        #expect(garbled.status == 1 && garbled.output.contains("did not answer"))
    }

    /// A daemon killed with `kill -9` leaves its socket file behind, where nobody listens: `jobq
    /// add`, quick form or not, then writes the job to the database itself, once.
    @Test func aSocketNobodyListensOnMeansTheAddWritesItself() throws {
        let socket = home + "/run/daemon.sock"
        let listener = jq_unix_listen(socket)
        try #require(listener >= 0)
        close(listener)  // The file stays; connecting to it is refused.
        defer { unlink(socket) }
        for (arguments, id) in [(["add", "--", "true"], 1), (["add", "--priority", "3", "--", "true"], 2)] {
            let result = JobQProcess.run(arguments, home: home)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(result.stdout == "\(id)\n", "\(arguments)")
        }
        let store = try SQLiteStore(path: home + "/jobq.db", create: false)
        let first = try #require(try store.job(JobID(rawValue: 1)))
        let second = try #require(try store.job(JobID(rawValue: 2)))
        #expect(first.state == .queued && first.payload == .command(["true"]))
        #expect(second.state == .queued && second.priority == 3)
        #expect(try store.job(JobID(rawValue: 3)) == nil)
    }

    @Test func anEmptyCommandIsNeverSent() throws {
        let result = try exchange(["add", "--", ""], answer: NulSeparated.encode(["ok", "1"]))
        #expect(result.request == nil)
        #expect(result.status == 1 && result.output.contains("the command is empty"), "\(result.output)")
    }

    @Test func homeBeforeOrAfterTheCommandName() throws {
        let ok = NulSeparated.encode(["ok", "5"])
        // `--home` as the harness puts it (first), and once more after `add` (the last one wins).
        let result = try exchange(["add", "--home=" + home, "--", "true"], answer: ok)
        #expect(result.status == 0 && result.output == "5\n")
        #expect(result.request.flatMap(AddWire.decode)?.payload == .command(["true"]))
    }

    // MARK: The quick path itself, in this process

    /// What `jq_quick_add` did with `jobq --home HOME ARGUMENTS` and `environment`.
    struct QuickResult {
        var status: Int
        var output: String
        var message: String?
        var home: String?
    }

    func quickAdd(_ arguments: [String], environment: [String]) throws -> QuickResult {
        let argv = (["jobq", "--home", home] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var ends: [Int32] = [-1, -1]
        try #require(jq_pipe_cloexec(&ends) == 0)
        var outcome = jq_quick_add_outcome()
        var argvCopy = argv
        var envpCopy = envp
        let status = jq_quick_add(Int32(argv.count - 1), &argvCopy, &envpCopy, ends[1], &outcome)
        close(ends[1])
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while case let n = chunk.withUnsafeMutableBytes({ read(ends[0], $0.baseAddress, $0.count) }), n > 0 {
            output += chunk[0..<n]
        }
        close(ends[0])
        return QuickResult(
            status: Int(status), output: String(decoding: output, as: UTF8.self),
            message: outcome.message.map { String(cString: $0) }, home: outcome.home.map { String(cString: $0) })
    }

    /// A stand-in daemon on `listener` for one connection: the request's payload it received.
    func serveOnce(_ listener: Int32, answer: [UInt8]) -> [UInt8]? {
        var connection: Int32 = -1
        guard waitUntil({ connection = jq_unix_accept(listener); return connection >= 0 }) else { return nil }
        return respond(on: connection, answer: answer)
    }

    /// It sends the job as AddWire.request writes it and prints the id as `jobq add` does; a
    /// refusal it leaves for main, with the home; another form, or no daemon, and it sends nothing.
    @Test func theQuickPathSendsWhatAddWireWritesAndPrintsTheId() throws {
        let command = ["/bin/echo", "a b", "ü", "--not-an-option"]
        let environment = ["A=1", "B=x y"]
        let expected = AddWire.encode(
            JobSpec(payload: .command(command), cwd: currentDirectory(), environment: environment))
        let withoutDaemon = try quickAdd(["add", "--"] + command, environment: environment)
        #expect(withoutDaemon.status == JQ_ADD_UNAVAILABLE)

        let socket = home + "/run/daemon.sock"
        let listener = jq_unix_listen(socket)
        try #require(listener >= 0)
        defer {
            close(listener)
            unlink(socket)
        }
        for other in [["add", "--priority", "1", "--"], ["add"], ["list", "--"], ["add", "--home", "--json", "--"]] {
            let result = try quickAdd(other + command, environment: environment)
            #expect(result.status == JQ_ADD_UNAVAILABLE, "\(other)")
        }
        let connected: Int32 = jq_unix_accept(listener)
        #expect(connected < 0, "none of those connected")

        let added = OnNewThread { serveOnce(listener, answer: NulSeparated.encode(["ok", "77"])) }
        let result = try quickAdd(["add", "--json", "--"] + command, environment: environment)
        #expect(added.result() == expected)
        #expect(result.status == JQ_ADD_ADDED)
        #expect(result.output == "{\"ids\":[77]}\n")

        let refused = OnNewThread { serveOnce(listener, answer: NulSeparated.encode(["error", "no room"])) }
        let refusal = try quickAdd(["add", "--"] + command, environment: environment)
        #expect(refused.result() == expected)
        #expect(refusal.status == JQ_ADD_REFUSED)
        #expect(refusal.output.isEmpty)
        #expect(refusal.message == "no room")
        #expect(refusal.home == home)
    }

    /// The home it sends to is the one Home.resolve finds — or it leaves the add to main (a
    /// relative path, which Home.resolve makes absolute with the working directory).
    @Test func theQuickPathFindsTheHomeAsHomeResolveDoes() {
        final class Variables {
            let values: [String: String]
            var copies: [UnsafeMutablePointer<CChar>] = []
            init(_ values: [String: String]) { self.values = values }
            deinit { copies.forEach { free($0) } }
        }
        let read: jq_variable_reader = { name, context in
            let variables = Unmanaged<Variables>.fromOpaque(context!).takeUnretainedValue()
            guard let value = variables.values[String(cString: name!)], let copy = strdup(value) else { return nil }
            variables.copies.append(copy)
            return UnsafePointer(copy)
        }
        let choices: [String?] = [nil, "", "/", "/a/b", "rel"]
        var quick = 0
        for explicit in choices {
            for jobqHome in choices {
                for stateHome in choices {
                    for userHome in choices {
                        var values: [String: String] = [:]
                        values["JOBQ_HOME"] = jobqHome
                        values["XDG_STATE_HOME"] = stateHome
                        values["HOME"] = userHome
                        let variables = Variables(values)
                        var path = [CChar](repeating: 0, count: 4096)
                        let found = withExtendedLifetime(variables) {
                            jq_quick_add_home(explicit, read, Unmanaged.passUnretained(variables).toOpaque(), &path, path.count)
                        }
                        let resolved = Home.resolve(explicit: explicit, environment: values).path
                        let quickPath = path.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                        // Home.resolve made the chosen value absolute with the working directory
                        // ("rel" for --home or $JOBQ_HOME), or left it relative ($HOME=rel).
                        let relativeChosen = resolved.hasSuffix("/rel") || !resolved.hasPrefix("/")
                        #expect((found == 0) == relativeChosen, "\(String(describing: explicit)) \(values)")
                        if found != 0 {
                            quick += 1
                            #expect(quickPath == resolved, "\(String(describing: explicit)) \(values)")
                        }
                    }
                }
            }
        }
        #expect(quick >= 400)  // of 625: all but those where a relative path is chosen
    }
}
