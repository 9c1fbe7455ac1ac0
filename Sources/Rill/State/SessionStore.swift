/// Reads of a session store.
public protocol ReadOnlySessionStore<Key, Value>: AnyObject {
    associatedtype Key
    associatedtype Value

    /// `key`'s sessions that end at or after `earliestSessionEnd` and start at or before
    /// `latestSessionStart`, by end time.
    func findSessions(_ key: Key, earliestSessionEnd: Int64, latestSessionStart: Int64) throws
        -> [KeyValue<Windowed<Key>, Value>]
    /// The value of `key`'s session `[start, end]`, or `nil`.
    func fetchSession(_ key: Key, start: Int64, end: Int64) throws -> Value?
    /// Every session of `key`, by end time.
    func fetch(_ key: Key) throws -> [KeyValue<Windowed<Key>, Value>]
    /// Every session the store holds, by end time, then by serialized key.
    func all() throws -> [KeyValue<Windowed<Key>, Value>]
}

/// Values per key and session (Kafka Streams' `SessionStore`): a session's window runs from its
/// first record's timestamp to its last one's, both inclusive.
public protocol SessionStore<Key, Value>: ReadOnlySessionStore, StateStore {
    /// Stores `value` for the session; `nil` removes it.
    func put(_ session: Windowed<Key>, _ value: Value?) throws
    /// Removes the session.
    func remove(_ session: Windowed<Key>) throws
}

/// A typed session store over a segmented byte store.
final class TypedSessionStore<K, V>: SessionStore, RestorableStore, CachedStore {
    typealias Key = K
    typealias Value = V

    let inner: any BytesKeyValueStore
    let caching: CachingBytesStore?
    let storage: SegmentedBytesStore
    let codec: StoreCodec<K, V>

    init(layers: StoreLayers, storage: SegmentedBytesStore, codec: StoreCodec<K, V>) {
        inner = layers.front
        caching = layers.caching
        self.storage = storage
        self.codec = codec
    }

    var name: String { storage.name }
    var persistent: Bool { storage.persistent }
    func flush() throws { try inner.flush() }
    func close() { inner.close() }
    func restore(_ batch: [(key: [UInt8], value: [UInt8]?)]) throws { try storage.putAll(batch) }

    func put(_ session: Windowed<K>, _ value: V?) throws {
        try inner.put(SessionKeyLayout.storeKey(codec.keyBytes(session.key), session.window), codec.valueBytes(value))
    }

    func remove(_ session: Windowed<K>) throws { try put(session, nil) }

    func fetchSession(_ key: K, start: Int64, end: Int64) throws -> V? {
        try codec.value(inner.get(SessionKeyLayout.storeKey(codec.keyBytes(key), Window(start: start, end: end))))
    }

    func findSessions(_ key: K, earliestSessionEnd: Int64, latestSessionStart: Int64) throws -> [KeyValue<Windowed<K>, V>] {
        let keyBytes = try codec.keyBytes(key)
        // Times are never negative: a negative bound would sort after every key.
        let entries = try inner.range(
            from: SessionKeyLayout.storeKey(keyBytes, Window(start: 0, end: max(0, earliestSessionEnd))),
            to: SessionKeyLayout.storeKey(keyBytes, Window(start: .max, end: .max)))
        return try collect(entries) { sessionKey, window in
            window.end >= earliestSessionEnd && window.start <= latestSessionStart && sessionKey == keyBytes
        }
    }

    func fetch(_ key: K) throws -> [KeyValue<Windowed<K>, V>] {
        try findSessions(key, earliestSessionEnd: 0, latestSessionStart: .max)
    }

    func all() throws -> [KeyValue<Windowed<K>, V>] {
        try collect(inner.range(from: nil, to: nil)) { _, _ in true }
    }

    private func collect(
        _ entries: any BytesKeyValueIterator, where include: ([UInt8], Window) -> Bool
    ) throws -> [KeyValue<Windowed<K>, V>] {
        var found: [(key: [UInt8], window: Window, value: [UInt8])] = []
        while let entry = try entries.next() {
            let (key, window) = SessionKeyLayout.split(entry.key)
            if include(key, window) { found.append((key, window, entry.value)) }
        }
        found.sort {
            $0.window.end != $1.window.end ? $0.window.end < $1.window.end
                : $0.key != $1.key ? $0.key.lexicographicallyPrecedes($1.key) : $0.window.start < $1.window.start
        }
        return try found.map { KeyValue(Windowed(try codec.key($0.key), $0.window), try codec.value($0.value)!) }
    }
}

/// Builds typed session stores over a session byte-store supplier.
public struct SessionStoreBuilder<K, V>: ConfigurableStoreBuilder, KeyedStoreBuilder {
    public let supplier: any SessionBytesStoreSupplier
    public let keySerde: Serde<K>
    public let valueSerde: Serde<V>
    public var options = StoreOptions()

    init(supplier: any SessionBytesStoreSupplier, keySerde: Serde<K>, valueSerde: Serde<V>) {
        self.supplier = supplier
        self.keySerde = keySerde
        self.valueSerde = valueSerde
    }

    public var name: String { supplier.name }
    public var persistent: Bool { supplier.persistent }
    public var changelogConfig: [String: String] {
        segmentedChangelogConfig(options, retentionPeriod: supplier.retentionPeriod)
    }

    public func build(_ context: StoreContext) throws -> any StateStore {
        let storage = try SegmentedBytesStore(
            supplier: context.resolve(supplier), directory: context.directory,
            minimumKeyLength: SessionKeyLayout.suffix, time: SessionKeyLayout.time)
        return TypedSessionStore(
            layers: context.layer(storage, options, keySuffix: SessionKeyLayout.suffix), storage: storage,
            codec: StoreCodec(store: name, keySerde: keySerde, valueSerde: valueSerde))
    }
}
