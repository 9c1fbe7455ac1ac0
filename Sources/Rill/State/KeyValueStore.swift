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
final class TypedKeyValueStore<K, V>: KeyValueStore, RestorableStore, CachedStore {
    typealias Key = K
    typealias Value = V

    /// Where reads and writes go (through the cache and the changelog, when they are on).
    let inner: any BytesKeyValueStore
    let caching: CachingBytesStore?
    /// The bytes themselves, which restore fills without logging.
    let storage: any BytesKeyValueStore
    let codec: StoreCodec<K, V>

    init(layers: StoreLayers, storage: any BytesKeyValueStore, codec: StoreCodec<K, V>) {
        inner = layers.front
        caching = layers.caching
        self.storage = storage
        self.codec = codec
    }

    func restore(_ batch: [(key: [UInt8], value: [UInt8]?)]) throws { try storage.putAll(batch) }

    var name: String { inner.name }
    var persistent: Bool { inner.persistent }
    func flush() throws { try inner.flush() }
    func close() { inner.close() }

    func get(_ key: K) throws -> V? { try codec.value(inner.get(codec.keyBytes(key))) }

    /// The value under a key that is already serialized.
    func get(keyBytes: [UInt8]) throws -> V? { try codec.value(inner.get(keyBytes)) }

    func put(_ key: K, _ value: V?) throws { try inner.put(codec.keyBytes(key), codec.valueBytes(value)) }

    func putIfAbsent(_ key: K, _ value: V) throws -> V? {
        let keyBytes = try codec.keyBytes(key)
        if let existing = try inner.get(keyBytes) { return try codec.value(existing) }
        try inner.put(keyBytes, codec.valueBytes(value))
        return nil
    }

    func putAll(_ entries: [KeyValue<K, V>]) throws {
        try inner.putAll(entries.map { (try codec.keyBytes($0.key), try codec.valueBytes($0.value)) })
    }

    @discardableResult
    func delete(_ key: K) throws -> V? {
        let keyBytes = try codec.keyBytes(key)
        let old = try codec.value(inner.get(keyBytes))
        try inner.put(keyBytes, nil)
        return old
    }

    func range(from: K?, to: K?) throws -> KeyValueIterator<K, V> {
        KeyValueIterator(
            try inner.range(from: from.map(codec.keyBytes), to: to.map(codec.keyBytes)), keySerde: codec.keySerde,
            valueSerde: codec.valueSerde, storeName: name)
    }

    func all() throws -> KeyValueIterator<K, V> { try range(from: nil, to: nil) }

    func approximateNumEntries() throws -> Int64 { try inner.approximateNumEntries() }
}

/// A key-value store of values with their timestamps: how DSL tables are stored.
public typealias TimestampedKeyValueStore<K, V> = KeyValueStore<K, ValueAndTimestamp<V>>
/// Reads of a ``TimestampedKeyValueStore``.
public typealias ReadOnlyTimestampedKeyValueStore<K, V> = ReadOnlyKeyValueStore<K, ValueAndTimestamp<V>>
