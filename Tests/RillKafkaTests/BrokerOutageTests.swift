import Foundation
import Rill
import RillKafka
import XCTest

/// Brokers that stop answering: a stream thread waits for them, goes on where it stopped when they
/// come back, and fails with an error naming them after `task.timeout.ms`.
final class BrokerOutageTests: XCTestCase {
    func passThrough() throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream("outage-in", Consumed(.string, .string)).to("outage-out", Produced(.string, .string))
        return try builder.build()
    }


    func testProcessingGoesOnAfterTheBrokersComeBackAndNothingIsLost() throws {
        let broker = try EmbeddedKafka()
        for topic in ["outage-in", "outage-out"] { try broker.createTopic(topic, partitions: 2) }
        let streams = try KafkaStreams(try passThrough(), config: testConfig("outage", broker.bootstrapServers, commitIntervalMs: 100))
        try streams.start()
        defer { streams.close() }
        try produceIndexed(broker.bootstrapServers, "outage-in", 0..<100)
        _ = eventually { streams.metrics.processed == 100 }
        broker.setBrokerDown(1)
        Thread.sleep(forTimeInterval: 5)  // the fault under test: five seconds without a broker
        broker.setBrokerUp(1)
        try produceIndexed(broker.bootstrapServers, "outage-in", 100..<200)

        let consumer = try KafkaConsumer(config: KafkaClientConfig([
            "bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)",
        ]))
        defer { consumer.close() }
        try consumer.assign([TopicPartition(topic: "outage-out", partition: 0): -2, TopicPartition(topic: "outage-out", partition: 1): -2])
        var values: Set<String> = []
        let deadline = Date().addingTimeInterval(60)
        while values.count < 200 && Date() < deadline {
            for record in try consumer.poll(max: 500, timeoutMs: 100) { values.insert(String(decoding: record.value ?? [], as: UTF8.self)) }
        }
        XCTAssertEqual(values, Set((0..<200).map { "v\($0)" }))
        XCTAssertNil(streams.failure)
        XCTAssertNotEqual(streams.state, .error)
    }

    func testBrokersDownForLongerThanTheTaskTimeoutStopTheApplicationNamingThem() throws {
        let broker = try EmbeddedKafka()
        for topic in ["outage-in", "outage-out"] { try broker.createTopic(topic, partitions: 1) }
        var config = testConfig("outage-limit", broker.bootstrapServers, commitIntervalMs: 100)
        try config.set("task.timeout.ms", "3000")
        let streams = try KafkaStreams(try passThrough(), config: config)
        try streams.start()
        defer { streams.close() }
        _ = eventually { streams.state == .running }
        broker.setBrokerDown(1)
        _ = eventually(timeout: 60) { streams.state == .error }
        XCTAssertEqual(streams.state, .error)
        let failure = streams.failure.map { "\($0)" } ?? ""
        XCTAssertTrue(failure.contains(broker.bootstrapServers) && failure.contains("task.timeout.ms"), failure)
    }
}
