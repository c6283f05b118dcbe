/// Splits the text of a `#JOBQ` line into words the way a POSIX shell splits a simple command line, so
/// `#JOBQ --name "nightly build" --env 'GREETING=hi there'` means what it would mean after `jobq add`.
///
/// Blanks (spaces and tabs) separate words. `'…'` keeps its text literally; `"…"` keeps its text except that a
/// backslash before `"`, `\`, `$` or `` ` `` escapes it; outside quotes a backslash makes the next character
/// literal. Quoted and unquoted parts next to each other form one word (`--name=a' b'`), and `''` is an empty
/// word. A `#` at the start of a word begins a comment that runs to the end of the line. Nothing is expanded:
/// `$HOME`, `~`, `*` and `;` are ordinary characters.
public enum OptionWords {
    public static func split(_ text: Substring) throws(InputError) -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var scalars = text.unicodeScalars[...]
        while let scalar = scalars.popFirst() {
            switch scalar {
            case " ", "\t":
                if inWord { words.append(word) }
                word = ""
                inWord = false
            case "#" where !inWord:
                return words
            case "'":
                inWord = true
                let opening = scalars
                while true {
                    guard let next = scalars.popFirst() else { throw unterminated("single", opening) }
                    if next == "'" { break }
                    word.unicodeScalars.append(next)
                }
            case "\"":
                inWord = true
                let opening = scalars
                while true {
                    guard let next = scalars.popFirst() else { throw unterminated("double", opening) }
                    if next == "\"" { break }
                    guard next == "\\" else {
                        word.unicodeScalars.append(next)
                        continue
                    }
                    guard let escaped = scalars.popFirst() else { throw unterminated("double", opening) }
                    if !"\"\\$`".unicodeScalars.contains(escaped) { word.unicodeScalars.append("\\") }
                    word.unicodeScalars.append(escaped)
                }
            case "\\":
                guard let escaped = scalars.popFirst() else {
                    throw InputError("the options end with a lone backslash; remove it, or write \\\\ for a backslash")
                }
                inWord = true
                word.unicodeScalars.append(escaped)
            default:
                inWord = true
                word.unicodeScalars.append(scalar)
            }
        }
        if inWord { words.append(word) }
        return words
    }

    /// `rest` is the text after the opening quote, shown so the reader can find it.
    private static func unterminated(_ kind: String, _ rest: Substring.UnicodeScalarView.SubSequence) -> InputError {
        let quote = kind == "single" ? "'" : "\""
        let shown = rest.count > 20 ? String(rest.prefix(20)) + "…" : String(rest)
        return InputError("a \(kind) quote is never closed (it starts at \(quote)\(shown)); add the closing quote")
    }
}
