import CRocksDB
import Foundation
import Rill

/// A key-value byte store in RocksDB: a database of its own, or one time segment of a segmented
/// store's database (its keys under the segment's prefix). The write-ahead log is off: the changelog
/// topic is the store's log; ``flush()`` (at checkpoints) makes writes durable. Under exactly-once its
/// writes wait in the database's batch until the transaction commits (``RocksDBTransactions``).
public final class RocksDBKeyValueStore: BytesKeyValueStore {
    public let name: String
    public var persistent: Bool { true }
    public var path: String { database.path }
    private let database: RocksDBDatabase
    private var family: OpaquePointer?
    private let ownsDatabase: Bool
    /// Put before every key in the database (a segment's id); empty for a store of its own.
    private let keyPrefix: [UInt8]
    private var writeOptions: OpaquePointer { database.writeOptions }
    private var readOptions: OpaquePointer { database.readOptions }

    /// Opens (or creates) the database at `path`.
    public convenience init(name: String, path: String, environment: RocksDBEnvironment = .shared) throws {
        let database = try RocksDBDatabase(store: name, path: path, environment: environment)
        self.init(name: name, database: database, family: try database.handle().family, ownsDatabase: true)
    }

    init(name: String, database: RocksDBDatabase, family: OpaquePointer, ownsDatabase: Bool, keyPrefix: [UInt8] = []) {
        self.name = name
        self.database = database
        self.family = family
        self.ownsDatabase = ownsDatabase
        self.keyPrefix = keyPrefix
    }

    private func handle() throws -> (db: OpaquePointer, family: OpaquePointer) {
        guard let family, let db = database.db else { throw StateStoreError(store: name, message: "the store is closed") }
        return (db, family)
    }

    private func check(_ error: UnsafeMutablePointer<CChar>?, _ what: String) throws {
        if let message = take(error) { throw StateStoreError(store: name, message: "\(what) failed: \(message)") }
    }

    /// Calls `body` with `key` as the database holds it: after the prefix, on the stack.
    @inline(__always)
    private func withStoredKey<R>(_ key: [UInt8], _ body: (UnsafeBufferPointer<CChar>) -> R) -> R {
        guard !keyPrefix.isEmpty else {
            return key.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self, body) }
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: keyPrefix.count + key.count) { buffer in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.copyBytes(from: keyPrefix)
            UnsafeMutableRawBufferPointer(rebasing: raw[keyPrefix.count...]).copyBytes(from: key)
            return body(UnsafeBufferPointer(buffer))
        }
    }

    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        let (db, family) = try handle()
        var length = 0
        var error: UnsafeMutablePointer<CChar>?
        let pending = database.pending
        let value = withStoredKey(key) { k in
            if let pending {
                rocksdb_writebatch_wi_get_from_batch_and_db_cf(
                    pending, db, readOptions, family, k.baseAddress, k.count, &length, &error)
            } else {
                rocksdb_get_cf(db, readOptions, family, k.baseAddress, k.count, &length, &error)
            }
        }
        try check(error, "get")
        guard let value else { return nil }
        defer { rocksdb_free(value) }
        return Array(UnsafeRawBufferPointer(start: value, count: length))
    }

    public func put(_ key: [UInt8], _ value: [UInt8]?) throws {
        let (db, family) = try handle()
        if let pending = database.pending { return add([(key, value)], to: pending, family: family) }
        var error: UnsafeMutablePointer<CChar>?
        withStoredKey(key) { k in
            if let value {
                value.withUnsafeBufferPointer { v in
                    v.withMemoryRebound(to: CChar.self) { v in
                        rocksdb_put_cf(db, writeOptions, family, k.baseAddress, k.count, v.baseAddress, v.count, &error)
                    }
                }
            } else {
                rocksdb_delete_cf(db, writeOptions, family, k.baseAddress, k.count, &error)
            }
        }
        try check(error, "put")
    }

    /// Calls `put` or `delete` with each entry's stored key (and value) as C buffers.
    private func forEach(
        _ entries: [(key: [UInt8], value: [UInt8]?)],
        put: (UnsafeBufferPointer<CChar>, UnsafeBufferPointer<CChar>) -> Void, delete: (UnsafeBufferPointer<CChar>) -> Void
    ) {
        for entry in entries {
            withStoredKey(entry.key) { k in
                if let value = entry.value {
                    value.withUnsafeBufferPointer { v in v.withMemoryRebound(to: CChar.self) { v in put(k, v) } }
                } else {
                    delete(k)
                }
            }
        }
    }

    /// `entries` sorted by key; writes of the same key keep their order, so the last one wins.
    static func inKeyOrder(_ entries: [(key: [UInt8], value: [UInt8]?)]) -> [(key: [UInt8], value: [UInt8]?)] {
        guard entries.count > 1 else { return entries }
        let order = entries.indices.sorted { a, b in
            let ordering = compare(entries[a].key, entries[b].key)
            return ordering != 0 ? ordering < 0 : a < b
        }
        return order.map { entries[$0] }
    }

    /// Negative, zero or positive as `a` sorts before, with or after `b`, bytewise (RocksDB's order).
    private static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                let length = min(x.count, y.count)
                let common = length == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, length)
                return common != 0 ? Int(common) : x.count - y.count
            }
        }
    }

    /// Adds puts and deletes to a batch with index (the open transaction's writes).
    private func add(_ entries: [(key: [UInt8], value: [UInt8]?)], to batch: OpaquePointer, family: OpaquePointer) {
        forEach(
            entries, put: { k, v in rocksdb_writebatch_wi_put_cf(batch, family, k.baseAddress, k.count, v.baseAddress, v.count) },
            delete: { k in rocksdb_writebatch_wi_delete_cf(batch, family, k.baseAddress, k.count) })
    }

    /// Writes the entries in one batch, in key order: RocksDB's memtable inserts a key after the one
    /// inserted before it with a few comparisons, and a random one with dozens.
    public func putAll(_ entries: [(key: [UInt8], value: [UInt8]?)]) throws {
        let (db, family) = try handle()
        let entries = Self.inKeyOrder(entries)
        if let pending = database.pending { return add(entries, to: pending, family: family) }
        guard let batch = rocksdb_writebatch_create() else { preconditionFailure("rocksdb_writebatch_create returned NULL") }
        defer { rocksdb_writebatch_destroy(batch) }
        forEach(
            entries, put: { k, v in rocksdb_writebatch_put_cf(batch, family, k.baseAddress, k.count, v.baseAddress, v.count) },
            delete: { k in rocksdb_writebatch_delete_cf(batch, family, k.baseAddress, k.count) })
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_write(db, writeOptions, batch, &error)
        try check(error, "batch write")
    }

    public func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator {
        let (db, family) = try handle()
        guard let base = rocksdb_create_iterator_cf(db, readOptions, family) else {
            preconditionFailure("rocksdb_create_iterator returned NULL")
        }
        var iterator = base
        if let pending = database.pending {
            // Over the database and the open transaction's writes (it owns the base iterator).
            guard let merged = rocksdb_writebatch_wi_create_iterator_with_base_cf(pending, base, family) else {
                preconditionFailure("rocksdb_writebatch_wi_create_iterator_with_base_cf returned NULL")
            }
            iterator = merged
        }
        if let from {
            withStoredKey(from) { rocksdb_iter_seek(iterator, $0.baseAddress, $0.count) }
        } else if !keyPrefix.isEmpty {
            withStoredKey([]) { rocksdb_iter_seek(iterator, $0.baseAddress, $0.count) }
        } else {
            rocksdb_iter_seek_to_first(iterator)
        }
        let results = Iterator(iterator, upperBound: to, keyPrefix: keyPrefix, store: name, owner: self)
        guard database.pending != nil else { return results }
        // A write to the batch invalidates an iterator over it: read the range now.
        var entries: [(key: [UInt8], value: [UInt8])] = []
        while let entry = try results.next() { entries.append(entry) }
        return Materialized(entries)
    }

    /// Entries read ahead.
    final class Materialized: BytesKeyValueIterator {
        private var entries: [(key: [UInt8], value: [UInt8])]
        private var index = 0
        init(_ entries: [(key: [UInt8], value: [UInt8])]) { self.entries = entries }
        func next() throws -> (key: [UInt8], value: [UInt8])? {
            guard index < entries.count else { return nil }
            defer { index += 1 }
            return entries[index]
        }
    }

    /// RocksDB's estimate for the whole database (a segment's own count is not kept).
    public func approximateNumEntries() throws -> Int64 {
        _ = try handle()
        return try database.approximateNumEntries()
    }

    /// Writes the memtables to disk (the WAL is off, so this is what makes writes durable).
    public func flush() throws {
        _ = try handle()
        try database.flush()
    }

    /// Closes the store (and its database, unless it is a segment of a segmented store's database).
    public func close() {
        family = nil
        if ownsDatabase { database.close() }
    }

    /// A RocksDB iterator up to an inclusive upper bound, within the store's key prefix; it keeps its
    /// store open while it lives.
    final class Iterator: BytesKeyValueIterator {
        private let iterator: OpaquePointer
        private let upperBound: [UInt8]?
        private let keyPrefix: [UInt8]
        private let store: String
        private let owner: RocksDBKeyValueStore

        init(_ iterator: OpaquePointer, upperBound: [UInt8]?, keyPrefix: [UInt8], store: String, owner: RocksDBKeyValueStore) {
            self.iterator = iterator
            self.upperBound = upperBound
            self.keyPrefix = keyPrefix
            self.store = store
            self.owner = owner
        }

        func next() throws -> (key: [UInt8], value: [UInt8])? {
            guard rocksdb_iter_valid(iterator) != 0 else {
                var error: UnsafeMutablePointer<CChar>?
                rocksdb_iter_get_error(iterator, &error)
                if let message = take(error) {
                    throw StateStoreError(store: store, message: "iteration failed: \(message)")
                }
                return nil
            }
            var keyLength = 0
            var valueLength = 0
            let stored = UnsafeRawBufferPointer(start: rocksdb_iter_key(iterator, &keyLength), count: keyLength)
            // Past the segment's keys: the next segment's, or the end.
            guard stored.starts(with: keyPrefix) else { return nil }
            let key = Array(stored[keyPrefix.count...])
            if let upperBound, upperBound.lexicographicallyPrecedes(key) { return nil }
            let valuePointer = rocksdb_iter_value(iterator, &valueLength)
            let value = Array(UnsafeRawBufferPointer(start: valuePointer, count: valueLength))
            rocksdb_iter_next(iterator)
            return (key, value)
        }

        deinit { rocksdb_iter_destroy(iterator) }
    }
}

/// RocksDB's error string as a Swift string, freeing it.
func take(_ error: UnsafeMutablePointer<CChar>?) -> String? {
    guard let error else { return nil }
    defer { rocksdb_free(error) }
    return String(cString: error)
}

extension Stores {
    /// A key-value byte store in RocksDB, under the task's state directory.
    public static func persistentKeyValueStore(_ name: String, environment: RocksDBEnvironment = .shared)
        -> any KeyValueBytesStoreSupplier
    {
        RocksDBKeyValueSupplier(name: name, environment: environment)
    }
}

struct RocksDBKeyValueSupplier: KeyValueBytesStoreSupplier {
    let name: String
    let environment: RocksDBEnvironment
    var persistent: Bool { true }

    func makeStore(directory: String) throws -> any BytesKeyValueStore {
        try RocksDBKeyValueStore(name: name, path: directory, environment: environment)
    }
}
