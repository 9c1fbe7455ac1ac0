/// Describes a store the topology needs; each task builds its own instance.
public protocol StoreBuilder: Sendable {
    /// The store's name, unique in the topology.
    var name: String { get }
    /// Whether instances keep their data on disk.
    var persistent: Bool { get }
    /// A new instance; `directory` is where a persistent store keeps its files.
    func build(directory: String) throws -> any StateStore
}

/// Builds typed key-value stores over a byte-store supplier.
///
/// ```swift
/// let counts = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("counts"), keySerde: .string, valueSerde: .int64)
/// try topology.addStateStore(counts, connectedTo: ["counter"])
/// ```
public struct KeyValueStoreBuilder<K, V>: StoreBuilder {
    public let supplier: any KeyValueBytesStoreSupplier
    public let keySerde: Serde<K>
    public let valueSerde: Serde<V>

    public var name: String { supplier.name }
    public var persistent: Bool { supplier.persistent }

    public func build(directory: String) throws -> any StateStore {
        TypedKeyValueStore(inner: try supplier.makeStore(directory: directory), keySerde: keySerde, valueSerde: valueSerde)
    }
}

/// Factories for stores and their builders, as Kafka Streams' `Stores`.
/// Persistent (RocksDB) suppliers come with `import RillRocksDB`.
public enum Stores {
    /// A key-value byte store kept in memory.
    public static func inMemoryKeyValueStore(_ name: String) -> any KeyValueBytesStoreSupplier {
        InMemoryKeyValueSupplier(name: name)
    }

    /// A builder of typed key-value stores.
    public static func keyValueStoreBuilder<K, V>(
        _ supplier: any KeyValueBytesStoreSupplier, keySerde: Serde<K>, valueSerde: Serde<V>
    ) -> KeyValueStoreBuilder<K, V> {
        KeyValueStoreBuilder(supplier: supplier, keySerde: keySerde, valueSerde: valueSerde)
    }
}

struct InMemoryKeyValueSupplier: KeyValueBytesStoreSupplier {
    let name: String
    var persistent: Bool { false }
    func makeStore(directory: String) throws -> any BytesKeyValueStore { InMemoryKeyValueStore(name: name) }
}
