import Foundation
import Rill
import RillRocksDB
import XCTest

/// Under exactly-once a RocksDB store keeps the open transaction's writes apart: its reads see
/// them, the database gets them only at a commit, and a crash (the store reopened without a
/// commit) or a discard loses exactly them.
final class RocksDBTransactionTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-txn-\(UUID().uuidString)").path
        RocksDBTransactions.enable(under: directory)
        try? FileManager.default.createDirectory(atPath: directory + "/task", withIntermediateDirectories: true)
    }

    override func tearDown() {
        RocksDBTransactions.disable(under: directory)
        try? FileManager.default.removeItem(atPath: directory)
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func open() throws -> any BytesKeyValueStore {
        try Stores.persistentKeyValueStore("counts").makeStore(directory: directory + "/task/counts")
    }

    func all(_ store: any BytesKeyValueStore) throws -> [String: String] {
        let iterator = try store.range(from: nil, to: nil)
        var entries: [String: String] = [:]
        while let (key, value) = try iterator.next() {
            entries[String(decoding: key, as: UTF8.self)] = String(decoding: value, as: UTF8.self)
        }
        return entries
    }

    func testCommittedWritesSurviveAReopenAndUncommittedOnesDoNot() throws {
        var store = try open()
        try store.put(bytes("a"), bytes("1"))
        try store.putAll([(bytes("b"), bytes("2")), (bytes("c"), bytes("3"))])
        try RocksDBTransactions.commit(under: directory)
        try store.put(bytes("a"), bytes("10"))
        try store.put(bytes("b"), nil)
        try store.put(bytes("d"), bytes("4"))
        // Reads see the open transaction's writes over the committed ones.
        XCTAssertEqual(try store.get(bytes("a")), bytes("10"))
        XCTAssertNil(try store.get(bytes("b")))
        XCTAssertEqual(try all(store), ["a": "10", "c": "3", "d": "4"])
        try store.flush()  // a flush writes the database, never the open transaction
        store.close()  // a crash: no commit

        store = try open()
        XCTAssertEqual(try all(store), ["a": "1", "b": "2", "c": "3"], "only committed writes are on disk")
        store.close()
    }

    func testADiscardDropsTheOpenTransactionsWrites() throws {
        let store = try open()
        try store.put(bytes("a"), bytes("1"))
        try RocksDBTransactions.commit(under: directory)
        try store.put(bytes("a"), bytes("2"))
        RocksDBTransactions.discard(under: directory)
        XCTAssertEqual(try store.get(bytes("a")), bytes("1"))
        try RocksDBTransactions.commit(under: directory)
        XCTAssertEqual(try store.get(bytes("a")), bytes("1"))
        store.close()
    }

    func testAStoreOutsideTheEnabledDirectoryWritesAtOnce() throws {
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("rill-plain-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        var store = try Stores.persistentKeyValueStore("plain").makeStore(directory: elsewhere)
        try store.put(bytes("a"), bytes("1"))
        try store.flush()
        store.close()
        store = try Stores.persistentKeyValueStore("plain").makeStore(directory: elsewhere)
        XCTAssertEqual(try store.get(bytes("a")), bytes("1"))
        store.close()
    }
}
