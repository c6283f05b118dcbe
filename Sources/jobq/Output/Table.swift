/// A plain-text table: a header row and columns padded to their widest cell. The last column
/// is cut to the terminal's width when there is one.
///
/// Widths count Unicode scalars (cheap, and right for the ASCII that job tables mostly hold);
/// lines are built as bytes, since a `list` of 10,000 jobs renders 80,000 cells.
struct Table {
    let headers: [String]
    private(set) var rows: [[String]] = []

    init(_ headers: [String]) { self.headers = headers }

    mutating func append(_ row: [String]) { rows.append(row) }

    func render(width: Int?) -> [String] {
        var lines: [String] = []
        render(width: width) { lines.append(String(decoding: $0, as: UTF8.self)) }
        return lines
    }

    /// Calls `emit` with each line's bytes (no newline).
    func render(width: Int?, emit: ([UInt8]) -> Void) {
        var widths = headers.map(\.unicodeScalars.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count - 1 {
                widths[index] = max(widths[index], cell.unicodeScalars.count)
            }
        }
        var line: [UInt8] = []
        for row in [headers] + rows {
            line.removeAll(keepingCapacity: true)
            var columns = 0
            for (index, cell) in row.enumerated() {
                line.append(contentsOf: cell.utf8)
                let cellWidth = cell.unicodeScalars.count
                columns += cellWidth
                if index < row.count - 1 {
                    let padding = widths[index] - cellWidth + 2
                    line.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
                    columns += padding
                }
            }
            if let width, columns > width, width > 1 {
                let text = String(decoding: line, as: UTF8.self)
                line = Array((String(text.unicodeScalars.prefix(width - 1)) + "…").utf8)
            }
            emit(line)
        }
    }
}
