import JobStore

/// The table of `jobq list`, written straight into bytes. Same look as `Table`: columns padded
/// to their widest cell, the command last (cut to the terminal's width on a terminal).
///
/// Jobs are added as the store reads them: each cell is copied once, into one arena (`cells`),
/// and the column widths kept up to date; `write` then lays the cells out with their padding.
/// Nothing is made per job — no string, no array — so 10,000 jobs take a few milliseconds.
struct ListTable: ~Copyable {
    static let headers = ["ID", "STATE", "NAME", "PRI", "RESULT", "ENQUEUED", "RUNTIME", "COMMAND"]
    private static let nameColumn = 2

    let now: Int64
    /// Every cell of every row, the headers first, one after the other. Room is reserved for a
    /// big table up front: pages never written are never touched, and growing would copy.
    private var cells = ByteWriter(capacity: 1 << 22)
    /// Where each cell ends in `cells`: `headers.count` per row (32 bits, half the pages to fault in:
    /// a table of up to 4 GiB; `add` refuses to go past that).
    private var cellEnds: [UInt32] = []
    private var tooLarge = false
    private var lastCellEnd = 0
    /// Each column's widest cell, in characters (the last column is not padded). Inline, not an
    /// array: it changes for every cell, and an array would check its uniqueness each time.
    private var widths = InlineArray<8, Int>(repeating: 0)
    /// Short jobs share a handful of run times ("1ms", "2ms"…): each is formatted once.
    private var formattedRuntimes: [Int64: [UInt8]] = [:]
    /// Jobs added together share their second: each second is formatted once.
    private var lastSecond: Int64 = .min
    private var lastTime: [UInt8] = []

    init(now: Int64) {
        self.now = now
        cellEnds.reserveCapacity(1 << 19)
        for (column, header) in Self.headers.enumerated() {
            cells.append(header)
            endCell(column)
        }
    }

    mutating func add(_ job: JobSummary) throws {
        let id = job.id.rawValue
        let state = job.state
        cells.appendDecimal(id)
        endCell(0)
        switch state {
        case .queued: cells.append(literal: "queued")
        case .running: cells.append(literal: "running")
        case .done: cells.append(literal: "done")
        case .failed: cells.append(literal: "failed")
        }
        endCell(1)
        if let name = job.name {
            cells.append(name)
            endCell(Self.nameColumn, characters: Self.characters(in: name))
        } else {
            cells.append(UInt8(ascii: "#"))  // displayName: `#ID`
            cells.appendDecimal(id)
            endCell(Self.nameColumn)
        }
        cells.appendDecimal(Int64(job.priority))
        endCell(3)
        job.appendResult(to: &cells, state: state)
        endCell(4)
        let enqueuedAt = job.enqueuedAt
        if enqueuedAt / 1000 != lastSecond {
            lastSecond = enqueuedAt / 1000
            lastTime = Array(TimeParser.formatLocal(milliseconds: enqueuedAt).utf8)
        }
        cells.append(lastTime)
        endCell(5)
        if let milliseconds = JobPresentation.runtimeMilliseconds(
            startedAt: job.startedAt, finishedAt: job.finishedAt, running: state == .running, now: now)
        {
            cells.append(runtime(milliseconds))
        }
        endCell(6)
        job.appendCommandSummary(to: &cells)
        endCell(7)
        if tooLarge {
            throw CommandFailure("the table would be larger than 4 GiB: list fewer jobs (--limit, --state) or use --json")
        }
    }

    private mutating func runtime(_ milliseconds: Int64) -> [UInt8] {
        if let known = formattedRuntimes[milliseconds] { return known }
        let text = Array(DurationParser.format(milliseconds: milliseconds).utf8)
        if formattedRuntimes.count < 4096 { formattedRuntimes[milliseconds] = text }
        return text
    }

    /// Ends the cell of `column` being written; it is as wide as its bytes unless said otherwise.
    private mutating func endCell(_ column: Int, characters: Int? = nil) {
        let end = cells.count
        if column < Self.headers.count - 1 {
            let used = characters ?? end - lastCellEnd
            if used > widths[column] { widths[column] = used }
        }
        guard let end32 = UInt32(exactly: end) else {
            tooLarge = true
            return
        }
        cellEnds.append(end32)
        lastCellEnd = end
    }

    func write(to terminal: inout Terminal, width: Int?) {
        let columns = Self.headers.count
        // A line is its cells plus at most each padded column's width and gap, plus "\n".
        var padding = 1
        for column in 0..<columns - 1 { padding += widths[column] + 2 }
        let arena = cells.bytes
        var out = ByteWriter(capacity: 1 << 16)
        cellEnds.withUnsafeBufferPointer { ends in
            var start = 0
            for row in 0..<ends.count / columns {
                let lineStart = out.count
                let rowEnds = UnsafeBufferPointer(rebasing: ends[row * columns..<(row + 1) * columns])
                out.append(atMost: Int(rowEnds[columns - 1]) - start + padding) { line in
                    var position = 0
                    for column in 0..<columns {
                        let end = Int(rowEnds[column])
                        let cell = UnsafeRawBufferPointer(rebasing: arena[start..<end])
                        start = end
                        UnsafeMutableRawPointer(line + position).copyMemory(from: cell.baseAddress!, byteCount: cell.count)
                        position += cell.count
                        guard column < columns - 1 else { break }
                        let used = column == Self.nameColumn ? Self.characters(in: cell) : cell.count
                        let gap = widths[column] - used + 2
                        (line + position).initialize(repeating: UInt8(ascii: " "), count: gap)
                        position += gap
                    }
                    line[position] = UInt8(ascii: "\n")
                    return position + 1
                }
                if let width { out.cutLine(startingAt: lineStart, toWidth: width) }
                if out.count >= 1 << 16 {
                    terminal.write(out.bytes)
                    out.removeAll()
                }
            }
        }
        terminal.write(out.bytes)
    }

    /// Characters of UTF-8 text: its bytes that start one (a name may hold any; the other cells
    /// are digits and keywords, as wide as their bytes).
    private static func characters(in text: UnsafeRawBufferPointer) -> Int {
        var count = 0
        for byte in text where byte & 0xC0 != 0x80 { count += 1 }
        return count
    }
}
