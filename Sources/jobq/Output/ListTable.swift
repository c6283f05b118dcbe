import JobStore

/// The table of `jobq list`, written straight into bytes: 10,000 jobs take a few milliseconds
/// this way, where building a string per cell took tens. Same look as `Table`: columns padded
/// to their widest cell, the command last (cut to the terminal's width on a terminal).
struct ListTable {
    static let headers = ["ID", "STATE", "NAME", "PRI", "RESULT", "ENQUEUED", "RUNTIME", "COMMAND"]

    let jobs: [JobSummary]
    let now: Int64

    func write(to terminal: inout Terminal, width: Int?) {
        // First pass: the cells whose width varies, and each column's width.
        var results: [String] = []
        var runtimes: [String] = []
        results.reserveCapacity(jobs.count)
        runtimes.reserveCapacity(jobs.count)
        var widths = Self.headers.map(\.utf8.count)
        // Short jobs share a handful of run times ("1ms", "2ms"…): each is formatted once.
        var formattedRuntimes: [Int64: String] = [:]
        // By index, reading fields in place: `for job in jobs` copied each summary (and retained
        // its name and payload) once per pass.
        for index in jobs.indices {
            let result = jobs[index].resultSummary
            var runtime = ""
            if let milliseconds = JobPresentation.runtimeMilliseconds(
                startedAt: jobs[index].startedAt, finishedAt: jobs[index].finishedAt,
                running: jobs[index].state == .running, now: now)
            {
                if let known = formattedRuntimes[milliseconds] {
                    runtime = known
                } else {
                    runtime = DurationParser.format(milliseconds: milliseconds)
                    if formattedRuntimes.count < 4096 { formattedRuntimes[milliseconds] = runtime }
                }
            }
            let id = jobs[index].id.rawValue
            widths[0] = max(widths[0], Self.digits(id))
            widths[1] = max(widths[1], jobs[index].state.rawValue.utf8.count)
            widths[2] = max(widths[2], jobs[index].name?.unicodeScalars.count ?? 1 + Self.digits(id))
            widths[3] = max(widths[3], Self.digits(Int64(jobs[index].priority)))
            widths[4] = max(widths[4], result.utf8.count)
            widths[5] = max(widths[5], 19)
            widths[6] = max(widths[6], runtime.utf8.count)
            results.append(result)
            runtimes.append(runtime)
        }
        // Every cell is copied in as bytes (no string per number, no per-byte append): this
        // runs 10,000 times for a 10,000-job history.
        var line = Line(widths: widths)
        for (index, header) in Self.headers.enumerated() {
            if index == Self.headers.count - 1 { line.append(header) } else { line.cell(header, column: index) }
        }
        emit(&line.bytes, to: &terminal, width: width)
        var lastSecond: Int64 = .min
        var lastTime = ""
        for index in jobs.indices {
            let id = jobs[index].id.rawValue
            line.cell(number: id, column: 0)
            line.cell(jobs[index].state.rawValue, column: 1)
            if let name = jobs[index].name {
                line.cell(name, column: 2, ascii: false)
            } else {
                line.cell(number: id, prefix: UInt8(ascii: "#"), column: 2)  // displayName: `#ID`
            }
            line.cell(number: Int64(jobs[index].priority), column: 3)
            line.cell(results[index], column: 4)
            // Jobs added together share their second: format each second once.
            let enqueuedAt = jobs[index].enqueuedAt
            let second = enqueuedAt / 1000
            if second != lastSecond {
                lastSecond = second
                lastTime = TimeParser.formatLocal(milliseconds: enqueuedAt)
            }
            line.cell(lastTime, column: 5)
            line.cell(runtimes[index], column: 6)
            jobs[index].appendCommandSummary(to: &line.bytes)
            emit(&line.bytes, to: &terminal, width: width)
        }
    }

    /// One line of the table being built, its cells padded to the column widths. (A struct and
    /// not nested functions over a local array: a captured variable is checked for exclusive
    /// access at run time on every use, which cost the list ~3 % of its instructions.)
    private struct Line {
        let widths: [Int]
        var bytes: [UInt8] = []

        init(widths: [Int]) {
            self.widths = widths
            bytes.reserveCapacity(256)
        }

        mutating func append(_ text: String) {
            if text.utf8.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) == nil { bytes += text.utf8 }
        }

        /// Cells of digits and keywords are ASCII: their width is their byte count. Only a name
        /// may hold other characters, and is measured in scalars.
        mutating func cell(_ text: String, column: Int, ascii: Bool = true) {
            append(text)
            pad(ascii ? text.utf8.count : text.unicodeScalars.count, column: column)
        }

        mutating func cell(number: Int64, prefix: UInt8? = nil, column: Int) {
            if let prefix { bytes.append(prefix) }
            appendDecimal(number, to: &bytes)
            pad(ListTable.digits(number) + (prefix == nil ? 0 : 1), column: column)
        }

        private mutating func pad(_ used: Int, column: Int) {
            for _ in 0..<max(0, widths[column] - used + 2) { bytes.append(UInt8(ascii: " ")) }
        }
    }

    private func emit(_ line: inout [UInt8], to terminal: inout Terminal, width: Int?) {
        if let width, width > 1, line.count > width {
            let text = String(decoding: line, as: UTF8.self)
            if text.unicodeScalars.count > width {
                line = Array((String(text.unicodeScalars.prefix(width - 1)) + "…").utf8)
            }
        }
        terminal.print(bytes: line)
        line.removeAll(keepingCapacity: true)
    }

    /// Characters of `value` in decimal (with its minus sign).
    private static func digits(_ value: Int64) -> Int {
        var count = value < 0 ? 2 : 1
        var rest = value.magnitude / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        return count
    }
}
