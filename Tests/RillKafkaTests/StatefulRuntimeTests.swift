import Foundation
import Rill
import RillKafka
import RillRocksDB
import XCTest

/// Processor API state on the runtime: RocksDB stores per task under the state directory.
final class StatefulRuntimeTests: XCTestCase {
    /// Counts words per key in the persistent store "word-counts".
    final class Counter: Processor {
        typealias KIn = String
        typealias VIn = String
        var context: ProcessorContext<String, Int64>!
        var counts: (any KeyValueStore<String, Int64>)!

        func initialize(context: ProcessorContext<String, Int64>) throws {
            self.context = context
            counts = try context.keyValueStore(named: "word-counts")
        }

        func process(_ record: Record<String, String>) throws {
            let count = (try counts.get(record.key) ?? 0) + 1
            try counts.put(record.key, count)
            try context.forward(record.withValue(count))
        }
    }

    func testStoresLiveUnderStateDirPerTaskAndKeepTheirDataAcrossARestart() throws {
        let broker = try EmbeddedKafka()
        try broker.createTopic("words", partitions: 2)
        try broker.createTopic("word-counts-out", partitions: 2)
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateDir) }

        func topology() throws -> Topology {
            let builder = StreamsBuilder()
            builder.addStateStore(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("word-counts"), keySerde: .string, valueSerde: .int64))
            builder.stream("words", Consumed(.string, .string))
                .process(stores: ["word-counts"]) { Counter() }
                .to("word-counts-out", Produced(.string, .int64))
            return try builder.build()
        }
        var config = testConfig("counting", broker.bootstrapServers, commitIntervalMs: 100)
        config.stateDir = stateDir

        func run(words: [String], expectOutputs total: Int) throws -> [String: Int64] {
            let streams = try KafkaStreams(try topology(), config: config)
            try streams.start()
            defer { streams.close() }
            let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers]))
            for word in words {
                try producer.send(topic: "words", partition: nil, key: Array(word.utf8), value: Array(word.utf8), timestamp: nil, headers: Headers())
            }
            try producer.flush(timeoutMs: 10_000)
            let consumer = try KafkaConsumer(
                config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)"]))
            defer { consumer.close() }
            try consumer.assign([TopicPartition(topic: "word-counts-out", partition: 0): -2, TopicPartition(topic: "word-counts-out", partition: 1): -2])
            var latest: [String: Int64] = [:]
            var seen = 0
            let deadline = Date().addingTimeInterval(30)
            while seen < total && Date() < deadline {
                for record in try consumer.poll(max: 100, timeoutMs: 100) {
                    latest[String(decoding: record.key ?? [], as: UTF8.self)] = try Serde<Int64>.int64.deserialize(record.value)
                    seen += 1
                }
            }
            XCTAssertEqual(seen, total)
            return latest
        }

        let first = try run(words: ["a", "b", "a", "c", "a", "b"], expectOutputs: 6)
        XCTAssertEqual(first, ["a": 3, "b": 2, "c": 1])
        for task in ["0_0", "0_1"] {
            var isDirectory: ObjCBool = false
            XCTAssertTrue(
                FileManager.default.fileExists(atPath: "\(stateDir)/counting/\(task)/word-counts", isDirectory: &isDirectory)
                    && isDirectory.boolValue, "store directory of task \(task)")
        }
        // Same state directory: counts go on from what the stores hold.
        let second = try run(words: ["a", "c"], expectOutputs: 8)
        XCTAssertEqual(second["a"], 4)
        XCTAssertEqual(second["c"], 2)
    }
}
