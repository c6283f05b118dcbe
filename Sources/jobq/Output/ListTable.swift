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
        for job in jobs {
            let result = job.resultSummary
            let runtime = JobPresentation.runtime(startedAt: job.startedAt, finishedAt: job.finishedAt,
                                                  running: job.state == .running, now: now)
            widths[0] = max(widths[0], digits(job.id.rawValue))
            widths[1] = max(widths[1], job.state.rawValue.utf8.count)
            widths[2] = max(widths[2], job.name?.unicodeScalars.count ?? 1 + digits(job.id.rawValue))
            widths[3] = max(widths[3], String(job.priority).utf8.count)
            widths[4] = max(widths[4], result.utf8.count)
            widths[5] = max(widths[5], 19)
            widths[6] = max(widths[6], runtime.utf8.count)
            results.append(result)
            runtimes.append(runtime)
        }
        var line: [UInt8] = []
        // Cells of digits and keywords are ASCII: their width is their byte count. Only a name
        // may hold other characters, and is measured in scalars.
        func cell(_ text: String, column: Int, ascii: Bool = true) {
            line += text.utf8
            let pad = widths[column] - (ascii ? text.utf8.count : text.unicodeScalars.count) + 2
            line.append(contentsOf: repeatElement(UInt8(ascii: " "), count: pad))
        }
        for (index, header) in Self.headers.enumerated() {
            if index == Self.headers.count - 1 { line += header.utf8 } else { cell(header, column: index) }
        }
        emit(&line, to: &terminal, width: width)
        var lastSecond: Int64 = .min
        var lastTime = ""
        for (index, job) in jobs.enumerated() {
            cell(String(job.id.rawValue), column: 0)
            cell(job.state.rawValue, column: 1)
            cell(job.displayName, column: 2, ascii: false)
            cell(String(job.priority), column: 3)
            cell(results[index], column: 4)
            // Jobs added together share their second: format each second once.
            let second = job.enqueuedAt / 1000
            if second != lastSecond {
                lastSecond = second
                lastTime = TimeParser.formatLocal(milliseconds: job.enqueuedAt)
            }
            cell(lastTime, column: 5)
            cell(runtimes[index], column: 6)
            job.appendCommandSummary(to: &line)
            emit(&line, to: &terminal, width: width)
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

    private func digits(_ value: Int64) -> Int {
        var count = 1
        var rest = value / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        return count
    }
}
