import Foundation
import Rill
import RillKafka
import XCTest

/// Bad set-ups fail `start()` (or `init`) with one error naming the thing at fault.
final class StartupErrorTests: XCTestCase {
    static let broker = Result { try EmbeddedKafka(brokers: 1) }

    func embedded() throws -> EmbeddedKafka { try Self.broker.get() }

    func topology(input: String, output: String) throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream(input, Consumed(.string, .string)).to(output, Produced(.string, .string))
        return try builder.build()
    }

    func testMissingInputTopicIsAnErrorNamingIt() throws {
        let broker = try embedded()
        try broker.createTopic("present-out", partitions: 2)
        let streams = try KafkaStreams(
            try topology(input: "absent-in", output: "present-out"),
            config: StreamsConfig(applicationID: "missing-in", bootstrapServers: broker.bootstrapServers))
        XCTAssertThrowsError(try streams.start()) { error in
            XCTAssertTrue("\(error)".contains("'absent-in'"), "\(error)")
        }
        XCTAssertEqual(streams.state, .error)
    }

    func testAJoinOfTopicsWithDifferentPartitionCountsIsAnErrorNamingThem() throws {
        let broker = try embedded()
        try broker.createTopic("join-calls", partitions: 4)
        try broker.createTopic("join-clinics", partitions: 2)
        try broker.createTopic("join-out", partitions: 4)
        let builder = StreamsBuilder()
        let clinics = builder.table("join-clinics", Consumed(.string, .string), materialized: .as("clinics"))
        builder.stream("join-calls", Consumed(.string, .string))
            .join(clinics, joiner: { call, clinic in call + "@" + clinic }, .as("enrich"))
            .to("join-out", Produced(.string, .string))
        let streams = try KafkaStreams(
            try builder.build(), config: StreamsConfig(applicationID: "not-copartitioned", bootstrapServers: broker.bootstrapServers))
        XCTAssertThrowsError(try streams.start()) { error in
            let text = "\(error)"
            XCTAssertTrue(
                text.contains("'enrich'") && text.contains("'join-calls' (4)") && text.contains("'join-clinics' (2)"), text)
        }
        XCTAssertEqual(streams.state, .error)
    }

    func testMissingOutputTopicIsAnErrorNamingIt() throws {
        let broker = try embedded()
        try broker.createTopic("present-in", partitions: 2)
        let streams = try KafkaStreams(
            try topology(input: "present-in", output: "absent-out"),
            config: StreamsConfig(applicationID: "missing-out", bootstrapServers: broker.bootstrapServers))
        XCTAssertThrowsError(try streams.start()) { error in
            XCTAssertTrue("\(error)".contains("'absent-out'"), "\(error)")
        }
    }

    func testUnreachableBrokerFailsWithinTimeoutNamingServers() throws {
        var config = StreamsConfig(applicationID: "unreachable", bootstrapServers: "127.0.0.1:1")
        config.startupTimeoutMs = 1_500
        let streams = try KafkaStreams(try topology(input: "a", output: "b"), config: config)
        let started = Date()
        XCTAssertThrowsError(try streams.start()) { error in
            XCTAssertTrue("\(error)".contains("127.0.0.1:1"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
    }

    func testUnknownClientPropertyIsAnErrorNamingIt() throws {
        var config = StreamsConfig(applicationID: "bad-key", bootstrapServers: "127.0.0.1:9092")
        config["no.such.property"] = "1"
        XCTAssertThrowsError(try KafkaStreams(try topology(input: "a", output: "b"), config: config)) { error in
            XCTAssertTrue("\(error)".contains("no.such.property"), "\(error)")
        }
    }

    /// Another assignor could give one task's co-partitioned partitions to two consumers.
    func testAnAssignorOtherThanRangeIsAnErrorNamingIt() throws {
        for key in ["partition.assignment.strategy", "consumer.partition.assignment.strategy"] {
            var config = StreamsConfig(applicationID: "assignor", bootstrapServers: "127.0.0.1:9092")
            config[key] = "cooperative-sticky"
            XCTAssertThrowsError(try KafkaStreams(try topology(input: "a", output: "b"), config: config)) { error in
                XCTAssertTrue("\(error)".contains("partition.assignment.strategy") && "\(error)".contains("cooperative-sticky"), "\(error)")
            }
        }
    }

    func testStartTwiceIsAnError() throws {
        let broker = try embedded()
        try broker.createTopic("twice-in", partitions: 1)
        try broker.createTopic("twice-out", partitions: 1)
        let streams = try KafkaStreams(
            try topology(input: "twice-in", output: "twice-out"),
            config: StreamsConfig(applicationID: "twice", bootstrapServers: broker.bootstrapServers))
        try streams.start()
        XCTAssertThrowsError(try streams.start())
        XCTAssertTrue(streams.close(timeout: .seconds(20)))
    }
}

/// Internal topics' cleanup policies, as checked against what the brokers describe.
final class CleanupPolicyTests: XCTestCase {
    func testAChangelogMustCompactAndARepartitionTopicMustDelete() {
        let expected = [
            "app-counts-changelog": ["cleanup.policy": "compact"],
            "app-windows-changelog": ["cleanup.policy": "compact,delete"],
        ]
        let topics = ["app-counts-changelog", "app-windows-changelog", "app-by-key-repartition", "app-fine-repartition"]
        let actual = [
            "app-counts-changelog": ["cleanup.policy": "delete"],
            "app-windows-changelog": ["cleanup.policy": "delete,compact"],
            "app-by-key-repartition": ["cleanup.policy": "compact"],
            "app-fine-repartition": ["cleanup.policy": "delete"],
        ]
        let wrong = TopicProvisioner.cleanupPolicyMismatches(topics, expected: expected, actual: actual)
        XCTAssertEqual(wrong.map(\.topic), ["app-counts-changelog", "app-by-key-repartition"])
        XCTAssertEqual(wrong.map(\.actual), ["delete", "compact"])
        let message = "\(RuntimeError.internalTopicConfig(topic: "app-counts-changelog", key: "cleanup.policy", expected: "compact", actual: "delete"))"
        XCTAssertTrue(message.contains("'app-counts-changelog'") && message.contains("cleanup.policy=delete"), message)
    }
}
