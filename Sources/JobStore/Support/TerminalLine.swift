extension ByteWriter {
    /// Cuts the line that starts at `lineStart` and ends this buffer (with its "\n") to `width`
    /// characters when it is wider, its last character then "…": a table on a terminal. Counted
    /// in Unicode scalars, as the text reads when decoded (invalid UTF-8 repaired).
    public mutating func cutLine(startingAt lineStart: Int, toWidth width: Int) {
        guard width > 1, count - 1 - lineStart > width else { return }
        let text = String(decoding: bytes(lineStart..<count - 1), as: UTF8.self)
        guard text.unicodeScalars.count > width else { return }
        truncate(to: lineStart)
        append(String(text.unicodeScalars.prefix(width - 1)) + "…\n")
    }
}
