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
    public var loggingEnabled = true
    public var logConfig: [String: String] = [:]

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
