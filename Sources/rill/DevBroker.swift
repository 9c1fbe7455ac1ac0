import ArgumentParser
import Foundation
import RillKafka

/// `rill dev-broker`: the embedded Kafka broker (librdkafka's mock cluster) as its own process.
struct DevBroker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-broker",
        abstract: "Run an in-memory Kafka-protocol broker for development and tests.",
        discussion: """
            Prints 'bootstrap.servers=127.0.0.1:PORT' as its first line, then serves until SIGINT or SIGTERM.
            Topics named with --topic are created with the given partition count; any other topic is created
            with 4 partitions when first used. Data lives in memory only, and each partition keeps at most
            about 5 MiB or 100,000 message sets (older data is dropped).
            """)

    @Option(help: "Number of brokers in the cluster.")
    var brokers: Int = 1

    @Option(name: .customLong("topic"), help: "A topic to create, as NAME or NAME:PARTITIONS (repeatable).")
    var topics: [String] = []

    func validate() throws {
        guard brokers >= 1 else { throw ValidationError("--brokers must be at least 1, got \(brokers)") }
        for spec in topics { _ = try TopicSpec(spec) }
    }

    func run() throws {
        let broker = try EmbeddedKafka(brokers: brokers)
        for spec in topics {
            let topic = try TopicSpec(spec)
            try broker.createTopic(topic.name, partitions: topic.partitions)
        }
        FileHandle.standardOutput.write(Data("bootstrap.servers=\(broker.bootstrapServers)\n".utf8))
        waitForTerminationSignal()
        withExtendedLifetime(broker) {}
    }
}

/// `NAME` or `NAME:PARTITIONS`.
struct TopicSpec {
    let name: String
    let partitions: Int32

    init(_ spec: String) throws {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty, parts.count <= 2 else {
            throw ValidationError("--topic '\(spec)' must be NAME or NAME:PARTITIONS")
        }
        name = String(first)
        if parts.count == 2 {
            guard let count = Int32(parts[1]), count >= 1 else {
                throw ValidationError("--topic '\(spec)': PARTITIONS must be a number >= 1")
            }
            partitions = count
        } else {
            partitions = 4
        }
    }
}

/// Blocks until SIGINT or SIGTERM.
func waitForTerminationSignal() {
    let semaphore = DispatchSemaphore(value: 0)
    var sources: [DispatchSourceSignal] = []
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler { semaphore.signal() }
        source.resume()
        sources.append(source)
    }
    semaphore.wait()
    withExtendedLifetime(sources) {}
}
