import Foundation
import Rill
import RillKafka
import Synchronization
import XCTest

/// The uncaught-exception handler's answers on the embedded broker: a replaced thread resumes the
/// failed thread's work from its last commit; `shutdownApplication` stops the other instances too.
final class UncaughtExceptionHandlerTests: XCTestCase {
    struct Glitch: Error {}

    /// How often the poison record was seen, over all instances and threads.
    final class PoisonCount: Sendable {
        private let count = Mutex(0)
        /// Counts one more; true for the first.
        func next() -> Bool { count.withLock { $0 += 1; return $0 == 1 } }
        var value: Int { count.withLock { $0 } }
    }

    /// Passes values through, failing once (over all instances) on the value "poison".
    func topology(_ input: String, _ output: String, failures: PoisonCount) throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream(input, Consumed(.string, .string))
            .mapValues(named: "fragile") { value in
                if value == "poison", failures.next() { throw Glitch() }
                return value
            }
            .to(output, Produced(.string, .string))
        return try builder.build()
    }

    func produce(_ servers: String, _ topic: String, _ values: [String]) throws {
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers]))
        for (index, value) in values.enumerated() {
            try producer.send(
                topic: topic, partition: nil, key: Array("k\(index)".utf8), value: Array(value.utf8),
                timestamp: Int64(1_000 + index), headers: Headers())
        }
        try producer.flush(timeoutMs: 10_000)
    }


    func testAReplacedThreadResumesTheFailedThreadsWorkAndNothingIsLost() throws {
        let broker = try EmbeddedKafka()
        for topic in ["replace-in", "replace-out"] { try broker.createTopic(topic, partitions: 2) }
        let failures = PoisonCount()
        var config = testConfig("replace", broker.bootstrapServers, commitIntervalMs: 100)
        config.stateDir = NSTemporaryDirectory() + "rill-replace-\(UUID().uuidString)"
        let streams = try KafkaStreams(try topology("replace-in", "replace-out", failures: failures), config: config)
        let handled = Mutex<[String]>([])
        streams.setUncaughtExceptionHandler { error in
            handled.withLock { $0.append("\(error)") }
            return KafkaStreams.StreamThreadExceptionResponse.replaceThread
        }
        try streams.start()
        defer { streams.close() }
        let values = (0..<50).map { $0 == 25 ? "poison" : "v\($0)" }
        try produce(broker.bootstrapServers, "replace-in", values)

        let consumer = try KafkaConsumer(config: KafkaClientConfig([
            "bootstrap.servers": broker.bootstrapServers, "group.id": "reader-\(UUID().uuidString)",
        ]))
        defer { consumer.close() }
        try consumer.assign([TopicPartition(topic: "replace-out", partition: 0): -2, TopicPartition(topic: "replace-out", partition: 1): -2])
        var seen: Set<String> = []
        let deadline = Date().addingTimeInterval(60)
        while seen.count < values.count && Date() < deadline {
            for record in try consumer.poll(max: 100, timeoutMs: 100) {
                seen.insert(String(decoding: record.value ?? [], as: UTF8.self))
            }
        }
        XCTAssertEqual(seen, Set(values), "every value, the poison one included, came out")
        XCTAssertEqual(failures.value, 2, "the poison record was processed again after the failure")
        XCTAssertEqual(handled.withLock { $0.count }, 1)
        XCTAssertTrue(handled.withLock { $0.first ?? "" }.contains("fragile"))
        _ = eventually { streams.state == .running }
        XCTAssertEqual(streams.state, .running)
        XCTAssertNil(streams.failure)
    }

    func testShutdownApplicationStopsEveryInstance() throws {
        let broker = try EmbeddedKafka()
        for topic in ["everyone-in", "everyone-out"] { try broker.createTopic(topic, partitions: 2) }
        let failures = PoisonCount()
        let instances = try (0..<2).map { index -> KafkaStreams in
            var config = testConfig("everyone", broker.bootstrapServers, commitIntervalMs: 100)
            config.stateDir = NSTemporaryDirectory() + "rill-everyone-\(index)-\(UUID().uuidString)"
            let streams = try KafkaStreams(try topology("everyone-in", "everyone-out", failures: failures), config: config)
            streams.setUncaughtExceptionHandler { _ in .shutdownApplication }
            return streams
        }
        for streams in instances { try streams.start() }
        defer { for streams in instances { streams.close() } }
        _ = eventually { instances.allSatisfy { $0.state == .running } }
        try produce(broker.bootstrapServers, "everyone-in", ["a", "b", "poison", "c"])

        _ = eventually { instances.allSatisfy { $0.state == .error } }
        XCTAssertEqual(instances.map(\.state), [.error, .error])
        let reasons = instances.map { $0.failure.map { "\($0)" } ?? "" }
        XCTAssertEqual(reasons.filter { $0.hasPrefix("Stream thread") && $0.contains("fragile") }.count, 1, "\(reasons)")
        XCTAssertEqual(reasons.filter { $0.hasPrefix("Another instance") && $0.contains("fragile") }.count, 1, "\(reasons)")
    }
}
