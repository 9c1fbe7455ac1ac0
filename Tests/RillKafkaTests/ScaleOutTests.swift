import Foundation
import Rill
import RillKafka
import XCTest

/// Several instances of one application share its tasks through the consumer group, and the
/// assignment keeps a task's co-partitioned partitions on one stream thread.
final class ScaleOutTests: XCTestCase {
    var stateDirs: [String] = []
    override func tearDown() { for path in stateDirs { try? FileManager.default.removeItem(atPath: path) } }

    func produce(_ servers: String, _ topic: String, _ records: [(key: String, value: String, timestamp: Int64)]) throws {
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers]))
        for record in records {
            try producer.send(
                topic: topic, partition: nil, key: Array(record.key.utf8), value: Array(record.value.utf8),
                timestamp: record.timestamp, headers: Headers())
        }
        try producer.flush(timeoutMs: 10_000)
    }

    func testThreeWorkersOnSixPartitionsJoinEveryOrderWithItsCustomer() throws {
        let broker = try EmbeddedKafka()
        for topic in ["so-orders", "so-customers", "so-out"] { try broker.createTopic(topic, partitions: 6) }
        let customers = (0..<60).map { (key: "c\($0)", value: "name-\($0)", timestamp: Int64(1_000)) }
        try produce(broker.bootstrapServers, "so-customers", customers)

        func topology() throws -> Topology {
            let builder = StreamsBuilder()
            let names = builder.table("so-customers", Consumed(.string, .string), materialized: .as("so-names"))
            builder.stream("so-orders", Consumed(.string, .string))
                .join(names) { order, name in "\(order)@\(name)" }
                .to("so-out", Produced(.string, .string))
            return try builder.build()
        }
        let instances = try (0..<3).map { index -> KafkaStreams in
            var config = testConfig("scale-out", broker.bootstrapServers, commitIntervalMs: 100)
            config.stateDir = NSTemporaryDirectory() + "rill-scale-out-\(index)-\(UUID().uuidString)"
            stateDirs.append(config.stateDir)
            return try KafkaStreams(try topology(), config: config)
        }
        for streams in instances { try streams.start() }
        defer { for streams in instances { streams.close() } }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !instances.allSatisfy({ $0.state == .running && $0.metrics.processed > 0 }) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(instances.allSatisfy { $0.metrics.processed > 0 }, "every instance got tasks: \(instances.map(\.metrics.processed))")

        let orders = (0..<600).map { (key: "c\($0 % 60)", value: "order-\($0)", timestamp: Int64(2_000 + $0)) }
        try produce(broker.bootstrapServers, "so-orders", orders)
        let consumer = try KafkaConsumer(config: KafkaClientConfig([
            "bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)",
        ]))
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<6).map { (TopicPartition(topic: "so-out", partition: $0), Int64(-2)) }))
        var joined: Set<String> = []
        let readDeadline = Date().addingTimeInterval(60)
        while joined.count < orders.count && Date() < readDeadline {
            for record in try consumer.poll(max: 1_000, timeoutMs: 100) { joined.insert(String(decoding: record.value ?? [], as: UTF8.self)) }
        }
        // An order meets its customer only where both partitions are on one task's thread.
        XCTAssertEqual(joined, Set(orders.map { "\($0.value)@name-\($0.key.dropFirst())" }))
    }
}
