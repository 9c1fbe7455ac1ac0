import ArgumentParser

/// `rill`: developer tools for Rill applications.
@main
struct RillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rill",
        abstract: "Developer tools for Rill stream-processing applications.",
        subcommands: [DevBroker.self, Describe.self])
}
