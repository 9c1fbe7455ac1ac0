import Foundation
import Rill
import RillRocksDB
import RillTestDriver
import XCTest

/// One contract, run against every key-value store kind: in memory here, RocksDB in the subclass.
class InMemoryKeyValueStoreTests: XCTestCase {
    /// Subclasses make the store under test.
    func makeStore(_ name: String) throws -> any BytesKeyValueStore {
        InMemoryKeyValueStore(name: name)
    }

    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-kv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func keys(_ iterator: any BytesKeyValueIterator) throws -> [String] {
        var result: [String] = []
        while let entry = try iterator.next() { result.append(String(decoding: entry.key, as: UTF8.self)) }
        return result
    }

    func testPutGetOverwriteAndDelete() throws {
        let store = try makeStore("kv")
        defer { store.close() }
        XCTAssertNil(try store.get(bytes("a")))
        try store.put(bytes("a"), bytes("1"))
        try store.put(bytes("b"), bytes("2"))
        try store.put(bytes("a"), bytes("3"))
        XCTAssertEqual(try store.get(bytes("a")), bytes("3"))
        try store.put(bytes("b"), nil)
        XCTAssertNil(try store.get(bytes("b")))
        XCTAssertEqual(try keys(store.range(from: nil, to: nil)), ["a"])
        XCTAssertEqual(try store.get(bytes("a")), bytes("3"))
    }

    func testRangesAreInclusiveAndOrderedByUnsignedBytes() throws {
        let store = try makeStore("ranges")
        defer { store.close() }
        for key in ["b", "a", "d", "c", "ab"] { try store.put(bytes(key), bytes(key.uppercased())) }
        try store.put([0xFF], [1])
        try store.put([0x01], [2])
        let all = store
        var ordered: [[UInt8]] = []
        let iterator = try all.range(from: nil, to: nil)
        while let entry = try iterator.next() { ordered.append(entry.key) }
        XCTAssertEqual(ordered, [[0x01], bytes("a"), bytes("ab"), bytes("b"), bytes("c"), bytes("d"), [0xFF]])
        XCTAssertEqual(try keys(store.range(from: bytes("ab"), to: bytes("c"))), ["ab", "b", "c"])
        XCTAssertEqual(try keys(store.range(from: bytes("bb"), to: nil)).count, 3)
        XCTAssertEqual(try keys(store.range(from: nil, to: bytes("a"))).count, 2)
        XCTAssertEqual(try keys(store.range(from: bytes("x"), to: bytes("y"))), [])
    }

    func testPutAllWritesAndDeletesInOneBatch() throws {
        let store = try makeStore("batch")
        defer { store.close() }
        try store.put(bytes("gone"), bytes("x"))
        try store.putAll([(bytes("k1"), bytes("v1")), (bytes("k2"), bytes("v2")), (bytes("gone"), nil)])
        XCTAssertEqual(try keys(store.range(from: nil, to: nil)), ["k1", "k2"])
        XCTAssertEqual(try store.approximateNumEntries(), 2)
    }

    func testPutAllOfTheSameKeyTwiceKeepsItsLastWrite() throws {
        let store = try makeStore("twice")
        defer { store.close() }
        try store.put(bytes("a"), bytes("0"))
        // RocksDB writes a batch in key order; writes of one key keep theirs.
        try store.putAll([
            (bytes("b"), bytes("1")), (bytes("a"), bytes("2")), (bytes("b"), nil), (bytes("c"), bytes("3")),
            (bytes("a"), nil), (bytes("b"), bytes("4")), (bytes("a"), bytes("5")),
        ])
        XCTAssertEqual(try store.get(bytes("a")), bytes("5"))
        XCTAssertEqual(try store.get(bytes("b")), bytes("4"))
        XCTAssertEqual(try keys(store.range(from: nil, to: nil)), ["a", "b", "c"])
    }

    func testTypedStoreThroughATopology() throws {
        // The typed layer over this store kind, used by a processor through the test driver.
        let counts = Stores.keyValueStoreBuilder(supplier("counts"), keySerde: .string, valueSerde: .int64)
        let topology = Topology()
        try topology.addSource(name: "in", topics: ["words"], keySerde: .string, valueSerde: .string)
        try topology.addProcessor(name: "count", parents: ["in"], stores: ["counts"]) { CountingProcessor() }
        try topology.addSink(name: "out", topic: "counts", keySerde: .string, valueSerde: .int64, parents: ["count"])
        try topology.addStateStore(counts)
        let driver = try TopologyTestDriverFactory.make(topology)
        defer { driver.close() }
        var input = try driver.createInputTopic("words", keySerde: .string, valueSerde: .string)
        let output = try driver.createOutputTopic("counts", keySerde: .string, valueSerde: .int64)
        for word in ["a", "b", "a", "c", "a"] { try input.pipeInput(key: word, value: word, timestamp: 0) }
        XCTAssertEqual(try output.readValuesToList(), [1, 1, 2, 1, 3])
        let store: any KeyValueStore<String, Int64> = try driver.keyValueStore(named: "counts")
        XCTAssertEqual(try store.get("a"), 3)
        XCTAssertEqual(try store.all().collect().map(\.key), ["a", "b", "c"])
        XCTAssertEqual(try store.range(from: "b", to: "c").collect(), [KeyValue("b", 1), KeyValue("c", 1)])
    }

    func testDSLProcessorWithAStoreAndItsDescription() throws {
        let builder = StreamsBuilder()
        builder.addStateStore(Stores.keyValueStoreBuilder(supplier("counts"), keySerde: .string, valueSerde: .int64))
        builder.stream("words", Consumed(.string, .string))
            .process(named: "counter", stores: ["counts"]) { CountingProcessor() }
            .to("counts", Produced(.string, .int64))
        let topology = try builder.build()
        XCTAssertTrue("\(topology.describe())".contains("Processor: counter (stores: [counts])"))
        let driver = try TopologyTestDriver(topology)
        defer { driver.close() }
        var input = try driver.createInputTopic("words", keySerde: .string, valueSerde: .string)
        for word in ["x", "y", "x"] { try input.pipeInput(key: word, value: word, timestamp: 0) }
        XCTAssertEqual(try driver.createOutputTopic("counts", keySerde: .string, valueSerde: .int64).readValuesToList(), [1, 1, 2])
        XCTAssertEqual(try driver.keyValueStore(named: "counts", keyType: String.self, valueType: Int64.self).get("x"), 2)
    }

    func testWritesGoToTheChangelogUnlessLoggingIsDisabled() throws {
        func driver(logging: Bool) throws -> TopologyTestDriver {
            var builder = Stores.keyValueStoreBuilder(supplier("counts"), keySerde: .string, valueSerde: .int64)
            if !logging { builder = builder.withLoggingDisabled() }
            let topology = Topology()
            try topology.addSource(name: "in", topics: ["words"], keySerde: .string, valueSerde: .string)
            try topology.addProcessor(name: "count", parents: ["in"], stores: ["counts"]) { CountingProcessor() }
            try topology.addSink(name: "out", topic: "counts", keySerde: .string, valueSerde: .int64, parents: ["count"])
            try topology.addStateStore(builder)
            return try TopologyTestDriver(topology, config: StreamsConfig(applicationID: "app"))
        }
        let logged = try driver(logging: true)
        defer { logged.close() }
        var input = try logged.createInputTopic("words", keySerde: .string, valueSerde: .string)
        for word in ["a", "b", "a"] { try input.pipeInput(key: word, value: word, timestamp: 7) }
        let changelog = try logged.createOutputTopic("app-counts-changelog", keySerde: .string, valueSerde: .int64)
        XCTAssertEqual(try changelog.readKeyValuesToList(), [KeyValue("a", 1), KeyValue("b", 1), KeyValue("a", 2)])

        let unlogged = try driver(logging: false)
        defer { unlogged.close() }
        var again = try unlogged.createInputTopic("words", keySerde: .string, valueSerde: .string)
        try again.pipeInput(key: "a", value: "a", timestamp: 7)
        XCTAssertFalse(unlogged.producedTopicNames.contains("app-counts-changelog"))
    }

    func supplier(_ name: String) -> any KeyValueBytesStoreSupplier { Stores.inMemoryKeyValueStore(name) }
}

final class RocksDBKeyValueStoreTests: InMemoryKeyValueStoreTests {
    override func makeStore(_ name: String) throws -> any BytesKeyValueStore {
        try RocksDBKeyValueStore(name: name, path: directory + "/" + name)
    }

    override func supplier(_ name: String) -> any KeyValueBytesStoreSupplier { Stores.persistentKeyValueStore(name) }

    func testDataSurvivesCloseAndReopen() throws {
        let first = try makeStore("durable")
        try first.put(bytes("k"), bytes("v"))
        try first.flush()
        first.close()
        let second = try makeStore("durable")
        defer { second.close() }
        XCTAssertEqual(try second.get(bytes("k")), bytes("v"))
    }

    func testTheDriverKeepsPersistentStoresInATemporaryDirectoryItRemovesOnClose() throws {
        let topology = Topology()
        try topology.addSource(name: "in", topics: ["words"], keySerde: .string, valueSerde: .string)
        try topology.addProcessor(name: "count", parents: ["in"], stores: ["counts"]) { CountingProcessor() }
        try topology.addSink(name: "out", topic: "counts", keySerde: .string, valueSerde: .int64, parents: ["count"])
        try topology.addStateStore(Stores.keyValueStoreBuilder(supplier("counts"), keySerde: .string, valueSerde: .int64))
        let driver = try TopologyTestDriver(topology, config: StreamsConfig(applicationID: "temp"))
        let storePath = driver.stateDirectory + "/temp/0_0/counts"
        XCTAssertTrue(driver.stateDirectory.hasPrefix(FileManager.default.temporaryDirectory.path), driver.stateDirectory)
        XCTAssertTrue(FileManager.default.fileExists(atPath: storePath), storePath)
        driver.close()
        XCTAssertFalse(FileManager.default.fileExists(atPath: driver.stateDirectory))
    }

    func testTheConfigSetterSeesEveryStoreItOpens() throws {
        final class Seen: @unchecked Sendable {
            let lock = NSLock()
            var names: [String] = []
        }
        let seen = Seen()
        let environment = RocksDBEnvironment(totalMemoryBytes: 8 << 20) { name, _ in
            seen.lock.withLock { seen.names.append(name) }
        }
        let store = try RocksDBKeyValueStore(name: "configured", path: directory + "/configured", environment: environment)
        try store.put(Array("k".utf8), [UInt8](repeating: 1, count: 10_000))
        XCTAssertGreaterThan(environment.memtableUsage, 0, "memtables are counted by the shared write-buffer manager")
        store.close()
        XCTAssertEqual(seen.lock.withLock { seen.names }, ["configured"])
    }

    func testUnopenablePathIsAnErrorNamingTheStore() {
        XCTAssertThrowsError(try RocksDBKeyValueStore(name: "nowhere", path: "/proc/rill-cannot-write-here/db")) { error in
            XCTAssertTrue("\(error)".contains("'nowhere'"), "\(error)")
        }
    }
}

/// Counts records per key in the store "counts" and forwards the count.
final class CountingProcessor: Processor {
    typealias KIn = String
    typealias VIn = String
    var context: ProcessorContext<String, Int64>!
    var counts: (any KeyValueStore<String, Int64>)!

    func initialize(context: ProcessorContext<String, Int64>) throws {
        self.context = context
        counts = try context.keyValueStore(named: "counts")
    }

    func process(_ record: Record<String, String>) throws {
        let count = (try counts.get(record.key) ?? 0) + 1
        try counts.put(record.key, count)
        try context.forward(record.withValue(count))
    }
}
