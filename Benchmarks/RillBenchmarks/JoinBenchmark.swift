import Foundation
import Logging
import Rill
import RillKafka

/// A stream–table join on RocksDB through the embedded broker, against the stateless passthrough
/// over the same stream, in the same process run.
enum JoinBenchmark {
    static func run(count: Int, tableRows: Int, report: inout Report) throws {
        let broker = try EmbeddedKafka(brokers: 1)
        let servers = broker.bootstrapServers
        let partitions = BrokerBenchmarks.partitions
        for topic in ["join-stream", "join-table", "join-out", "join-pass-out"] {
            try broker.createTopic(topic, partitions: partitions)
        }
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers, "linger.ms": "20"]))
        let value = [UInt8](repeating: 0x61, count: BrokerBenchmarks.valueSize)
        for n in 0..<tableRows {
            try producer.send(
                topic: "join-table", partition: nil, key: Array("key-\(n)".utf8), value: Array("row \(n)".utf8), timestamp: 0,
                headers: Headers())
        }
        for n in 0..<count {
            try producer.send(
                topic: "join-stream", partition: nil, key: Array("key-\(n % tableRows)".utf8), value: value,
                timestamp: Int64(n + 1), headers: Headers())
        }
        try producer.flush(timeoutMs: 120_000)

        let passBuilder = StreamsBuilder()
        passBuilder.stream("join-stream", Consumed(.bytes, .bytes)).to("join-pass-out", Produced(.bytes, .bytes))
        var passConfig = StreamsConfig(applicationID: "bench-join-pass", bootstrapServers: servers)
        passConfig["consumer.session.timeout.ms"] = "6000"
        let passthrough = try StateBenchmarks.measure(
            try KafkaStreams(try passBuilder.build(), config: passConfig, logger: Logger(label: "bench")), count: count)
        let passthroughUse = ResourceMeter.last

        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let builder = StreamsBuilder()
        let table = builder.table("join-table", Consumed(.bytes, .bytes), materialized: .as("join-rows"))
        builder.stream("join-stream", Consumed(.bytes, .bytes))
            .join(table, joiner: { value, row in value + row })
            .to("join-out", Produced(.bytes, .bytes))
        var config = StreamsConfig(applicationID: "bench-join", bootstrapServers: servers)
        config.stateDir = stateDir
        config["consumer.session.timeout.ms"] = "6000"
        // Both topics' records count as processed; the rate is of the stream's records.
        let total = try StateBenchmarks.measure(
            try KafkaStreams(try builder.build(), config: config, logger: Logger(label: "bench")), count: count + tableRows)
        let rate = total * Double(count) / Double(count + tableRows)
        report.add(
            scenario: "stream–table join, RocksDB (\(count) records, \(tableRows)-row table)", rate: rate,
            baseline: "Rill passthrough", baselineRate: passthrough, goal: 0.5,
            notes: "time includes loading the table's \(tableRows) records into the store",
            resources: ResourceMeter.last, baselineResources: passthroughUse)
        withExtendedLifetime(broker) {}
    }
}
