import Foundation
import CoreMetrics
import Synchronization
import Logging
import Rill
@_exported import RillHTTP
import RillKafka

/// Produces a sample app's input traffic on a thread of its own.
public protocol DemoGenerator: AnyObject {
    func start()
    func stop()
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

    /// Runs the demo; with `web`, also serves the app's endpoint and live page (`--http-port`).
    public func run(
        topology: Topology, config: (String) throws -> StreamsConfig, generator: (String) throws -> DemoGenerator,
        live app: LiveApp, web: WebFront?
    ) throws {
        let stop = SignalWatch()
        let broker = try EmbeddedKafka(brokers: 1)
        for topic in topics { try broker.createTopic(topic, partitions: partitions) }
        let streams = try KafkaStreams(
            topology, config: try config(broker.bootstrapServers), metricsFactory: web?.metricsFactory ?? MetricsSystem.factory)
        try streams.start()
        let traffic = try generator(broker.bootstrapServers)
        traffic.start()
        let live = LiveFeed(try app.view(broker.bootstrapServers))
        let serverFailure = ServerFailure()
        let server = web.map { web in
            let server = web.server(streams: streams, app: app, feed: live)
            return Task.detached {
                do { try await server.run() } catch is CancellationError {} catch {
                    serverFailure.note("the web endpoint on port \(web.port) stopped: \(error)")
                }
            }
        }
        defer { server?.cancel() }
        var webLine: [String] {
            serverFailure.message.map { [$0] } ?? web.map { ["web view and endpoint: http://localhost:\($0.port)/"] } ?? []
        }
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
                terminal.draw(
                    live.view.render(streams: streams, elapsed: elapsed) + [""] + webLine
                        + [terminal.isInteractive ? "q or Ctrl-C to stop" : ""])
            }
            if let seconds, elapsed >= Double(seconds) { break }
        }
        terminal.restore()
        traffic.stop()
        streams.close()
        live.view.close()
        withExtendedLifetime(broker) {}
        if let failure = streams.failure { throw DemoError("the app stopped: \(failure)") }
    }
}

/// Why the demo's web endpoint stopped, if it did (a port in use), for the live view to say.
private final class ServerFailure: Sendable {
    private let noted = Mutex<String?>(nil)
    func note(_ message: String) { noted.withLock { $0 = message } }
    var message: String? { noted.withLock { $0 } }
}

struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A consumer reading every partition of some topics from the start, for live views and tests.
/// One thread polls it at a time; it may be handed between threads.
public final class TopicReader: @unchecked Sendable {
    private let consumer: KafkaConsumer

    public init(bootstrapServers: String, topics: [String]) throws {
        consumer = try KafkaConsumer(
            config: KafkaClientConfig([
                "bootstrap.servers": bootstrapServers, "group.id": "rill-view-\(UUID().uuidString)",
                "enable.auto.commit": "false",
            ]))
        var assignment: [TopicPartition: Int64] = [:]
        for topic in topics {
            let partitions = try consumer.partitionCount(topic: topic, timeoutMs: 10_000) ?? 1
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
