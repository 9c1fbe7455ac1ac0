import CRocksDB
import Foundation
import Rill
import RillRocksDB
import RillTestDriver
import XCTest

/// One contract for window and session stores, run in memory here and on RocksDB in the subclass,
/// through the typed stores a topology builds (with their changelogs).
class InMemoryWindowStoreTests: XCTestCase {
    func windowSupplier(_ name: String, retention: Int64, size: Int64, duplicates: Bool = false) throws
        -> any WindowBytesStoreSupplier
    {
        try Stores.inMemoryWindowStore(name, retentionPeriod: retention, windowSize: size, retainDuplicates: duplicates)
    }

    func sessionSupplier(_ name: String, retention: Int64) throws -> any SessionBytesStoreSupplier {
        try Stores.inMemorySessionStore(name, retentionPeriod: retention)
    }

    /// A driver whose topology holds `store` (connected to a processor that does nothing).
    func driver(with store: any StoreBuilder, stateDirectory: String? = nil) throws -> TopologyTestDriver {
        let topology = Topology()
        try topology.addSource(name: "in", topics: ["in"], keySerde: .string, valueSerde: .string)
        try topology.addProcessor(name: "holder", parents: ["in"], stores: [store.name]) { NothingProcessor() }
        try topology.addStateStore(store)
        return try TopologyTestDriver(topology, config: StreamsConfig(applicationID: "app"), stateDirectory: stateDirectory)
    }

    func windowStore(retention: Int64 = 600_000, size: Int64 = 1_000, duplicates: Bool = false) throws
        -> (TopologyTestDriver, any WindowStore<String, Int64>)
    {
        let driver = try driver(with: Stores.windowStoreBuilder(
            windowSupplier("windows", retention: retention, size: size, duplicates: duplicates), keySerde: .string,
            valueSerde: .int64))
        return (driver, try driver.windowStore(named: "windows"))
    }

    func testPutFetchOverwriteAndDelete() throws {
        let (driver, store) = try windowStore()
        defer { driver.close() }
        XCTAssertNil(try store.fetch("a", windowStart: 0))
        try store.put("a", 1, windowStart: 0)
        try store.put("a", 2, windowStart: 1_000)
        try store.put("a", 3, windowStart: 0)
        XCTAssertEqual(try store.fetch("a", windowStart: 0), 3)
        XCTAssertEqual(try store.fetch("a", windowStart: 1_000), 2)
        try store.put("a", nil, windowStart: 0)
        XCTAssertNil(try store.fetch("a", windowStart: 0))
        XCTAssertEqual(try store.all().map(\.key), [Windowed("a", Window(start: 1_000, end: 2_000))])
    }

    func testFetchRangeIsByStartAndNeverMixesKeysSharingAPrefix() throws {
        let (driver, store) = try windowStore()
        defer { driver.close() }
        for (key, start) in [("a", 3_000), ("ab", 1_000), ("a", 1_000), ("a", 2_000), ("b", 1_000), ("a", 9_000)] {
            try store.put(key, Int64(start), windowStart: Int64(start))
        }
        XCTAssertEqual(try store.fetch("a", from: 1_000, to: 3_000).map(\.key), [1_000, 2_000, 3_000])
        XCTAssertEqual(try store.fetch("a", from: 1_500, to: 8_999).map(\.key), [2_000, 3_000])
        XCTAssertEqual(try store.fetch("ab", from: 0, to: 10_000).map(\.key), [1_000])
        XCTAssertEqual(try store.fetch("a", from: 5_000, to: 1_000).count, 0)
        let all = try store.fetchAll(from: 1_000, to: 2_000).map { "\($0.key.key)@\($0.key.window.start)-\($0.key.window.end)" }
        XCTAssertEqual(all, ["a@1000-2000", "ab@1000-2000", "b@1000-2000", "a@2000-3000"])
    }

    func testWindowsOlderThanTheRetentionExpireAndLateWritesAreDropped() throws {
        let (driver, store) = try windowStore(retention: 120_000, size: 1_000)
        defer { driver.close() }
        try store.put("k", 1, windowStart: 0)
        try store.put("k", 2, windowStart: 60_000)
        XCTAssertEqual(try store.fetch("k", windowStart: 0), 1)
        // Stream time 400 s: everything before 280 s is gone, in whole segments.
        try store.put("k", 3, windowStart: 400_000)
        XCTAssertNil(try store.fetch("k", windowStart: 0))
        XCTAssertNil(try store.fetch("k", windowStart: 60_000))
        try store.put("k", 4, windowStart: 10_000)
        XCTAssertNil(try store.fetch("k", windowStart: 10_000))
        XCTAssertEqual(try store.all().map(\.value), [3])
    }

    func testAStoreRetainingDuplicatesKeepsEveryPut() throws {
        let (driver, store) = try windowStore(duplicates: true)
        defer { driver.close() }
        try store.put("k", 1, windowStart: 5_000)
        try store.put("k", 2, windowStart: 5_000)
        try store.put("k", nil, windowStart: 5_000)
        XCTAssertEqual(try store.fetch("k", from: 5_000, to: 5_000).map(\.value), [1, 2])
    }

    func testWindowWritesGoToACompactedAndDeletedChangelog() throws {
        let (driver, store) = try windowStore()
        defer { driver.close() }
        try store.put("k", 7, windowStart: 2_000)
        let changelog = try driver.createOutputTopic("app-windows-changelog", keySerde: .bytes, valueSerde: .int64)
        let record = try XCTUnwrap(try changelog.readKeyValue())
        // Kafka Streams' layout: key, window start, sequence number.
        XCTAssertEqual(record.key, Array("k".utf8) + [0, 0, 0, 0, 0, 0, 0x07, 0xD0] + [0, 0, 0, 0])
        XCTAssertEqual(record.value, 7)
        let builder = Stores.windowStoreBuilder(
            try windowSupplier("w", retention: 60_000, size: 1_000), keySerde: .string, valueSerde: .int64)
        XCTAssertEqual(builder.changelogConfig["cleanup.policy"], "compact,delete")
        XCTAssertEqual(builder.changelogConfig["retention.ms"], String(60_000 + 86_400_000))
    }

    func testWindowSizeAndRetentionAreChecked() {
        XCTAssertThrowsError(try windowSupplier("bad-size", retention: 10, size: 0)) { error in
            XCTAssertTrue("\(error)".contains("'bad-size'") && "\(error)".contains("window size"), "\(error)")
        }
        XCTAssertThrowsError(try windowSupplier("short", retention: 10, size: 100)) { error in
            XCTAssertTrue("\(error)".contains("'short'") && "\(error)".contains("retention"), "\(error)")
        }
    }

    // MARK: - Sessions

    func sessionStore(retention: Int64 = 600_000) throws -> (TopologyTestDriver, any SessionStore<String, Int64>) {
        let driver = try driver(with: Stores.sessionStoreBuilder(
            sessionSupplier("sessions", retention: retention), keySerde: .string, valueSerde: .int64))
        return (driver, try driver.sessionStore(named: "sessions"))
    }

    func session(_ key: String, _ start: Int64, _ end: Int64) -> Windowed<String> {
        Windowed(key, Window(start: start, end: end))
    }

    func testSessionsPutFetchAndRemove() throws {
        let (driver, store) = try sessionStore()
        defer { driver.close() }
        try store.put(session("a", 0, 10), 2)
        try store.put(session("a", 100, 150), 5)
        try store.put(session("ab", 0, 10), 1)
        XCTAssertEqual(try store.fetchSession("a", start: 0, end: 10), 2)
        XCTAssertNil(try store.fetchSession("a", start: 0, end: 11))
        XCTAssertEqual(try store.fetch("a").map(\.key), [session("a", 0, 10), session("a", 100, 150)])
        try store.remove(session("a", 0, 10))
        XCTAssertEqual(try store.fetch("a").map(\.value), [5])
        XCTAssertEqual(try store.all().map(\.key), [session("ab", 0, 10), session("a", 100, 150)])
    }

    func testFindSessionsReturnsTheSessionsOverlappingARange() throws {
        let (driver, store) = try sessionStore()
        defer { driver.close() }
        try store.put(session("k", 0, 10), 1)
        try store.put(session("k", 20, 30), 2)
        try store.put(session("k", 50, 60), 3)
        try store.put(session("kk", 20, 30), 9)
        XCTAssertEqual(try store.findSessions("k", earliestSessionEnd: 15, latestSessionStart: 55).map(\.value), [2, 3])
        XCTAssertEqual(try store.findSessions("k", earliestSessionEnd: 10, latestSessionStart: 19).map(\.value), [1])
        XCTAssertEqual(try store.findSessions("k", earliestSessionEnd: 61, latestSessionStart: 100).count, 0)
    }

    func testSessionsOlderThanTheRetentionExpire() throws {
        let (driver, store) = try sessionStore(retention: 60_000)
        defer { driver.close() }
        try store.put(session("k", 0, 1_000), 1)
        try store.put(session("k", 500_000, 500_000), 2)
        XCTAssertEqual(try store.fetch("k").map(\.value), [2])
    }
}

final class RocksDBWindowStoreTests: InMemoryWindowStoreTests {
    override func windowSupplier(_ name: String, retention: Int64, size: Int64, duplicates: Bool = false) throws
        -> any WindowBytesStoreSupplier
    {
        try Stores.persistentWindowStore(name, retentionPeriod: retention, windowSize: size, retainDuplicates: duplicates)
    }

    override func sessionSupplier(_ name: String, retention: Int64) throws -> any SessionBytesStoreSupplier {
        try Stores.persistentSessionStore(name, retentionPeriod: retention)
    }

    func testSegmentsAreKeyRangesOfOneDatabaseThatSurviveAReopenAndExpireWhole() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-ws-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let builder = Stores.windowStoreBuilder(
            try windowSupplier("w", retention: 120_000, size: 1_000), keySerde: .string, valueSerde: .int64
        ).withLoggingDisabled()
        let storeDirectory = directory + "/app/0_0/w"
        do {
            let first = try driver(with: builder, stateDirectory: directory)
            let store: any WindowStore<String, Int64> = try first.windowStore(named: "w")
            try store.put("k", 1, windowStart: 1_000)
            try store.put("k", 2, windowStart: 61_000)
            first.close()
        }
        // One database for the store, in one column family; segments of 60 s are its key prefixes 0 and 1.
        XCTAssertEqual(columnFamilies(storeDirectory), ["default"])
        XCTAssertEqual(segmentPrefixes(storeDirectory), [0, 1])
        let second = try driver(with: builder, stateDirectory: directory)
        defer { second.close() }
        let store: any WindowStore<String, Int64> = try second.windowStore(named: "w")
        XCTAssertEqual(try store.fetch("k", windowStart: 1_000), 1)
        XCTAssertEqual(try store.fetch("k", windowStart: 61_000), 2)
        try store.put("k", 3, windowStart: 250_000)
        XCTAssertNil(try store.fetch("k", windowStart: 1_000))
        XCTAssertEqual(try store.fetchAll(from: 0, to: 300_000).map(\.value), [3])
        second.close()
        XCTAssertEqual(segmentPrefixes(storeDirectory), [4])
    }

    func testAStoreWithSegmentsInColumnFamiliesIsRefusedByName() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-ws-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let storeDirectory = directory + "/app/0_0/w"
        try FileManager.default.createDirectory(atPath: storeDirectory, withIntermediateDirectories: true)
        let options = rocksdb_options_create()
        defer { rocksdb_options_destroy(options) }
        rocksdb_options_set_create_if_missing(options, 1)
        var error: UnsafeMutablePointer<CChar>?
        let db = rocksdb_open(options, storeDirectory, &error)
        XCTAssertNil(error)
        let family = rocksdb_create_column_family(db, options, "w.0", &error)
        XCTAssertNil(error)
        rocksdb_column_family_handle_destroy(family)
        rocksdb_close(db)
        let builder = Stores.windowStoreBuilder(
            try windowSupplier("w", retention: 120_000, size: 1_000), keySerde: .string, valueSerde: .int64
        ).withLoggingDisabled()
        XCTAssertThrowsError(try driver(with: builder, stateDirectory: directory)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("w.0") && message.contains(storeDirectory), message)
        }
    }

    /// The column families of the closed database at `path`.
    func columnFamilies(_ path: String) -> [String] {
        let options = rocksdb_options_create()
        defer { rocksdb_options_destroy(options) }
        var count = 0
        var error: UnsafeMutablePointer<CChar>?
        guard let list = rocksdb_list_column_families(options, path, &count, &error) else { return [] }
        defer { rocksdb_list_column_families_destroy(list, count) }
        return (0..<count).compactMap { list[$0].map { String(cString: $0) } }.sorted()
    }

    /// The segment ids under which the closed database at `path` holds keys.
    func segmentPrefixes(_ path: String) -> [Int64] {
        let options = rocksdb_options_create()
        defer { rocksdb_options_destroy(options) }
        var error: UnsafeMutablePointer<CChar>?
        guard let db = rocksdb_open_for_read_only(options, path, 0, &error) else { return [] }
        defer { rocksdb_close(db) }
        let readOptions = rocksdb_readoptions_create()
        defer { rocksdb_readoptions_destroy(readOptions) }
        let iterator = rocksdb_create_iterator(db, readOptions)
        defer { rocksdb_iter_destroy(iterator) }
        var ids: [Int64] = []
        rocksdb_iter_seek_to_first(iterator)
        while rocksdb_iter_valid(iterator) != 0 {
            var length = 0
            let key = UnsafeRawBufferPointer(start: rocksdb_iter_key(iterator, &length), count: length)
            let id = Int64(bitPattern: key.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } ^ (1 << 63))
            if ids.last != id { ids.append(id) }
            rocksdb_iter_next(iterator)
        }
        return ids
    }
}

final class NothingProcessor: Processor {
    typealias KIn = String
    typealias VIn = String
    typealias KOut = String
    typealias VOut = String
    func initialize(context: ProcessorContext<String, String>) throws {}
    func process(_ record: Record<String, String>) throws {}
}
