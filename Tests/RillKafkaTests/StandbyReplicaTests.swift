import Foundation
import Rill
import RillKafka
import Synchronization
import XCTest

/// `num.standby.replicas`: an instance keeps warm copies of the other instance's stores, so taking
/// its tasks over restores almost nothing.
final class StandbyReplicaTests: XCTestCase {
    var stateDirs: [String] = []
    override func tearDown() { for path in stateDirs { try? FileManager.default.removeItem(atPath: path) } }

    /// Counts records restored, by changelog partition.
    final class Restores: StateRestoreListener, @unchecked Sendable {
        let restored = Mutex<[TopicPartition: Int64]>([:])
        func onRestoreStart(_ partition: TopicPartition, store: String, startOffset: Int64, endOffset: Int64) {
            restored.withLock { $0[partition, default: 0] += 0 }
        }
        func onBatchRestored(_ partition: TopicPartition, store: String, batchEndOffset: Int64, restored: Int64) {
            self.restored.withLock { $0[partition, default: 0] += restored }
        }
        func onRestoreEnd(_ partition: TopicPartition, store: String, restored: Int64) {}
        var total: Int64 { restored.withLock { $0.values.reduce(0, +) } }
    }

    func instance(_ servers: String, standbys: Int, restores: Restores) throws -> KafkaStreams {
        let builder = StreamsBuilder()
        builder.stream("sb-in", Consumed(.string, .string))
            .groupByKey()
            .count(materialized: .as("sb-counts"))
            .toStream()
            .to("sb-out", Produced(.string, Serde<Int64>.int64.optional))
        var config = testConfig("standby-\(standbys)", servers, commitIntervalMs: 100)
        config.cacheMaxBytes = 0  // one changelog record per input record
        config.numStandbyReplicas = standbys
        config.stateDir = NSTemporaryDirectory() + "rill-standby-\(UUID().uuidString)"
        stateDirs.append(config.stateDir)
        let streams = try KafkaStreams(try builder.build(), config: config)
        streams.setGlobalStateRestoreListener(restores)
        return streams
    }

    /// Runs two instances, stops the first and returns what the survivor restored taking over, and
    /// how long from the first's close until the survivor had processed the next records.
    func takeOver(standbys: Int) throws -> (restored: Int64, seconds: Double, counts: [String: Int64], expected: Int64) {
        let broker = try EmbeddedKafka()
        for topic in ["sb-in", "sb-out"] { try broker.createTopic(topic, partitions: 2) }
        let (leaving, staying) = (Restores(), Restores())
        let first = try instance(broker.bootstrapServers, standbys: standbys, restores: leaving)
        let second = try instance(broker.bootstrapServers, standbys: standbys, restores: staying)
        try first.start()
        try second.start()
        defer { second.close() }
        let deadline = Date().addingTimeInterval(60)
        var rounds = 0  // of one record per key, until both instances process
        while Date() < deadline,
            !(first.state == .running && second.state == .running && first.metrics.processed > 0 && second.metrics.processed > 0)
        {
            try produceIndexed(broker.bootstrapServers, "sb-in", 0..<40, keys: 40)
            rounds += 1
            Thread.sleep(forTimeInterval: 0.2)
        }
        try produceIndexed(broker.bootstrapServers, "sb-in", 0..<4_000, keys: 40)
        while Date() < deadline, first.metrics.processed + second.metrics.processed < 4_000 { Thread.sleep(forTimeInterval: 0.05) }
        Thread.sleep(forTimeInterval: 1)  // the standbys catch up: what is measured is what they save
        let before = staying.total
        let closed = Date()
        first.close()
        try produceIndexed(broker.bootstrapServers, "sb-in", 4_000..<4_040, keys: 40)
        let target = second.metrics.processed + 40
        while Date() < deadline, second.metrics.processed < target { Thread.sleep(forTimeInterval: 0.01) }
        let seconds = Date().timeIntervalSince(closed)

        let consumer = try KafkaConsumer(config: KafkaClientConfig([
            "bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)",
        ]))
        defer { consumer.close() }
        try consumer.assign([TopicPartition(topic: "sb-out", partition: 0): -2, TopicPartition(topic: "sb-out", partition: 1): -2])
        var counts: [String: Int64] = [:]
        let readDeadline = Date().addingTimeInterval(30)
        let expected = Int64(rounds + 101)
        while (counts.count < 40 || counts.values.contains { $0 < expected }) && Date() < readDeadline {
            for record in try consumer.poll(max: 1_000, timeoutMs: 100) {
                counts[String(decoding: record.key ?? [], as: UTF8.self)] = try Serde<Int64>.int64.deserialize(record.value)
            }
        }
        return (staying.total - before, seconds, counts, expected)
    }

    func testAStandbyTakesOverWithoutAFullRestore() throws {
        let warm = try takeOver(standbys: 1)
        let cold = try takeOver(standbys: 0)
        print("takeover: with a standby \(warm.restored) records restored, \(String(format: "%.2f", warm.seconds)) s; "
            + "without \(cold.restored) records restored, \(String(format: "%.2f", cold.seconds)) s")
        XCTAssertGreaterThan(cold.restored, 1_000, "without a standby the survivor restores the other's whole changelog")
        XCTAssertLessThan(warm.restored, cold.restored / 10, "a standby leaves almost nothing to restore")
        for result in [warm, cold] {
            XCTAssertEqual(result.counts.count, 40)
            XCTAssertGreaterThanOrEqual(result.counts.values.min() ?? 0, result.expected, "no count lost at the takeover")
        }
    }
}
