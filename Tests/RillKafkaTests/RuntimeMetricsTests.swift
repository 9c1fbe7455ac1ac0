import Foundation
import MetricsTestKit
import Rill
import RillKafka
import XCTest

/// What the runtime reports through swift-metrics, seen through a test factory.
final class RuntimeMetricsTests: XCTestCase {
    func produce(_ servers: String, _ topic: String, count: Int) throws {
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers]))
        for index in 0..<count {
            try producer.send(
                topic: topic, partition: nil, key: Array("k\(index % 10)".utf8), value: Array("v".utf8),
                timestamp: Int64(1_000 + index), headers: Headers())
        }
        try producer.flush(timeoutMs: 10_000)
    }


    func countTopology() throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream("m-in", Consumed(.string, .string))
            .groupByKey()
            .count(materialized: .as("m-counts"))
            .toStream()
            .to("m-out", Produced(.string, Serde<Int64>.int64.optional))
        return try builder.build()
    }

    func testProcessingCommitsLagAndRestoreAreReported() throws {
        let broker = try EmbeddedKafka()
        for topic in ["m-in", "m-out"] { try broker.createTopic(topic, partitions: 2) }
        try produce(broker.bootstrapServers, "m-in", count: 200)
        var config = testConfig("metrics", broker.bootstrapServers, commitIntervalMs: 100)
        config.stateDir = NSTemporaryDirectory() + "rill-metrics-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: config.stateDir) }

        let metrics = TestMetrics()
        let first = try KafkaStreams(try countTopology(), config: config, metricsFactory: metrics)
        try first.start()
        _ = eventually { metrics.counterTotal(label: "rill_records_processed_total") == 200 }
        XCTAssertEqual(metrics.counterTotal(label: "rill_records_processed_total"), 200)
        let tasks = Set(metrics.counters(label: "rill_records_processed_total").compactMap { counter in
            counter.dimensions.first { $0.0 == "task" }?.1
        })
        XCTAssertEqual(tasks, ["0_0", "0_1"], "one counter per task")
        _ = eventually {
            let lags = metrics.recorders(label: "rill_consumer_lag")
            return lags.count == 2 && lags.allSatisfy { $0.lastValue == 0 }
        }
        let lags = metrics.recorders(label: "rill_consumer_lag")
        XCTAssertEqual(Set(lags.compactMap { $0.dimensions.first { $0.0 == "partition" }?.1 }), ["0", "1"])
        XCTAssertTrue(lags.allSatisfy { $0.lastValue == 0 }, "caught up: \(lags.map(\.lastValue))")
        XCTAssertFalse(metrics.timers(label: "rill_commit_latency").flatMap(\.values).isEmpty)
        XCTAssertFalse(metrics.timers(label: "rill_poll_time").flatMap(\.values).isEmpty)
        XCTAssertFalse(metrics.timers(label: "rill_process_time").flatMap(\.values).isEmpty)
        first.close()

        // Without its state directory, the next instance restores every changelog record.
        try FileManager.default.removeItem(atPath: config.stateDir)
        let restored = TestMetrics()
        let second = try KafkaStreams(try countTopology(), config: config, metricsFactory: restored)
        try second.start()
        defer { second.close() }
        _ = eventually { second.state == .running }
        let changelogRecords = try (0..<2).reduce(Int64(0)) { sum, partition in
            let consumer = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": "watermarks"]))
            defer { consumer.close() }
            let (low, high) = try consumer.watermarks(
                TopicPartition(topic: "metrics-m-counts-changelog", partition: Int32(partition)), timeoutMs: 5_000)
            return sum + high - low
        }
        XCTAssertGreaterThan(changelogRecords, 0)
        XCTAssertEqual(restored.counterTotal(label: "rill_records_restored_total"), changelogRecords)
        XCTAssertEqual(restored.recorders(label: "rill_restore_remaining_records").compactMap(\.lastValue), [0])
    }
}
