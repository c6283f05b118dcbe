import JobStore

/// `jobq add [--home DIR] [OPTIONS] -- COMMAND…` without the argument parser.
///
/// Every `jobq add` is a process start, and building swift-argument-parser's command tree
/// (reflection over every subcommand) costs more than the rest of an enqueue together. This
/// reads the common form directly — the same option names, each value checked by the same
/// `JobOptions.set` — and leaves everything else (task files, --stdin, --help, any mistake) to
/// the argument parser, so usage errors and help look the same either way.
enum FastAdd {
    /// The request, or nil when the arguments are not of the simple form.
    static func request(_ arguments: [String], now: Int64) -> AddRequest? {
        var home: String?
        var options = JobOptions()
        var json = false
        var sawAdd = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                let command = Array(arguments[(index + 1)...])
                guard sawAdd, !command.isEmpty else { return nil }
                return AddRequest(
                    home: Home.resolve(explicit: home), options: options,
                    what: .command(command), json: json)
            }
            if argument == "add" && !sawAdd {
                sawAdd = true
                index += 1
                continue
            }
            if argument == "--json" && sawAdd {
                json = true
                index += 1
                continue
            }
            // --flag VALUE or --flag=VALUE
            var flag = argument
            var value: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                flag = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            guard flag == "--home" || (sawAdd && JobOptions.flags.contains(flag)) else { return nil }
            if value == nil {
                guard index + 1 < arguments.count else { return nil }
                value = arguments[index + 1]
                index += 1
            }
            index += 1
            if flag == "--home" {
                home = value
            } else {
                do { try options.set(flag, value!, now: now) } catch { return nil }
            }
        }
        return nil
    }
}
