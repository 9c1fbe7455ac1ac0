import CRocksDB
import Foundation
import Rill

/// One RocksDB database and its column families: a key-value store uses the default family; a
/// window or session store keeps each time segment in a family of its own, so that expiry drops a
/// whole family. The write-ahead log is off: the changelog topic is the stores' log, and flushes
/// (at checkpoints) make writes durable. Under exactly-once its writes wait in a batch until the
/// transaction commits (``RocksDBTransactions``).
final class RocksDBDatabase {
    let store: String
    let path: String
    private(set) var db: OpaquePointer?
    private let options: OpaquePointer
    let writeOptions: OpaquePointer
    let readOptions: OpaquePointer
    private var families: [String: OpaquePointer] = [:]
    /// Writes kept apart until the transaction commits (see ``RocksDBTransactions``), when enabled.
    private(set) var pending: OpaquePointer?
    /// Families dropped in the open transaction: dropped for real once its writes are committed.
    private var pendingDrops: [OpaquePointer] = []

    /// Opens (or creates) the database at `path` with every column family it has.
    init(store: String, path: String, environment: RocksDBEnvironment) throws {
        self.store = store
        self.path = path
        options = environment.makeOptions(storeName: store)
        rocksdb_options_set_create_missing_column_families(options, 1)
        guard let writeOptions = rocksdb_writeoptions_create(), let readOptions = rocksdb_readoptions_create() else {
            preconditionFailure("RocksDB option allocation failed")
        }
        rocksdb_writeoptions_disable_WAL(writeOptions, 1)
        self.writeOptions = writeOptions
        self.readOptions = readOptions
        var names = ["default"]
        if FileManager.default.fileExists(atPath: path + "/CURRENT") {
            var error: UnsafeMutablePointer<CChar>?
            var count = 0
            let list = rocksdb_list_column_families(options, path, &count, &error)
            if let message = take(error) {
                throw StateStoreError(store: store, message: "could not read the column families of \(path): \(message)")
            }
            if let list {
                names = (0..<count).compactMap { list[$0].map { String(cString: $0) } }
                rocksdb_list_column_families_destroy(list, count)
            }
        }
        var handles = [OpaquePointer?](repeating: nil, count: names.count)
        var error: UnsafeMutablePointer<CChar>?
        let cNames = names.map { strdup($0) }
        defer { cNames.forEach { free($0) } }
        let familyOptions = [OpaquePointer?](repeating: options, count: names.count)
        db = cNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { namePointers in
            familyOptions.withUnsafeBufferPointer { optionPointers in
                rocksdb_open_column_families(
                    options, path, Int32(names.count), namePointers.baseAddress, optionPointers.baseAddress, &handles, &error)
            }
        }
        if let message = take(error) {
            throw StateStoreError(store: store, message: "could not open RocksDB at \(path): \(message)")
        }
        for (name, handle) in zip(names, handles) { if let handle { families[name] = handle } }
        if RocksDBTransactions.register(self) {
            guard let batch = rocksdb_writebatch_wi_create(0, 1) else { preconditionFailure("rocksdb_writebatch_wi_create returned NULL") }
            pending = batch
        }
    }

    /// Writes the kept-apart writes to the database, then drops the families dropped meanwhile.
    func commitPending() throws {
        guard let pending, let db else { return }
        if rocksdb_writebatch_wi_count(pending) > 0 {
            var error: UnsafeMutablePointer<CChar>?
            rocksdb_write_writebatch_wi(db, writeOptions, pending, &error)
            if let message = take(error) { throw StateStoreError(store: store, message: "committing writes failed: \(message)") }
            rocksdb_writebatch_wi_clear(pending)
        }
        for family in pendingDrops {
            var error: UnsafeMutablePointer<CChar>?
            rocksdb_drop_column_family(db, family, &error)
            rocksdb_column_family_handle_destroy(family)
            if let message = take(error) { throw StateStoreError(store: store, message: "could not drop a segment: \(message)") }
        }
        pendingDrops = []
    }

    /// Forgets the kept-apart writes.
    func discardPending() {
        guard let pending else { return }
        rocksdb_writebatch_wi_clear(pending)
    }

    func handle() throws -> OpaquePointer {
        guard let db else { throw StateStoreError(store: store, message: "the store is closed") }
        return db
    }

    /// The families other than the default one.
    var segmentFamilies: [String] { families.keys.filter { $0 != "default" }.sorted() }

    /// The family `name`, created if missing.
    func family(_ name: String) throws -> OpaquePointer {
        if let family = families[name] { return family }
        var error: UnsafeMutablePointer<CChar>?
        let created = rocksdb_create_column_family(try handle(), options, name, &error)
        if let message = take(error) {
            throw StateStoreError(store: store, message: "could not create column family '\(name)': \(message)")
        }
        guard let created else { throw StateStoreError(store: store, message: "could not create column family '\(name)'") }
        families[name] = created
        return created
    }

    /// Drops the family `name` and its data.
    func drop(_ name: String) throws {
        guard let family = families.removeValue(forKey: name) else { return }
        if pending != nil {
            // The open transaction may hold writes to it: drop it once they are committed.
            pendingDrops.append(family)
            return
        }
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_drop_column_family(try handle(), family, &error)
        rocksdb_column_family_handle_destroy(family)
        if let message = take(error) {
            throw StateStoreError(store: store, message: "could not drop column family '\(name)': \(message)")
        }
    }

    func close() {
        guard let db else { return }
        for family in families.values { rocksdb_column_family_handle_destroy(family) }
        for family in pendingDrops { rocksdb_column_family_handle_destroy(family) }
        families = [:]
        pendingDrops = []
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

/// The time segments of one window or session store: column families of one database.
final class RocksDBSegmentSpace: SegmentSpace {
    private let database: RocksDBDatabase

    init(store: String, directory: String, environment: RocksDBEnvironment) throws {
        database = try RocksDBDatabase(store: store, path: directory, environment: environment)
    }

    var existingSegments: [String] { database.segmentFamilies }

    func segment(named name: String) throws -> any BytesKeyValueStore {
        RocksDBKeyValueStore(name: name, database: database, family: try database.family(name), ownsDatabase: false)
    }

    func drop(named name: String) throws { try database.drop(name) }

    func close() { database.close() }
}
