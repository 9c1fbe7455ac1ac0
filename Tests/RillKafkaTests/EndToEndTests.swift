import Foundation
import Logging
import Rill
import RillKafka
import ServiceLifecycle
import XCTest

/// A stateless topology on a real broker process (`rill dev-broker`), checked record by record.
final class EndToEndTests: XCTestCase {
    static let recordCount = 100_000

    /// Keeps records whose number is not a multiple of 3, and tags their values.
    func statelessTopology(input: String, output: String) throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream(input, Consumed(.string, .int64))
            .filter { _, n in n % 3 != 0 }
            .mapValues { n in "v\(n)" }
            .to(output, Produced(.string, .string))
        return try builder.build()
    }

    func config(_ app: String, _ servers: String) -> StreamsConfig {
        testConfig(app, servers, commitIntervalMs: 200)
    }

    func produceNumbers(_ servers: String, topic: String, count: Int) throws {
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers, "linger.ms": "10"]))
        for n in 0..<count {
            try producer.send(
                topic: topic, partition: nil, key: Array("k\(n % 97)".utf8), value: Serde<Int64>.int64.serialize(Int64(n)),
                timestamp: Int64(1_000_000 + n), headers: Headers())
        }
        try producer.flush(timeoutMs: 30_000)
    }

    /// The expected output: one record per input number not divisible by 3.
    func expectedOutput(count: Int) -> [String: Int] {
        var expected: [String: Int] = [:]
        for n in 0..<count where n % 3 != 0 { expected["k\(n % 97)|v\(n)", default: 0] += 1 }
        return expected
    }

    /// Reads `topic` from the beginning until `expected` records arrived or the deadline passed.
    func readAll(_ servers: String, topic: String, partitions: Int32, expected: Int, timeout: TimeInterval = 60)
        throws -> [String: Int]
    {
        let consumer = try KafkaConsumer(
            config: KafkaClientConfig([
                "bootstrap.servers": servers, "group.id": "reader-\(UUID().uuidString)", "enable.auto.commit": "false",
            ]))
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<partitions).map {
            (TopicPartition(topic: topic, partition: $0), Int64(-2))
        }))
        var seen: [String: Int] = [:]
        var total = 0
        let deadline = Date().addingTimeInterval(timeout)
        while total < expected && Date() < deadline {
            for record in try consumer.poll(max: 10_000, timeoutMs: 200) {
                let key = String(decoding: record.key ?? [], as: UTF8.self)
                let value = String(decoding: record.value ?? [], as: UTF8.self)
                seen["\(key)|\(value)", default: 0] += 1
                total += 1
            }
        }
        // Anything beyond the expected count would be a duplicate: give it a moment to show up.
        for record in try consumer.poll(max: 10_000, timeoutMs: 500) {
            let key = String(decoding: record.key ?? [], as: UTF8.self)
            let value = String(decoding: record.value ?? [], as: UTF8.self)
            seen["\(key)|\(value)", default: 0] += 1
        }
        return seen
    }

    func awaitState(_ streams: KafkaStreams, _ state: KafkaStreams.State, timeout: TimeInterval = 30) {
        let deadline = Date().addingTimeInterval(timeout)
        while streams.state != state && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(streams.state, state)
    }

    func testStatelessTopologyProducesExactOutputMultiset() throws {
        let broker = try DevBrokerProcess(topics: ["numbers:4", "tagged:4"])
        defer { broker.stop() }
        try produceNumbers(broker.bootstrapServers, topic: "numbers", count: Self.recordCount)

        let streams = try KafkaStreams(
            try statelessTopology(input: "numbers", output: "tagged"), config: config("e2e-exact", broker.bootstrapServers))
        let transitions = TransitionLog()
        streams.setStateListener { new, old in transitions.append("\(old.rawValue)->\(new.rawValue)") }
        XCTAssertEqual(streams.state, .created)
        try streams.start()
        let expected = expectedOutput(count: Self.recordCount)
        let seen = try readAll(
            broker.bootstrapServers, topic: "tagged", partitions: 4, expected: expected.values.reduce(0, +))
        XCTAssertTrue(streams.close(timeout: .seconds(30)))
        XCTAssertEqual(streams.state, .notRunning)
        XCTAssertEqual(seen.count, expected.count, "distinct output records")
        XCTAssertEqual(seen, expected)
        XCTAssertEqual(streams.metrics.processed, Int64(Self.recordCount))
        XCTAssertEqual(
            transitions.entries,
            ["created->rebalancing", "rebalancing->running", "running->pendingShutdown", "pendingShutdown->notRunning"])
    }

    func testRunReturnsAfterCancellationWithGracefulShutdown() async throws {
        let broker = try DevBrokerProcess(topics: ["run-in:2", "run-out:2"])
        defer { broker.stop() }
        try produceNumbers(broker.bootstrapServers, topic: "run-in", count: 1_000)
        let streams = try KafkaStreams(
            try statelessTopology(input: "run-in", output: "run-out"), config: config("e2e-run", broker.bootstrapServers))
        let runner = Task { try await streams.run() }
        let deadline = Date().addingTimeInterval(30)
        while streams.metrics.processed < 1_000 && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        runner.cancel()
        try await runner.value
        XCTAssertEqual(streams.state, .notRunning)
        XCTAssertEqual(streams.metrics.processed, 1_000)
    }

    /// In a swift-service-lifecycle `ServiceGroup`, a graceful shutdown commits and closes the
    /// application, and a second instance finds every offset committed.
    func testAServiceGroupsGracefulShutdownCommitsAndCloses() async throws {
        let broker = try DevBrokerProcess(topics: ["service-in:2", "service-out:2"])
        defer { broker.stop() }
        try produceNumbers(broker.bootstrapServers, topic: "service-in", count: 1_000)
        let topology = try statelessTopology(input: "service-in", output: "service-out")
        let streams = try KafkaStreams(topology, config: config("e2e-service", broker.bootstrapServers))
        let group = ServiceGroup(services: [streams], logger: Logger(label: "test"))
        let runner = Task { try await group.run() }
        let deadline = Date().addingTimeInterval(30)
        while streams.metrics.processed < 1_000 && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        await group.triggerGracefulShutdown()
        try await runner.value
        XCTAssertEqual(streams.state, .notRunning)
        XCTAssertEqual(streams.metrics.processed, 1_000)

        let consumer = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": "e2e-service"]))
        defer { consumer.close() }
        let committed = try consumer.committed(
            [TopicPartition(topic: "service-in", partition: 0), TopicPartition(topic: "service-in", partition: 1)], timeoutMs: 10_000)
        XCTAssertEqual(committed.values.map(\.offset).reduce(0, +), 1_000, "every processed offset committed")
    }

    func testRestartAfterCleanCloseResumesFromCommittedOffsets() throws {
        let broker = try DevBrokerProcess(topics: ["numbers:4", "tagged:4"])
        defer { broker.stop() }
        try produceNumbers(broker.bootstrapServers, topic: "numbers", count: Self.recordCount)
        let topology = try statelessTopology(input: "numbers", output: "tagged")

        // First instance: stop it part-way through.
        let first = try KafkaStreams(topology, config: config("e2e-restart", broker.bootstrapServers))
        try first.start()
        let deadline = Date().addingTimeInterval(60)
        while first.metrics.processed < 20_000 && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        XCTAssertTrue(first.close(timeout: .seconds(30)))
        let processedByFirst = first.metrics.processed
        XCTAssertGreaterThanOrEqual(processedByFirst, 20_000)
        XCTAssertLessThan(processedByFirst, Int64(Self.recordCount), "the first instance must stop mid-stream")

        // Second instance, same application id: carries on from the committed offsets.
        let second = try KafkaStreams(topology, config: config("e2e-restart", broker.bootstrapServers))
        try second.start()
        let expected = expectedOutput(count: Self.recordCount)
        let seen = try readAll(
            broker.bootstrapServers, topic: "tagged", partitions: 4, expected: expected.values.reduce(0, +))
        XCTAssertTrue(second.close(timeout: .seconds(30)))
        XCTAssertEqual(seen, expected, "every record exactly once across both instances")
        XCTAssertEqual(processedByFirst + second.metrics.processed, Int64(Self.recordCount), "nothing reprocessed")
    }
}
