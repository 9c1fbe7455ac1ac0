import Foundation
import Logging
import Rill
import RillKafka

/// Produces a sample app's input traffic on a thread of its own.
public protocol DemoGenerator: AnyObject {
    func start()
    func stop()
}

/// Reads a sample app's outputs and renders them as lines of text.
public protocol DemoView: AnyObject {
    /// Reads what arrived since the last call (waiting at most about 100 ms).
    func poll() throws
    /// The current frame.
    func render(streams: KafkaStreams, elapsed: TimeInterval) -> [String]
    func close()
}

/// A sample app's demo: the embedded broker, its topics, the app on it, a traffic generator and a
/// live view that refreshes in place until `q`, Ctrl-C or SIGTERM.
public struct DemoRunner {
    public var topics: [String]
    public var partitions: Int32 = 4
    public var seconds: Int?

    public init(topics: [String], seconds: Int?) {
        self.topics = topics
        self.seconds = seconds
    }

    public func run(
        topology: Topology, config: (String) throws -> StreamsConfig, generator: (String) throws -> DemoGenerator,
        view: (String) throws -> DemoView
    ) throws {
        let stop = SignalWatch()
        let broker = try EmbeddedKafka(brokers: 1)
        for topic in topics { try broker.createTopic(topic, partitions: partitions) }
        let streams = try KafkaStreams(topology, config: try config(broker.bootstrapServers))
        try streams.start()
        let traffic = try generator(broker.bootstrapServers)
        traffic.start()
        let live = try view(broker.bootstrapServers)
        let terminal = Terminal()
        let started = Date()
        var lastDraw = Date.distantPast
        let interval: TimeInterval = terminal.isInteractive ? 0.5 : 5
        while !stop.requested && streams.state != .error {
            if let key = terminal.readKey(), key == "q" || key == "Q" { break }
            try live.poll()
            let elapsed = Date().timeIntervalSince(started)
            if Date().timeIntervalSince(lastDraw) >= interval {
                lastDraw = Date()
                terminal.draw(live.render(streams: streams, elapsed: elapsed) + ["", terminal.isInteractive ? "q or Ctrl-C to stop" : ""])
            }
            if let seconds, elapsed >= Double(seconds) { break }
        }
        terminal.restore()
        traffic.stop()
        streams.close()
        live.close()
        withExtendedLifetime(broker) {}
        if let failure = streams.failure { throw DemoError("the app stopped: \(failure)") }
    }
}

struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A consumer reading every partition of some topics from the start, for live views and tests.
public final class TopicReader {
    private let consumer: KafkaConsumer

    public init(bootstrapServers: String, topics: [String], partitions: Int32) throws {
        consumer = try KafkaConsumer(
            config: KafkaClientConfig([
                "bootstrap.servers": bootstrapServers, "group.id": "rill-view-\(UUID().uuidString)",
                "enable.auto.commit": "false",
            ]))
        var assignment: [TopicPartition: Int64] = [:]
        for topic in topics {
            for partition in 0..<partitions { assignment[TopicPartition(topic: topic, partition: partition)] = -2 }
        }
        try consumer.assign(assignment)
    }

    /// Records that arrived, waiting at most `timeoutMs` for the first.
    public func poll(timeoutMs: Int32) throws -> [ConsumedRecord] {
        try consumer.poll(max: 10_000, timeoutMs: timeoutMs)
    }

    public func close() { consumer.close() }
}
