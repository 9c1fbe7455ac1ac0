/// How a DSL table is stored: its store's name (which names its changelog and makes it queryable),
/// serdes, store kind, and whether it is logged.
///
/// ```swift
/// stream.groupByKey().count(materialized: .as("counts"))
/// ```
public struct Materialized<K, V>: Sendable {
    public var storeName: String?
    public var keySerde: Serde<K>?
    public var valueSerde: Serde<V>?
    /// The byte store to use; by default the runtime's persistent store (RocksDB).
    public var storeSupplier: (any KeyValueBytesStoreSupplier)?
    /// The byte store of a windowed table (`windowedBy` with time or sliding windows).
    public var windowStoreSupplier: (any WindowBytesStoreSupplier)?
    /// The byte store of a session-windowed table.
    public var sessionStoreSupplier: (any SessionBytesStoreSupplier)?
    public var loggingEnabled = true
    public var logConfig: [String: String] = [:]
    /// Whether updates wait in the record cache until evicted or committed (on by default).
    public var cachingEnabled = true
    /// How long a windowed table keeps windows, in ms (by default its window size plus grace).
    public var retentionMs: Int64?

    public init(
        storeName: String? = nil, keySerde: Serde<K>? = nil, valueSerde: Serde<V>? = nil,
        storeSupplier: (any KeyValueBytesStoreSupplier)? = nil
    ) {
        self.storeName = storeName ?? storeSupplier?.name
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.storeSupplier = storeSupplier
    }

    /// A store with this name.
    public static func `as`(_ storeName: String) -> Materialized<K, V> { Materialized(storeName: storeName) }

    /// A store from this supplier (named after it).
    public static func `as`(_ supplier: any KeyValueBytesStoreSupplier) -> Materialized<K, V> {
        Materialized(storeSupplier: supplier)
    }

    /// A windowed table's store from this supplier (named after it).
    public static func `as`(_ supplier: any WindowBytesStoreSupplier) -> Materialized<K, V> {
        var materialized = Materialized<K, V>(storeName: supplier.name)
        materialized.windowStoreSupplier = supplier
        return materialized
    }

    /// A session table's store from this supplier (named after it).
    public static func `as`(_ supplier: any SessionBytesStoreSupplier) -> Materialized<K, V> {
        var materialized = Materialized<K, V>(storeName: supplier.name)
        materialized.sessionStoreSupplier = supplier
        return materialized
    }

    /// With serdes.
    public static func with(_ keySerde: Serde<K>, _ valueSerde: Serde<V>) -> Materialized<K, V> {
        Materialized(keySerde: keySerde, valueSerde: valueSerde)
    }

    /// These serdes.
    public func withSerdes(_ keySerde: Serde<K>, _ valueSerde: Serde<V>) -> Materialized<K, V> {
        var copy = self
        copy.keySerde = keySerde
        copy.valueSerde = valueSerde
        return copy
    }

    /// No changelog (the table is not restored when its task moves).
    public func withLoggingDisabled() -> Materialized<K, V> {
        var copy = self
        copy.loggingEnabled = false
        return copy
    }

    /// A changelog with these topic configs.
    public func withLoggingEnabled(_ config: [String: String] = [:]) -> Materialized<K, V> {
        var copy = self
        copy.loggingEnabled = true
        copy.logConfig = config
        return copy
    }

    /// Every update goes downstream (and to the changelog) at once.
    public func withCachingDisabled() -> Materialized<K, V> {
        var copy = self
        copy.cachingEnabled = false
        return copy
    }

    /// Updates of a key collapse in the record cache until it is evicted or the task commits (the default).
    public func withCachingEnabled() -> Materialized<K, V> {
        var copy = self
        copy.cachingEnabled = true
        return copy
    }

    /// Keeps windows for `retentionMs` of stream time (at least the window size plus grace).
    public func withRetention(_ retentionMs: Int64) -> Materialized<K, V> {
        var copy = self
        copy.retentionMs = retentionMs
        return copy
    }

    /// The timestamped key-value store of a DSL table named `storeName`: this supplier (or the
    /// runtime's persistent store), `keySerde` and `valueSerde` (a missing one is an error naming
    /// the store when it is used), and these options.
    /// `timestamped` makes the stored values' serde (in the caller's specialization, when given).
    func tableStore(
        _ storeName: String, keySerde: Serde<K>?, valueSerde: Serde<V>?,
        timestamped: (Serde<V>) -> Serde<ValueAndTimestamp<V>> = { .timestamped($0) }
    ) -> KeyValueStoreBuilder<K, ValueAndTimestamp<V>> {
        var store = Stores.keyValueStoreBuilder(
            storeSupplier ?? DefaultDSLStoreSupplier(name: storeName), keySerde: TableSerde(keySerde, storeName, "key"),
            valueSerde: timestamped(TableSerde(valueSerde, storeName, "value")))
        store.options = storeOptions
        return store
    }

    /// The store builder's options for this table.
    var storeOptions: StoreOptions {
        var options = StoreOptions()
        options.loggingEnabled = loggingEnabled
        options.logConfig = logConfig
        options.cachingEnabled = cachingEnabled
        return options
    }
}

/// How a grouping repartitions: a name for the repartition topic, and serdes.
public struct Grouped<K, V>: Sendable {
    public var name: String?
    public var keySerde: Serde<K>?
    public var valueSerde: Serde<V>?

    public init(named name: String? = nil, keySerde: Serde<K>? = nil, valueSerde: Serde<V>? = nil) {
        self.name = name
        self.keySerde = keySerde
        self.valueSerde = valueSerde
    }

    /// A windowed table's store from this supplier (named after it).
    public static func `as`(_ supplier: any WindowBytesStoreSupplier) -> Materialized<K, V> {
        var materialized = Materialized<K, V>(storeName: supplier.name)
        materialized.windowStoreSupplier = supplier
        return materialized
    }

    /// A session table's store from this supplier (named after it).
    public static func `as`(_ supplier: any SessionBytesStoreSupplier) -> Materialized<K, V> {
        var materialized = Materialized<K, V>(storeName: supplier.name)
        materialized.sessionStoreSupplier = supplier
        return materialized
    }

    /// With serdes.
    public static func with(_ keySerde: Serde<K>, _ valueSerde: Serde<V>) -> Grouped<K, V> {
        Grouped(keySerde: keySerde, valueSerde: valueSerde)
    }
}

/// The runtime's default store for DSL tables, chosen when a task builds it (RocksDB under both runtimes).
struct DefaultDSLStoreSupplier: KeyValueBytesStoreSupplier {
    let name: String
    var persistent: Bool { true }
    func makeStore(directory: String) throws -> any BytesKeyValueStore {
        InMemoryKeyValueStore(name: name)
    }
}
