/// State that processors keep between records: one instance per store name per task.
public protocol StateStore: AnyObject {
    /// The store's name, unique in the topology.
    var name: String { get }
    /// Whether it keeps its data on disk (RocksDB) rather than in memory.
    var persistent: Bool { get }
    /// Writes buffered data through (called on every commit).
    func flush() throws
    /// Releases the store's resources (called when its task closes).
    func close()
}

/// Key-value state as bytes, ordered by unsigned byte comparison of the keys (as RocksDB's default).
/// The typed ``KeyValueStore`` sits on top of it; in-memory and RocksDB stores implement it.
public protocol BytesKeyValueStore: StateStore {
    func get(_ key: [UInt8]) throws -> [UInt8]?
    /// Stores `value` under `key`; `nil` deletes the key.
    func put(_ key: [UInt8], _ value: [UInt8]?) throws
    /// Writes several entries at once (one batch where the store supports it).
    func putAll(_ entries: [(key: [UInt8], value: [UInt8]?)]) throws
    /// Entries with `from <= key <= to` in key order; `nil` bounds are open.
    func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator
    /// An estimate of the number of keys.
    func approximateNumEntries() throws -> Int64
}

/// Iterates over a byte store's entries in key order.
public protocol BytesKeyValueIterator: AnyObject {
    func next() throws -> (key: [UInt8], value: [UInt8])?
}

/// Makes the byte store behind a named key-value store, per task.
public protocol KeyValueBytesStoreSupplier: Sendable {
    var name: String { get }
    var persistent: Bool { get }
    /// A new store; `directory` is `<state.dir>/<application.id>/<task>/<store name>` for persistent stores.
    func makeStore(directory: String) throws -> any BytesKeyValueStore
}

/// Why a store can't be used; the message names the store.
public struct StateStoreError: Error, CustomStringConvertible, Sendable {
    public let store: String
    public let message: String

    public init(store: String, message: String) {
        self.store = store
        self.message = message
    }

    public var description: String { "State store '\(store)': \(message)" }
}
