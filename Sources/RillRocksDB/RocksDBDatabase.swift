import CRocksDB
import Foundation
import Rill

/// One RocksDB database, in its default column family: a key-value store's, or a window or session
/// store's, whose time segments are key ranges under an 8-byte segment prefix, so that expiry drops a
/// segment with one range deletion. The write-ahead log is off: the changelog topic is the stores'
/// log, and flushes (at checkpoints) make writes durable. Under exactly-once its writes wait in a
/// batch until the transaction commits (``RocksDBTransactions``).
final class RocksDBDatabase {
    let store: String
    let path: String
    private(set) var db: OpaquePointer?
    private let options: OpaquePointer
    let writeOptions: OpaquePointer
    let readOptions: OpaquePointer
    /// The default column family, the only one.
    private(set) var family: OpaquePointer?
    /// Writes kept apart until the transaction commits (see ``RocksDBTransactions``), when enabled.
    private(set) var pending: OpaquePointer?
    /// Key ranges deleted in the open transaction: deleted for real once its writes are committed
    /// (a batch with index cannot hold a range deletion).
    private var pendingRangeDeletes: [(from: [UInt8], to: [UInt8])] = []

    /// Opens (or creates) the database at `path`.
    init(store: String, path: String, environment: RocksDBEnvironment) throws {
        self.store = store
        self.path = path
        options = environment.makeOptions(storeName: store)
        guard let writeOptions = rocksdb_writeoptions_create(), let readOptions = rocksdb_readoptions_create() else {
            preconditionFailure("RocksDB option allocation failed")
        }
        rocksdb_writeoptions_disable_WAL(writeOptions, 1)
        self.writeOptions = writeOptions
        self.readOptions = readOptions
        if FileManager.default.fileExists(atPath: path + "/CURRENT") {
            var error: UnsafeMutablePointer<CChar>?
            var count = 0
            let list = rocksdb_list_column_families(options, path, &count, &error)
            if let message = take(error) {
                throw StateStoreError(store: store, message: "could not read the column families of \(path): \(message)")
            }
            if let list {
                let names = (0..<count).compactMap { list[$0].map { String(cString: $0) } }
                rocksdb_list_column_families_destroy(list, count)
                if names != ["default"] {
                    throw StateStoreError(
                        store: store,
                        message: "\(path) keeps its segments in column families (\(names.joined(separator: ", "))), "
                            + "a layout this version does not read; delete the directory and the store is restored from its changelog")
                }
            }
        }
        var error: UnsafeMutablePointer<CChar>?
        var handle: OpaquePointer?
        let familyOptions: [OpaquePointer?] = [options]
        db = "default".withCString { name in
            [Optional(name)].withUnsafeBufferPointer { names in
                familyOptions.withUnsafeBufferPointer {
                    rocksdb_open_column_families(options, path, 1, names.baseAddress, $0.baseAddress, &handle, &error)
                }
            }
        }
        if let message = take(error) {
            throw StateStoreError(store: store, message: "could not open RocksDB at \(path): \(message)")
        }
        family = handle
        if RocksDBTransactions.register(self) {
            guard let batch = rocksdb_writebatch_wi_create(0, 1) else { preconditionFailure("rocksdb_writebatch_wi_create returned NULL") }
            pending = batch
        }
    }

    /// Writes the kept-apart writes to the database, then makes the range deletions made meanwhile.
    func commitPending() throws {
        guard let pending, let db else { return }
        if rocksdb_writebatch_wi_count(pending) > 0 {
            var error: UnsafeMutablePointer<CChar>?
            rocksdb_write_writebatch_wi(db, writeOptions, pending, &error)
            if let message = take(error) { throw StateStoreError(store: store, message: "committing writes failed: \(message)") }
            rocksdb_writebatch_wi_clear(pending)
        }
        let deletes = pendingRangeDeletes
        pendingRangeDeletes = []
        for range in deletes { try deleteRangeNow(from: range.from, to: range.to) }
    }

    /// Forgets the kept-apart writes.
    func discardPending() {
        guard let pending else { return }
        rocksdb_writebatch_wi_clear(pending)
    }

    func handle() throws -> (db: OpaquePointer, family: OpaquePointer) {
        guard let db, let family else { throw StateStoreError(store: store, message: "the store is closed") }
        return (db, family)
    }

    /// Deletes the keys from `from` (inclusive) to `to` (exclusive); in the open transaction, once it commits.
    func deleteRange(from: [UInt8], to: [UInt8]) throws {
        if pending != nil {
            pendingRangeDeletes.append((from, to))
        } else {
            try deleteRangeNow(from: from, to: to)
        }
    }

    private func deleteRangeNow(from: [UInt8], to: [UInt8]) throws {
        let (db, family) = try handle()
        var error: UnsafeMutablePointer<CChar>?
        from.withUnsafeBufferPointer { f in
            to.withUnsafeBufferPointer { t in
                f.withMemoryRebound(to: CChar.self) { f in
                    t.withMemoryRebound(to: CChar.self) { t in
                        rocksdb_delete_range_cf(db, writeOptions, family, f.baseAddress, f.count, t.baseAddress, t.count, &error)
                    }
                }
            }
        }
        if let message = take(error) { throw StateStoreError(store: store, message: "deleting a key range failed: \(message)") }
    }

    /// RocksDB's estimate of the number of keys.
    func approximateNumEntries() throws -> Int64 {
        let (db, family) = try handle()
        guard let value = rocksdb_property_value_cf(db, family, "rocksdb.estimate-num-keys") else { return 0 }
        defer { rocksdb_free(value) }
        return Int64(String(cString: value)) ?? 0
    }

    /// Writes the memtable to disk (the WAL is off, so this is what makes writes durable).
    func flush() throws {
        let (db, family) = try handle()
        guard let flushOptions = rocksdb_flushoptions_create() else { return }
        defer { rocksdb_flushoptions_destroy(flushOptions) }
        rocksdb_flushoptions_set_wait(flushOptions, 1)
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_flush_cf(db, flushOptions, family, &error)
        if let message = take(error) { throw StateStoreError(store: store, message: "flush failed: \(message)") }
    }

    func close() {
        guard let db else { return }
        if let family { rocksdb_column_family_handle_destroy(family) }
        family = nil
        pendingRangeDeletes = []
        if let pending { rocksdb_writebatch_wi_destroy(pending) }
        pending = nil
        rocksdb_close(db)
        self.db = nil
    }

    deinit {
        close()
        rocksdb_options_destroy(options)
        rocksdb_writeoptions_destroy(writeOptions)
        rocksdb_readoptions_destroy(readOptions)
    }
}

/// The time segments of one window or session store: key ranges of one database, each under its
/// segment id as an 8-byte big-endian prefix (sign bit flipped, so that ids sort as numbers).
/// Creating a segment costs nothing; dropping one is a single range deletion.
final class RocksDBSegmentSpace: SegmentSpace {
    private let database: RocksDBDatabase

    init(store: String, directory: String, environment: RocksDBEnvironment) throws {
        database = try RocksDBDatabase(store: store, path: directory, environment: environment)
    }

    static func prefix(_ id: Int64) -> [UInt8] {
        withUnsafeBytes(of: (UInt64(bitPattern: id) ^ (1 << 63)).bigEndian) { Array($0) }
    }

    private static func id(_ prefix: UnsafeRawBufferPointer) -> Int64 {
        Int64(bitPattern: prefix.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } ^ (1 << 63))
    }

    /// The ids under which keys exist: one seek per segment.
    func existingSegments() throws -> [Int64] {
        let (db, family) = try database.handle()
        guard let iterator = rocksdb_create_iterator_cf(db, database.readOptions, family) else {
            preconditionFailure("rocksdb_create_iterator returned NULL")
        }
        defer { rocksdb_iter_destroy(iterator) }
        var ids: [Int64] = []
        rocksdb_iter_seek_to_first(iterator)
        while rocksdb_iter_valid(iterator) != 0 {
            var length = 0
            guard let key = rocksdb_iter_key(iterator, &length), length >= 8 else {
                throw StateStoreError(store: database.store, message: "a key of \(length) bytes has no segment prefix")
            }
            let id = Self.id(UnsafeRawBufferPointer(start: key, count: 8))
            ids.append(id)
            guard id < .max else { break }
            Self.prefix(id + 1).withUnsafeBufferPointer { next in
                next.withMemoryRebound(to: CChar.self) { rocksdb_iter_seek(iterator, $0.baseAddress, $0.count) }
            }
        }
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(iterator, &error)
        if let message = take(error) { throw StateStoreError(store: database.store, message: "listing segments failed: \(message)") }
        return ids
    }

    func segment(_ id: Int64) throws -> any BytesKeyValueStore {
        // The last id's prefix has no successor to end its range deletion with.
        guard id < .max else {
            throw StateStoreError(store: database.store, message: "a record time at the end of the Int64 range has no segment")
        }
        let (_, family) = try database.handle()
        return RocksDBKeyValueStore(
            name: database.store, database: database, family: family, ownsDatabase: false, keyPrefix: Self.prefix(id))
    }

    func drop(_ id: Int64) throws {
        guard id < .max else { return }  // never made
        try database.deleteRange(from: Self.prefix(id), to: Self.prefix(id + 1))
    }

    /// RocksDB's estimate for the whole database; keys of dropped segments count until compaction.
    func approximateNumEntries() throws -> Int64 { try database.approximateNumEntries() }

    func flush() throws { try database.flush() }

    func close() { database.close() }
}
