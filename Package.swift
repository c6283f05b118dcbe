// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "jobq",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "jobq", targets: ["jobq"]),
        .library(name: "JobStore", targets: ["JobStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // libsqlite3 as a system library (see Sources/CSQLite/shim.h).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The few POSIX calls Swift cannot make directly (variadic, macros, _np spawn actions).
        .target(name: "CPosix"),
        // `jobq add -- COMMAND` handed to a running daemon before main (linked into jobq only).
        .target(name: "CQuickAdd", dependencies: ["CPosix"]),
        // Turns schema.sql at the repository root into a Swift string at build time.
        .executableTarget(name: "SchemaEmbedder"),
        .plugin(
            name: "EmbedSchema",
            capability: .buildTool(),
            dependencies: ["SchemaEmbedder"]
        ),
        .target(
            name: "JobStore",
            dependencies: [
                "CSQLite",
                "CPosix",
                .product(name: "Logging", package: "swift-log"),
            ],
            plugins: ["EmbedSchema"]
        ),
        .executableTarget(
            name: "jobq",
            dependencies: [
                "JobStore",
                "CPosix",
                "CQuickAdd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers the test targets share: temporary folders, waiting on a condition, running
        // the built binary.
        .target(name: "TestSupport", dependencies: ["CPosix", "JobStore"], path: "Tests/TestSupport"),
        .testTarget(
            name: "JobStoreTests",
            dependencies: ["JobStore", "CSQLite", "CPosix", "TestSupport"]
        ),
        .testTarget(
            name: "jobqTests",
            dependencies: ["jobq", "JobStore", "CPosix", "CQuickAdd", "TestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
