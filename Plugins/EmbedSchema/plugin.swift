import PackagePlugin

/// Embeds `schema.sql` from the package root into the target as `EmbeddedSchema.swift`, so the
/// root file stays the one source of the schema and the binary needs no resource at run time.
@main
struct EmbedSchema: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let schema = context.package.directoryURL.appending(path: "schema.sql")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSchema.swift")
        return [
            .buildCommand(
                displayName: "Embedding schema.sql",
                executable: try context.tool(named: "SchemaEmbedder").url,
                arguments: [schema.path(percentEncoded: false), output.path(percentEncoded: false)],
                inputFiles: [schema],
                outputFiles: [output]
            )
        ]
    }
}
