import Foundation
import XCTest

/// `rill dev-broker` started as its own process for a test, stopped with SIGTERM at the end.
final class DevBrokerProcess {
    let process = Process()
    let bootstrapServers: String

    /// Starts the broker with `topics` ("name:partitions") and reads its first line.
    init(topics: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let binary = try Self.rillBinary()
        process.executableURL = binary
        process.arguments = ["dev-broker"] + topics.flatMap { ["--topic", $0] }
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line is the contract: bootstrap.servers=127.0.0.1:PORT
        var firstLine = Data()
        let handle = stdout.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            firstLine.append(byte)
        }
        let text = String(decoding: firstLine, as: UTF8.self)
        guard text.hasPrefix("bootstrap.servers=127.0.0.1:") else {
            process.terminate()
            throw TestSetupError("dev-broker's first line was '\(text)'")
        }
        bootstrapServers = String(text.dropFirst("bootstrap.servers=".count))
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }

    /// The `rill` executable next to the test bundle (`swift build --build-tests` builds it).
    static func rillBinary() throws -> URL { try builtExecutable("rill") }

    /// An executable of this package, built next to the test bundle.
    static func builtExecutable(_ name: String) throws -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw TestSetupError("the \(name) executable is not built next to the tests (run `swift build --build-tests` first)")
    }
}

/// A failure to set up a test's environment; it fails the test.
struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
