/// Describes a store the topology needs; each task builds its own instance.
public protocol StoreBuilder: Sendable {
    /// The store's name, unique in the topology.
    var name: String { get }
    /// Whether instances keep their data on disk.
    var persistent: Bool { get }
    /// Whether every write also goes to the changelog topic `<application.id>-<name>-changelog`,
    /// from which the store is restored (on by default, as in Kafka Streams).
    var loggingEnabled: Bool { get }
    /// Topic configs for the changelog (`cleanup.policy=compact` is always set).
    var logConfig: [String: String] { get }
    /// A new instance for one task.
    func build(_ context: StoreContext) throws -> any StateStore
}

/// What a task gives a store builder: where a persistent store keeps its files, and the changelog to write.
public struct StoreContext {
    /// `<state.dir>/<application.id>/<task>/<store name>` (unused by in-memory stores).
    public let directory: String
    /// Where writes are logged, when logging is on.
    public let changelog: ChangeLogger?
    /// The runtime's persistent key-value store, for DSL tables with no supplier of their own.
    public let persistentKeyValueStore: @Sendable (String) -> any KeyValueBytesStoreSupplier
}

/// Makes the persistent key-value store a runtime uses for DSL tables (RocksDB in both runtimes).
public typealias PersistentKeyValueStoreFactory = @Sendable (String) -> any KeyValueBytesStoreSupplier

/// Builds typed key-value stores over a byte-store supplier.
///
/// ```swift
/// let counts = Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("counts"), keySerde: .string, valueSerde: .int64)
/// try topology.addStateStore(counts, connectedTo: ["counter"])
/// ```
public struct KeyValueStoreBuilder<K, V>: StoreBuilder {
    public let supplier: any KeyValueBytesStoreSupplier
    public let keySerde: Serde<K>
    public let valueSerde: Serde<V>
    public private(set) var loggingEnabled = true
    public private(set) var logConfig: [String: String] = [:]

    init(supplier: any KeyValueBytesStoreSupplier, keySerde: Serde<K>, valueSerde: Serde<V>) {
        self.supplier = supplier
        self.keySerde = keySerde
        self.valueSerde = valueSerde
    }

    public var name: String { supplier.name }
    public var persistent: Bool { supplier.persistent }

    /// No changelog: the store is not restored when its task moves or its state directory is lost.
    public func withLoggingDisabled() -> KeyValueStoreBuilder {
        var copy = self
        copy.loggingEnabled = false
        return copy
    }

    /// A changelog with these topic configs.
    public func withLoggingEnabled(_ config: [String: String] = [:]) -> KeyValueStoreBuilder {
        var copy = self
        copy.loggingEnabled = true
        copy.logConfig = config
        return copy
    }

    public func build(_ context: StoreContext) throws -> any StateStore {
        let chosen = supplier is DefaultDSLStoreSupplier ? context.persistentKeyValueStore(name) : supplier
        let storage = try chosen.makeStore(directory: context.directory)
        let front: any BytesKeyValueStore = context.changelog.map { ChangeLoggingKeyValueStore(storage, log: $0) } ?? storage
        return TypedKeyValueStore(inner: front, storage: storage, keySerde: keySerde, valueSerde: valueSerde)
    }
}

/// Factories for stores and their builders, as Kafka Streams' `Stores`.
/// Persistent (RocksDB) suppliers come with `import RillRocksDB`.
public enum Stores {
    /// A key-value byte store kept in memory.
    public static func inMemoryKeyValueStore(_ name: String) -> any KeyValueBytesStoreSupplier {
        InMemoryKeyValueSupplier(name: name)
    }

    /// A builder of typed key-value stores, with a changelog unless ``KeyValueStoreBuilder/withLoggingDisabled()``.
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
