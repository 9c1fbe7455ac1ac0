/// Reads of a key-value store: what interactive queries and processors without write access see.
public protocol ReadOnlyKeyValueStore<Key, Value>: AnyObject {
    associatedtype Key
    associatedtype Value

    /// The value for `key`, or `nil`.
    func get(_ key: Key) throws -> Value?
    /// Entries with `from <= key <= to`, ordered by the serialized keys' bytes; `nil` bounds are open.
    func range(from: Key?, to: Key?) throws -> KeyValueIterator<Key, Value>
    /// Every entry, ordered by the serialized keys' bytes.
    func all() throws -> KeyValueIterator<Key, Value>
    /// An estimate of the number of keys.
    func approximateNumEntries() throws -> Int64
}

/// A key-value store a processor reads and writes.
///
/// ```swift
/// let counts: any KeyValueStore<String, Int64> = try context.keyValueStore(named: "counts")
/// try counts.put(key, (try counts.get(key) ?? 0) + 1)
/// ```
public protocol KeyValueStore<Key, Value>: ReadOnlyKeyValueStore, StateStore {
    /// Stores `value` under `key`; `nil` deletes the key (a tombstone).
    func put(_ key: Key, _ value: Value?) throws
    /// Stores `value` only when `key` has none; returns the value already there.
    func putIfAbsent(_ key: Key, _ value: Value) throws -> Value?
    /// Stores every entry.
    func putAll(_ entries: [KeyValue<Key, Value>]) throws
    /// Deletes `key`, returning its old value.
    @discardableResult
    func delete(_ key: Key) throws -> Value?
}

/// Entries of a key-value store in key order, deserialized as they are read.
public final class KeyValueIterator<K, V>: Sequence, IteratorProtocol {
    private let bytes: any BytesKeyValueIterator
    private let keySerde: Serde<K>
    private let valueSerde: Serde<V>
    private let storeName: String
    /// The first error met while iterating (iteration stops there).
    public private(set) var error: Error?

    init(_ bytes: any BytesKeyValueIterator, keySerde: Serde<K>, valueSerde: Serde<V>, storeName: String) {
        self.bytes = bytes
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.storeName = storeName
    }

    public func next() -> KeyValue<K, V>? {
        guard error == nil else { return nil }
        do {
            guard let entry = try bytes.next() else { return nil }
            return KeyValue(try keySerde.deserialize(entry.key), try valueSerde.deserialize(entry.value))
        } catch {
            self.error = StateStoreError(store: storeName, message: "could not read an entry: \(error)")
            return nil
        }
    }

    /// Every remaining entry; throws what stopped the iteration, if anything did.
    public func collect() throws -> [KeyValue<K, V>] {
        let entries = Array(self)
        if let error { throw error }
        return entries
    }
}

/// A typed key-value store over a byte store and two serdes.
final class TypedKeyValueStore<K, V>: KeyValueStore, RestorableStore {
    typealias Key = K
    typealias Value = V

    /// Where reads and writes go (with the changelog, when logging is on).
    let inner: any BytesKeyValueStore
    /// The bytes themselves, which restore fills without logging.
    let storage: any BytesKeyValueStore
    let keySerde: Serde<K>
    let valueSerde: Serde<V>

    init(inner: any BytesKeyValueStore, storage: any BytesKeyValueStore, keySerde: Serde<K>, valueSerde: Serde<V>) {
        self.inner = inner
        self.storage = storage
        self.keySerde = keySerde
        self.valueSerde = valueSerde
    }

    func restore(_ batch: [(key: [UInt8], value: [UInt8]?)]) throws { try storage.putAll(batch) }

    var name: String { inner.name }
    var persistent: Bool { inner.persistent }
    func flush() throws { try inner.flush() }
    func close() { inner.close() }

    private func keyBytes(_ key: K) throws -> [UInt8] {
        do {
            guard let bytes = try keySerde.serialize(key) else {
                throw StateStoreError(store: name, message: "a key serialized to null")
            }
            return bytes
        } catch let error as StateStoreError {
            throw error
        } catch {
            throw StateStoreError(store: name, message: "could not serialize key: \(error)")
        }
    }

    private func value(_ bytes: [UInt8]?) throws -> V? {
        guard let bytes else { return nil }
        do { return try valueSerde.deserialize(bytes) } catch {
            throw StateStoreError(store: name, message: "could not deserialize a stored value: \(error)")
        }
    }

    private func valueBytes(_ value: V?) throws -> [UInt8]? {
        guard let value else { return nil }
        do { return try valueSerde.serialize(value) } catch {
            throw StateStoreError(store: name, message: "could not serialize value: \(error)")
        }
    }

    func get(_ key: K) throws -> V? { try value(inner.get(keyBytes(key))) }

    func put(_ key: K, _ value: V?) throws { try inner.put(keyBytes(key), valueBytes(value)) }

    func putIfAbsent(_ key: K, _ value: V) throws -> V? {
        let keyBytes = try keyBytes(key)
        if let existing = try inner.get(keyBytes) { return try self.value(existing) }
        try inner.put(keyBytes, valueBytes(value))
        return nil
    }

    func putAll(_ entries: [KeyValue<K, V>]) throws {
        try inner.putAll(entries.map { (try keyBytes($0.key), try valueBytes($0.value)) })
    }

    @discardableResult
    func delete(_ key: K) throws -> V? {
        let keyBytes = try keyBytes(key)
        let old = try value(inner.get(keyBytes))
        try inner.put(keyBytes, nil)
        return old
    }

    func range(from: K?, to: K?) throws -> KeyValueIterator<K, V> {
        KeyValueIterator(
            try inner.range(from: from.map(keyBytes), to: to.map(keyBytes)), keySerde: keySerde, valueSerde: valueSerde,
            storeName: name)
    }

    func all() throws -> KeyValueIterator<K, V> { try range(from: nil, to: nil) }

    func approximateNumEntries() throws -> Int64 { try inner.approximateNumEntries() }
}
