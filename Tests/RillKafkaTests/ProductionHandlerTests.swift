import Foundation
import Rill
import RillKafka
import XCTest

/// The production exception handler on the embedded broker: records the producer refuses at once
/// (too large for `message.max.bytes`) and records the broker refuses in its delivery reports go to
/// the handler; authorization failures stop the application whatever the handler says.
final class ProductionHandlerTests: XCTestCase {
    let big = [UInt8](repeating: 7, count: 5_000)

    func produce(_ servers: String, _ topic: String, _ values: [[UInt8]]) throws {
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers]))
        for (index, value) in values.enumerated() {
            try producer.send(
                topic: topic, partition: 0, key: Array("k\(index)".utf8), value: value, timestamp: Int64(1_000 + index),
                headers: Headers())
        }
        try producer.flush(timeoutMs: 10_000)
    }

    /// Reads partition 0 of `topics` from the beginning until `done` holds or 30 s pass.
    func read(_ servers: String, _ topics: String..., until done: ([ConsumedRecord]) -> Bool) throws -> [ConsumedRecord] {
        let consumer = try KafkaConsumer(
            config: KafkaClientConfig(["bootstrap.servers": servers, "group.id": "reader-\(UUID().uuidString)"]))
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: topics.map { (TopicPartition(topic: $0, partition: 0), Int64(-2)) }))
        var records: [ConsumedRecord] = []
        let deadline = Date().addingTimeInterval(30)
        while !done(records) && Date() < deadline { records += try consumer.poll(max: 1_000, timeoutMs: 100) }
        return records
    }

    func passThrough(_ input: String, _ output: String) throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream(input, Consumed(.string, .bytes)).to(output, Produced(.string, .bytes))
        return try builder.build()
    }

    func awaitState(_ streams: KafkaStreams, _ state: KafkaStreams.State) {
        let deadline = Date().addingTimeInterval(30)
        while streams.state != state && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    }

    func testARecordTooLargeToSendIsSkippedUnderLogAndContinueAndTheRestGoesThrough() throws {
        let broker = try EmbeddedKafka()
        for topic in ["big-in", "big-out"] { try broker.createTopic(topic, partitions: 1) }
        var config = testConfig("too-large", broker.bootstrapServers, commitIntervalMs: 100)
        config["producer.message.max.bytes"] = "1000"
        config.productionExceptionHandler = .logAndContinue
        let streams = try KafkaStreams(try passThrough("big-in", "big-out"), config: config)
        try streams.start()
        defer { streams.close() }
        let small: [UInt8] = [1, 2, 3]
        try produce(broker.bootstrapServers, "big-in", [small, big, small])

        let output = try read(broker.bootstrapServers, "big-out") { $0.count >= 2 }
        XCTAssertEqual(output.map { $0.key.map { String(decoding: $0, as: UTF8.self) } }, ["k0", "k2"])
        XCTAssertTrue(output.allSatisfy { $0.value == small })
        XCTAssertEqual(streams.metrics.dropped, 1)
        XCTAssertEqual(streams.state, .running)
    }

    func testARecordTooLargeToSendStopsTheApplicationByDefaultNamingTheTopic() throws {
        let broker = try EmbeddedKafka()
        for topic in ["big2-in", "big2-out"] { try broker.createTopic(topic, partitions: 1) }
        var config = testConfig("too-large-fails", broker.bootstrapServers, commitIntervalMs: 100)
        config["producer.message.max.bytes"] = "1000"
        let streams = try KafkaStreams(try passThrough("big2-in", "big2-out"), config: config)
        try streams.start()
        defer { streams.close() }
        try produce(broker.bootstrapServers, "big2-in", [big])
        awaitState(streams, .error)
        let failure = streams.failure.map { "\($0)" } ?? ""
        XCTAssertTrue(failure.contains("'big2-out'") && failure.lowercased().contains("too large"), failure)
    }

    func testRecordsTheBrokerRefusesAreHandledFromTheDeliveryReportsAndNoneIsLost() throws {
        let broker = try EmbeddedKafka()
        for topic in ["refused-in", "refused-out", "refused-dlq"] { try broker.createTopic(topic, partitions: 1) }
        let values = (0..<200).map { [UInt8(truncatingIfNeeded: $0)] }
        try produce(broker.bootstrapServers, "refused-in", values)
        var config = testConfig("refused", broker.bootstrapServers, commitIntervalMs: 100)
        config.productionExceptionHandler = .deadLetter(topic: "refused-dlq")
        let streams = try KafkaStreams(try passThrough("refused-in", "refused-out"), config: config)
        try streams.start()
        defer { streams.close() }
        // The application's first produce request is the next one: the input is already on the broker.
        broker.failNextProduceRequests(with: 10)  // MESSAGE_TOO_LARGE

        let all = try read(broker.bootstrapServers, "refused-out", "refused-dlq") { $0.count >= values.count }
        let output = all.filter { $0.topic == "refused-out" }
        let letters = all.filter { $0.topic == "refused-dlq" }
        XCTAssertGreaterThan(letters.count, 0, "the refused request's records were dead-lettered")
        let keys = (output + letters).compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }
        XCTAssertEqual(Set(keys), Set((0..<values.count).map { "k\($0)" }), "every record is in the output or the dead letters")
        XCTAssertEqual(keys.count, values.count, "and only once")
        XCTAssertTrue(letters.allSatisfy { $0.headers.lastHeader("rill.sink.topic")?.stringValue == "refused-out" })
        XCTAssertEqual(streams.state, .running)
    }

    func testAnAuthorizationFailureStopsTheApplicationEvenWhenTheHandlerWouldContinue() throws {
        let broker = try EmbeddedKafka()
        for topic in ["auth-in", "auth-out"] { try broker.createTopic(topic, partitions: 1) }
        try produce(broker.bootstrapServers, "auth-in", [[1], [2]])
        var config = testConfig("auth", broker.bootstrapServers, commitIntervalMs: 100)
        config.productionExceptionHandler = .logAndContinue
        let streams = try KafkaStreams(try passThrough("auth-in", "auth-out"), config: config)
        try streams.start()
        defer { streams.close() }
        broker.failNextProduceRequests(with: 29, count: 5)  // TOPIC_AUTHORIZATION_FAILED
        awaitState(streams, .error)
        XCTAssertEqual(streams.state, .error)
        let failure = streams.failure.map { "\($0)" } ?? ""
        XCTAssertTrue(failure.contains("auth-out") && failure.lowercased().contains("authoriz"), failure)
        XCTAssertEqual(streams.metrics.dropped, 0)
    }
}
