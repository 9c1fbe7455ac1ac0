import Foundation
import Rill
import RillKafka
import RillRocksDB
import XCTest

/// Processor API state on the runtime: stores per task under the state directory, changelogs,
/// checkpoints, and restore.
final class StatefulRuntimeTests: XCTestCase {
    /// Counts words per key in the store "word-counts".
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

    /// Restores seen, by store partition: (start, end, restored).
    final class Restores: StateRestoreListener, @unchecked Sendable {
        private let lock = NSLock()
        private var starts: [String: (Int64, Int64)] = [:]
        private var ends: [String: Int64] = [:]
        func onRestoreStart(_ partition: TopicPartition, store: String, startOffset: Int64, endOffset: Int64) {
            lock.withLock { starts["\(partition)"] = (startOffset, endOffset) }
        }
        func onRestoreEnd(_ partition: TopicPartition, store: String, restored: Int64) {
            lock.withLock { ends["\(partition)"] = restored }
        }
        var restored: Int64 { lock.withLock { ends.values.reduce(0, +) } }
        var startOffsets: [String: Int64] { lock.withLock { starts.mapValues(\.0) } }
    }

    var broker: EmbeddedKafka!
    var stateDir = ""

    override func setUpWithError() throws {
        try startBroker()
        stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-state-\(UUID().uuidString)").path
    }

    /// A new, empty cluster in place of the one before.
    func startBroker() throws {
        broker = nil
        broker = try EmbeddedKafka()
        try broker.createTopic("words", partitions: 2)
        try broker.createTopic("word-counts-out", partitions: 2)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: stateDir)
        broker = nil
    }

    func topology(persistent: Bool) throws -> Topology {
        let builder = StreamsBuilder()
        let supplier = persistent ? Stores.persistentKeyValueStore("word-counts") : Stores.inMemoryKeyValueStore("word-counts")
        builder.addStateStore(Stores.keyValueStoreBuilder(supplier, keySerde: .string, valueSerde: .int64))
        builder.stream("words", Consumed(.string, .string))
            .process(stores: ["word-counts"]) { Counter() }
            .to("word-counts-out", Produced(.string, .int64))
        return try builder.build()
    }

    /// Runs the app over `words`, returning the latest count per word in the output (which holds
    /// `expectOutputs` records in all by then).
    func run(_ words: [String], expectOutputs total: Int, persistent: Bool = true, listener: Restores? = nil) throws
        -> [String: Int64]
    {
        var config = testConfig("counting", broker.bootstrapServers, commitIntervalMs: 100)
        config.stateDir = stateDir
        let streams = try KafkaStreams(try topology(persistent: persistent), config: config)
        if let listener { streams.setGlobalStateRestoreListener(listener) }
        try streams.start()
        defer { XCTAssertTrue(streams.close(timeout: .seconds(20))) }
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers]))
        for word in words {
            try producer.send(
                topic: "words", partition: nil, key: Array(word.utf8), value: Array(word.utf8), timestamp: nil,
                headers: Headers())
        }
        try producer.flush(timeoutMs: 10_000)
        let consumer = try KafkaConsumer(
            config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)"]))
        defer { consumer.close() }
        try consumer.assign([
            TopicPartition(topic: "word-counts-out", partition: 0): -2, TopicPartition(topic: "word-counts-out", partition: 1): -2,
        ])
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

    let firstWords = ["a", "b", "a", "c", "a", "b"]

    func testStoresLiveUnderStateDirPerTaskWithACheckpointAndNeedNoRestoreAfterACleanRestart() throws {
        XCTAssertEqual(try run(firstWords, expectOutputs: 6), ["a": 3, "b": 2, "c": 1])
        for task in ["0_0", "0_1"] {
            var isDirectory: ObjCBool = false
            XCTAssertTrue(
                FileManager.default.fileExists(atPath: "\(stateDir)/counting/\(task)/word-counts", isDirectory: &isDirectory)
                    && isDirectory.boolValue, "store directory of task \(task)")
            let checkpoint = try String(contentsOfFile: "\(stateDir)/counting/\(task)/.checkpoint", encoding: .utf8)
            XCTAssertTrue(checkpoint.hasPrefix("0\n1\ncounting-word-counts-changelog \(task.last!) "), checkpoint)
        }
        let restores = Restores()
        let second = try run(["a", "c"], expectOutputs: 8, listener: restores)
        XCTAssertEqual(second["a"], 4)
        XCTAssertEqual(second["c"], 2)
        XCTAssertEqual(restores.restored, 0, "a clean restart replays nothing")
    }

    func testAWipedStateDirectoryIsRestoredFromTheChangelog() throws {
        XCTAssertEqual(try run(firstWords, expectOutputs: 6), ["a": 3, "b": 2, "c": 1])
        try FileManager.default.removeItem(atPath: stateDir)
        let restores = Restores()
        let second = try run(["a", "c", "b"], expectOutputs: 9, listener: restores)
        XCTAssertEqual(second, ["a": 4, "b": 3, "c": 2])
        XCTAssertEqual(restores.restored, 6, "every changelog record replayed")
        XCTAssertTrue(restores.startOffsets.values.allSatisfy { $0 == 0 }, "\(restores.startOffsets)")
    }

    func testInMemoryStoresAreRestoredFromTheChangelogOnEveryStart() throws {
        XCTAssertEqual(try run(firstWords, expectOutputs: 6, persistent: false), ["a": 3, "b": 2, "c": 1])
        let restores = Restores()
        let second = try run(["b"], expectOutputs: 7, persistent: false, listener: restores)
        XCTAssertEqual(second["b"], 3)
        XCTAssertEqual(restores.restored, 6)
    }

    func testACorruptCheckpointWipesTheStoresAndRestoresThem() throws {
        XCTAssertEqual(try run(firstWords, expectOutputs: 6), ["a": 3, "b": 2, "c": 1])
        for task in ["0_0", "0_1"] {
            try "garbage".write(toFile: "\(stateDir)/counting/\(task)/.checkpoint", atomically: true, encoding: .utf8)
        }
        let restores = Restores()
        let second = try run(["c"], expectOutputs: 7, listener: restores)
        XCTAssertEqual(second["c"], 2)
        XCTAssertEqual(restores.restored, 6)
    }

    /// State left by a run against another cluster (an earlier `rill dev-broker`, say) does not leak
    /// into this one: a store checkpointed beyond this cluster's changelog, or one with no checkpoint
    /// at all, is wiped and rebuilt from this cluster's changelog.
    func testStateLeftByARunAgainstAnotherClusterIsWipedAndRebuilt() throws {
        XCTAssertEqual(try run(firstWords, expectOutputs: 6), ["a": 3, "b": 2, "c": 1])
        try startBroker()
        XCTAssertEqual(try run(["a"], expectOutputs: 1), ["a": 1], "checkpointed past the new changelog's end")
        for task in ["0_0", "0_1"] { try FileManager.default.removeItem(atPath: "\(stateDir)/counting/\(task)/.checkpoint") }
        try startBroker()
        XCTAssertEqual(try run(["a", "b"], expectOutputs: 2), ["a": 1, "b": 1], "no checkpoint")
    }

    func testAChangelogWithTheWrongPartitionCountIsAnErrorNamingIt() throws {
        try broker.createTopic("counting-word-counts-changelog", partitions: 5)
        var config = testConfig("counting", broker.bootstrapServers, commitIntervalMs: 100)
        config.stateDir = stateDir
        let streams = try KafkaStreams(try topology(persistent: true), config: config)
        XCTAssertThrowsError(try streams.start()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("'counting-word-counts-changelog'") && text.contains("5") && text.contains("2"), text)
        }
    }

    func testWordCountWithGroupByRunsThroughRepartitionAndARocksDBTable() throws {
        try broker.createTopic("lines", partitions: 2)
        try broker.createTopic("word-totals", partitions: 2)
        let builder = StreamsBuilder()
        builder.stream("lines", Consumed(Serde<String>.string.optional, .string))  // the lines have no key
            .flatMapValues { $0.split(separator: " ").map(String.init) }
            .groupBy({ _, word in word }, Grouped(named: "words", keySerde: .string, valueSerde: .string))
            .count(materialized: .as("totals"))
            .toStream()
            .to("word-totals", Produced(.string, Serde<Int64>.int64.optional))
        var config = testConfig("wc", broker.bootstrapServers, commitIntervalMs: 100)
        config.stateDir = stateDir
        let streams = try KafkaStreams(try builder.build(), config: config)
        try streams.start()
        defer { streams.close() }
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers]))
        for (index, line) in ["to be or not to be", "be quick", "or be slow"].enumerated() {
            try producer.send(topic: "lines", partition: Int32(index % 2), key: nil, value: Array(line.utf8), timestamp: nil, headers: Headers())
        }
        try producer.flush(timeoutMs: 10_000)
        let consumer = try KafkaConsumer(
            config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)"]))
        defer { consumer.close() }
        try consumer.assign([TopicPartition(topic: "word-totals", partition: 0): -2, TopicPartition(topic: "word-totals", partition: 1): -2])
        let expected: [String: Int64] = ["to": 2, "be": 4, "or": 2, "not": 1, "quick": 1, "slow": 1]
        var latest: [String: Int64] = [:]
        var seen = 0
        let deadline = Date().addingTimeInterval(30)
        while latest != expected && Date() < deadline {
            for record in try consumer.poll(max: 100, timeoutMs: 100) {
                latest[String(decoding: record.key ?? [], as: UTF8.self)] = try Serde<Int64>.int64.deserialize(record.value)
                seen += 1
            }
        }
        XCTAssertEqual(latest, expected)
        // The record cache collapses a word's updates between commits: at most one per word occurrence.
        XCTAssertTrue((6...11).contains(seen), "\(seen) updates")
        // The table lives in RocksDB under the task of sub-topology 1.
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(stateDir)/wc/1_0/totals/CURRENT"))
        let admin = try KafkaAdmin(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers]))
        XCTAssertEqual(
            try admin.partitionCounts(topics: ["wc-words-repartition", "wc-totals-changelog"], timeoutMs: 5_000),
            ["wc-words-repartition": 2, "wc-totals-changelog": 2])
    }

    func testAGlobalTableIsRestoredBeforeProcessingAndFollowedAfterwards() throws {
        try broker.createTopic("global-products", partitions: 1)
        try broker.createTopic("global-orders", partitions: 3)
        try broker.createTopic("global-named", partitions: 3)
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers]))
        func send(_ topic: String, _ key: String, _ value: String) throws {
            try producer.send(topic: topic, partition: nil, key: Array(key.utf8), value: Array(value.utf8), timestamp: nil, headers: Headers())
        }
        for n in 0..<200 { try send("global-products", "p\(n)", "product \(n)") }
        try producer.flush(timeoutMs: 10_000)
        let builder = StreamsBuilder()
        let products = builder.globalTable("global-products", Consumed(.string, .string), materialized: .as("products"))
        builder.stream("global-orders", Consumed(.string, .string))
            .join(products, keySelector: { _, product in product }, joiner: { _, name in name })
            .to("global-named", Produced(.string, .string))
        var config = testConfig("global-app", broker.bootstrapServers, commitIntervalMs: 100)
        config.stateDir = stateDir
        let streams = try KafkaStreams(try builder.build(), config: config)
        try streams.start()
        defer { streams.close() }
        // Orders for products loaded before the start: the table was read whole first.
        for n in 0..<3 { try send("global-orders", "o\(n)", "p\(n * 50)") }
        try producer.flush(timeoutMs: 10_000)
        let consumer = try KafkaConsumer(
            config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)"]))
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<3).map { (TopicPartition(topic: "global-named", partition: $0), Int64(-2)) }))
        func read(_ count: Int) throws -> Set<String> {
            var values: Set<String> = []
            let deadline = Date().addingTimeInterval(30)
            while values.count < count && Date() < deadline {
                for record in try consumer.poll(max: 100, timeoutMs: 100) { values.insert(String(decoding: record.value ?? [], as: UTF8.self)) }
            }
            return values
        }
        XCTAssertEqual(try read(3), ["product 0", "product 50", "product 100"])
        // An update of the global topic reaches the table while the application runs.
        try send("global-products", "p7", "renamed 7")
        try producer.flush(timeoutMs: 10_000)
        let store = "\(stateDir)/global-app/global/products"
        XCTAssertTrue(FileManager.default.fileExists(atPath: store + "/CURRENT"), "the global table is in RocksDB")
        var seen: Set<String> = []
        let deadline = Date().addingTimeInterval(30)
        while !seen.contains("renamed 7") && Date() < deadline {
            try send("global-orders", "o-late", "p7")
            try producer.flush(timeoutMs: 10_000)
            seen.formUnion(try read(1))
        }
        XCTAssertTrue(seen.contains("renamed 7"), "\(seen)")
    }
}
