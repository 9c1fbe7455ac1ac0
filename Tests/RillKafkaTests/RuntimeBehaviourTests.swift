import Foundation
import Rill
import RillKafka
import XCTest

/// The runtime on the embedded broker: dead letters, repartitioning through an internal topic,
/// and a failing topology stopping with an error.
final class RuntimeBehaviourTests: XCTestCase {
    func config(_ app: String, _ servers: String) -> StreamsConfig {
        testConfig(app, servers, commitIntervalMs: 100)
    }

    func produce(_ servers: String, _ topic: String, _ records: [(key: String, value: [UInt8])]) throws {
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers]))
        for (index, record) in records.enumerated() {
            try producer.send(
                topic: topic, partition: nil, key: Array(record.key.utf8), value: record.value,
                timestamp: Int64(1_000 + index), headers: Headers())
        }
        try producer.flush(timeoutMs: 10_000)
    }

    /// Reads `count` records of `topic` from the beginning (or fails after `timeout`).
    func read(_ servers: String, _ topic: String, partitions: Int32, count: Int, timeout: TimeInterval = 30) throws
        -> [ConsumedRecord]
    {
        let consumer = try KafkaConsumer(
            config: KafkaClientConfig(["bootstrap.servers": servers, "group.id": "reader-\(UUID().uuidString)"]))
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<partitions).map {
            (TopicPartition(topic: topic, partition: $0), Int64(-2))
        }))
        var records: [ConsumedRecord] = []
        let deadline = Date().addingTimeInterval(timeout)
        while records.count < count && Date() < deadline {
            records += try consumer.poll(max: 1_000, timeoutMs: 100)
        }
        return records
    }

    func testMalformedRecordsGoToTheDeadLetterTopicAndProcessingGoesOn() throws {
        let broker = try EmbeddedKafka()
        try broker.createTopic("dl-in", partitions: 2)
        try broker.createTopic("dl-out", partitions: 2)
        let builder = StreamsBuilder()
        builder.stream("dl-in", Consumed(.string, .int64)).mapValues { $0 * 10 }.to("dl-out", Produced(.string, .int64))
        var config = config("dead-letters", broker.bootstrapServers)
        config.deserializationExceptionHandler = .deadLetter(topic: "dl-dlq")
        let streams = try KafkaStreams(try builder.build(), config: config)
        try streams.start()
        defer { streams.close() }

        let bad: [UInt8] = [1, 2, 3]
        try produce(broker.bootstrapServers, "dl-in", [
            ("a", try Serde<Int64>.int64.serialize(1)!), ("b", bad), ("c", try Serde<Int64>.int64.serialize(3)!),
        ])
        let output = try read(broker.bootstrapServers, "dl-out", partitions: 2, count: 2)
        XCTAssertEqual(Set(output.compactMap { try? Serde<Int64>.int64.deserialize($0.value) }), [10, 30])
        // The dead-letter topic was created (with the input's partition count) and holds the original bytes.
        let letters = try read(broker.bootstrapServers, "dl-dlq", partitions: 2, count: 1)
        XCTAssertEqual(letters.count, 1)
        XCTAssertEqual(letters.first?.key, Array("b".utf8))
        XCTAssertEqual(letters.first?.value, bad)
        let headers = letters.first?.headers ?? Headers()
        XCTAssertEqual(headers.lastHeader("rill.source.topic")?.stringValue, "dl-in")
        XCTAssertNotNil(headers.lastHeader("rill.source.partition")?.stringValue.flatMap(Int32.init))
        XCTAssertNotNil(headers.lastHeader("rill.source.offset")?.stringValue.flatMap(Int64.init))
        XCTAssertTrue(headers.lastHeader("rill.error")?.stringValue?.contains("8 bytes") == true)
        let admin = try KafkaAdmin(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers]))
        XCTAssertEqual(try admin.partitionCounts(topics: ["dl-dlq"], timeoutMs: 5_000), ["dl-dlq": 2])
    }

    func testRepartitionRunsThroughTheInternalTopicWithTheSourcesPartitionCount() throws {
        let broker = try EmbeddedKafka()
        try broker.createTopic("rp-in", partitions: 3)
        try broker.createTopic("rp-out", partitions: 3)
        let builder = StreamsBuilder()
        builder.stream("rp-in", Consumed(.string, .string))
            .selectKey { _, value in value }
            .repartition(Repartitioned(named: "by-value", keySerde: .string, valueSerde: .string))
            .to("rp-out", Produced(.string, .string))
        let streams = try KafkaStreams(try builder.build(), config: config("rp-app", broker.bootstrapServers))
        try streams.start()
        defer { streams.close() }
        try produce(broker.bootstrapServers, "rp-in", (0..<30).map { ("k\($0)", Array("v\($0 % 5)".utf8)) })
        let output = try read(broker.bootstrapServers, "rp-out", partitions: 3, count: 30)
        XCTAssertEqual(output.count, 30)
        for record in output { XCTAssertEqual(record.key, record.value, "re-keyed by value") }
        let admin = try KafkaAdmin(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers]))
        XCTAssertEqual(
            try admin.partitionCounts(topics: ["rp-app-by-value-repartition"], timeoutMs: 5_000),
            ["rp-app-by-value-repartition": 3])
    }

    func testAProcessingFailureStopsTheApplicationWithAnErrorNamingTheProcessor() throws {
        struct Rejected: Error {}
        let broker = try EmbeddedKafka()
        try broker.createTopic("fail-in", partitions: 1)
        try broker.createTopic("fail-out", partitions: 1)
        let builder = StreamsBuilder()
        builder.stream("fail-in", Consumed(.string, .string))
            .filter(named: "picky") { _, value in if value == "poison" { throw Rejected() } else { return true } }
            .to("fail-out", Produced(.string, .string))
        let streams = try KafkaStreams(try builder.build(), config: config("fail-app", broker.bootstrapServers))
        let states = TransitionLog()
        streams.setStateListener { new, _ in states.append(new.rawValue) }
        try streams.start()
        try produce(broker.bootstrapServers, "fail-in", [("a", Array("fine".utf8)), ("b", Array("poison".utf8))])
        let deadline = Date().addingTimeInterval(30)
        while streams.state != .error && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(streams.state, .error)
        let failure = "\(streams.failure.map { "\($0)" } ?? "")"
        XCTAssertTrue(failure.contains("picky") && failure.contains("fail-in"), failure)
        XCTAssertEqual(states.entries.suffix(2), ["pendingError", "error"])
        streams.close()
    }

    /// Forwards the task's stream time as each record's value.
    final class StreamTimeReporter: Processor {
        typealias KIn = String
        typealias VIn = String
        var context: ProcessorContext<String, Int64>!
        func initialize(context: ProcessorContext<String, Int64>) { self.context = context }
        func process(_ record: Record<String, String>) throws {
            try context.forward(record.withValue(context.currentStreamTime))
        }
    }

    func testStreamTimeSurvivesARestartThroughTheCommittedOffsets() throws {
        let broker = try EmbeddedKafka()
        try broker.createTopic("st-in", partitions: 1)
        try broker.createTopic("st-out", partitions: 1)
        func runOnce(_ records: [(String, Int64)], expectOutputs: Int) throws -> [Int64] {
            let builder = StreamsBuilder()
            builder.stream("st-in", Consumed(.string, .string)).process { StreamTimeReporter() }
                .to("st-out", Produced(.string, .int64))
            let streams = try KafkaStreams(try builder.build(), config: config("stream-time", broker.bootstrapServers))
            try streams.start()
            defer { streams.close() }
            let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers]))
            for (key, timestamp) in records {
                try producer.send(topic: "st-in", partition: 0, key: Array(key.utf8), value: Array(key.utf8), timestamp: timestamp, headers: Headers())
            }
            try producer.flush(timeoutMs: 10_000)
            return try read(broker.bootstrapServers, "st-out", partitions: 1, count: expectOutputs)
                .compactMap { try? Serde<Int64>.int64.deserialize($0.value) }
        }
        XCTAssertEqual(try runOnce([("a", 1_000), ("b", 5_000)], expectOutputs: 2), [1_000, 5_000])
        // After the restart an older record does not pull stream time back.
        XCTAssertEqual(try runOnce([("c", 2_000)], expectOutputs: 3), [1_000, 5_000, 5_000])
    }
}
