// Build tool: reads schema.sql and writes a Swift file holding its exact text and the schema
// version it declares (`PRAGMA user_version = N;`). Run by the EmbedSchema plugin.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func fail(_ message: String) -> Never {
    let line = "SchemaEmbedder: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

func readFile(_ path: String) -> String {
    guard let file = fopen(path, "rb") else { fail("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The number in a `PRAGMA NAME = N;` line of the schema text.
func declaredPragma(_ name: String, in schema: String) -> Int {
    for line in schema.split(separator: "\n") {
        let code = line.split(separator: "--", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let words = code.split(whereSeparator: { $0 == " " || $0 == "=" || $0 == ";" })
        if words.count == 3, words[0].uppercased() == "PRAGMA", words[1].lowercased() == name,
            let value = Int(words[2])
        {
            return value
        }
    }
    fail("schema.sql does not declare `PRAGMA \(name) = N;`")
}

let arguments = CommandLine.arguments
guard arguments.count == 3 else { fail("usage: SchemaEmbedder SCHEMA.sql OUTPUT.swift") }
let schema = readFile(arguments[1])
let version = declaredPragma("user_version", in: schema)
let applicationID = declaredPragma("application_id", in: schema)

// A raw string needs more `#` than the longest run of `#` that follows a quote in the text.
var hashes = "#"
while schema.contains("\"" + hashes) { hashes += "#" }

let output = """
    // Generated from schema.sql by the EmbedSchema plugin. Do not edit; edit schema.sql.

    enum EmbeddedSchema {
        /// The `user_version` that schema.sql declares.
        static let version = \(version)
        /// The `application_id` that schema.sql declares: marks a database as jobq's.
        static let applicationID: Int32 = \(applicationID)
        /// schema.sql, byte for byte.
        static let sql = \(hashes)\"\"\"
    \(schema)
    \"\"\"\(hashes)
    }

    """
guard let file = fopen(arguments[2], "wb") else { fail("cannot write \(arguments[2])") }
_ = output.withCString { fputs($0, file) }
fclose(file)
