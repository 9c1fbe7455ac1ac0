/// Describes a store the topology needs; each task builds its own instance.
public protocol StoreBuilder: Sendable {
    /// The store's name, unique in the topology.
    var name: String { get }
    /// Whether instances keep their data on disk.
    var persistent: Bool { get }
    /// Logging and caching.
    var options: StoreOptions { get }
    /// The changelog's topic configs: ``logConfig`` over the defaults for the store kind.
    var changelogConfig: [String: String] { get }
    /// A new instance for one task.
    func build(_ context: StoreContext) throws -> any StateStore
}

extension StoreBuilder {
    /// Whether every write also goes to the changelog topic `<application.id>-<name>-changelog`,
    /// from which the store is restored (on by default, as in Kafka Streams).
    public var loggingEnabled: Bool { options.loggingEnabled }
    /// Topic configs for the changelog.
    public var logConfig: [String: String] { options.logConfig }
    /// Compacted: a key-value changelog keeps the latest value per key.
    public var changelogConfig: [String: String] { options.logConfig.merging(["cleanup.policy": "compact"]) { given, _ in given } }
}

/// Changelog configs of window and session stores: compacted, and deleted a day after the
/// store's retention (Kafka Streams' `windowstore.changelog.additional.retention.ms`).
func segmentedChangelogConfig(_ options: StoreOptions, retentionPeriod: Int64) -> [String: String] {
    let (retention, overflow) = retentionPeriod.addingReportingOverflow(86_400_000)
    return options.logConfig.merging(
        ["cleanup.policy": "compact,delete", "retention.ms": String(overflow ? Int64.max : retention)]) { given, _ in given }
}

/// How a store is wrapped: a changelog (on by default) and the thread's record cache (off by
/// default for stores built by hand, on for DSL tables, as in Kafka Streams).
public struct StoreOptions: Sendable {
    public var loggingEnabled = true
    /// Topic configs for the changelog; `cleanup.policy` defaults to `compact` (`compact,delete` with
    /// a retention for window and session stores).
    public var logConfig: [String: String] = [:]
    public var cachingEnabled = false

    public init() {}
}

/// A store builder whose keys are of one type, with their serde: what finding the instance that
/// holds a key needs (`KafkaStreams.metadata(forKey:store:)`).
public protocol KeyedStoreBuilder: StoreBuilder {
    associatedtype Key
    var keySerde: Serde<Key> { get }
}

extension KeyedStoreBuilder {
    /// The key serde as `Any`, from an existential builder.
    public var anyKeySerde: Any { keySerde }
}

/// A store builder whose logging and caching can be switched.
public protocol ConfigurableStoreBuilder: StoreBuilder {
    var options: StoreOptions { get set }
}

extension ConfigurableStoreBuilder {
    /// No changelog: the store is not restored when its task moves or its state directory is lost.
    public func withLoggingDisabled() -> Self {
        var copy = self
        copy.options.loggingEnabled = false
        return copy
    }

    /// A changelog with these topic configs.
    public func withLoggingEnabled(_ config: [String: String] = [:]) -> Self {
        var copy = self
        copy.options.loggingEnabled = true
        copy.options.logConfig = config
        return copy
    }

    /// Writes wait in the thread's record cache until evicted or committed; updates of a key in
    /// between collapse into one.
    public func withCachingEnabled() -> Self {
        var copy = self
        copy.options.cachingEnabled = true
        return copy
    }

    /// Every write goes through at once.
    public func withCachingDisabled() -> Self {
        var copy = self
        copy.options.cachingEnabled = false
        return copy
    }
}

/// What a task gives a store builder: where a persistent store keeps its files, the changelog to
/// write, and the thread's record cache.
public struct StoreContext {
    /// `<state.dir>/<application.id>/<task>/<store name>` (unused by in-memory stores).
    public let directory: String
    /// Where writes are logged, when logging is on.
    public let changelog: ChangeLogger?
    /// The runtime's persistent stores, for DSL stores with no supplier of their own.
    public let persistentStores: PersistentStoreFactory
    /// The thread's record cache (`nil` where there is none).
    let cache: RecordCache?
    /// The timestamp of the record being processed, for cache entries.
    let timestamp: () -> Int64
    /// Whether several threads use the store (a global table's): its storage is then locked.
    var concurrent = false

    /// Puts the changelog and the cache, as configured, in front of `storage`. `keySuffix` is the
    /// length of the time suffix of a window or session store's keys (see ``CachingBytesStore``).
    func layer(_ storage: any BytesKeyValueStore, _ options: StoreOptions, keySuffix: Int? = nil) -> StoreLayers {
        let storage: any BytesKeyValueStore = concurrent ? LockedBytesStore(storage) : storage
        let logged: any BytesKeyValueStore = changelog.map { ChangeLoggingKeyValueStore(storage, log: $0) } ?? storage
        guard options.cachingEnabled, let cache else { return StoreLayers(front: logged, caching: nil) }
        let caching = CachingBytesStore(logged, cache: cache, keySuffix: keySuffix, timestamp: timestamp)
        return StoreLayers(front: caching, caching: caching)
    }
}

/// The byte stores of one typed store: where reads and writes go, and its cache, if any.
struct StoreLayers {
    let front: any BytesKeyValueStore
    let caching: CachingBytesStore?
}

/// The persistent stores a runtime gives DSL stores that name no supplier (RocksDB in both runtimes,
/// from `RillRocksDB`; `Rill` itself does not depend on RocksDB).
public struct PersistentStoreFactory: Sendable {
    /// A key-value byte store supplier, by store name.
    public let keyValueStore: @Sendable (_ name: String) -> any KeyValueBytesStoreSupplier
    /// The segments of a window or session store, by store name and directory.
    public let segments: @Sendable (_ name: String, _ directory: String) throws -> any SegmentSpace

    public init(
        keyValueStore: @escaping @Sendable (_ name: String) -> any KeyValueBytesStoreSupplier,
        segments: @escaping @Sendable (_ name: String, _ directory: String) throws -> any SegmentSpace
    ) {
        self.keyValueStore = keyValueStore
        self.segments = segments
    }

    /// Everything in memory: for tests of topologies whose stores need no disk.
    public static let inMemory = PersistentStoreFactory(
        keyValueStore: { InMemoryKeyValueSupplier(name: $0) }, segments: { name, _ in InMemorySegmentSpace(name: name) })
}

/// Builds typed key-value stores over a byte-store supplier.
///
/// ```swift
/// let counts = Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("counts"), keySerde: .string, valueSerde: .int64)
/// try topology.addStateStore(counts, connectedTo: ["counter"])
/// ```
public struct KeyValueStoreBuilder<K, V>: ConfigurableStoreBuilder, KeyedStoreBuilder {
    public let supplier: any KeyValueBytesStoreSupplier
    public let keySerde: Serde<K>
    public let valueSerde: Serde<V>
    public var options = StoreOptions()

    init(supplier: any KeyValueBytesStoreSupplier, keySerde: Serde<K>, valueSerde: Serde<V>) {
        self.supplier = supplier
        self.keySerde = keySerde
        self.valueSerde = valueSerde
    }

    public var name: String { supplier.name }
    public var persistent: Bool { supplier.persistent }

    public func build(_ context: StoreContext) throws -> any StateStore {
        let chosen = supplier is DefaultDSLStoreSupplier ? context.persistentStores.keyValueStore(name) : supplier
        let storage = try chosen.makeStore(directory: context.directory)
        return TypedKeyValueStore(
            layers: context.layer(storage, options), storage: storage,
            codec: StoreCodec(store: name, keySerde: keySerde, valueSerde: valueSerde))
    }
}

/// Factories for stores and their builders, as Kafka Streams' `Stores`.
/// Persistent (RocksDB) suppliers come with `import RillRocksDB`.
public enum Stores {
    /// A key-value byte store kept in memory.
    public static func inMemoryKeyValueStore(_ name: String) -> any KeyValueBytesStoreSupplier {
        InMemoryKeyValueSupplier(name: name)
    }

    /// A builder of typed key-value stores, with a changelog unless ``ConfigurableStoreBuilder/withLoggingDisabled()``.
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

/// Serializes a typed store's keys and values, naming the store in every error.
///
/// A class, so that the per-record paths that take it from their node retain one reference
/// instead of copying the store name and both serdes' closures.
@usableFromInline
final class StoreCodec<K, V> {
    @usableFromInline let store: String
    @usableFromInline let keySerde: Serde<K>
    @usableFromInline let valueSerde: Serde<V>

    init(store: String, keySerde: Serde<K>, valueSerde: Serde<V>) {
        self.store = store
        self.keySerde = keySerde
        self.valueSerde = valueSerde
    }

    @inlinable
    func keyBytes(_ key: K) throws -> [UInt8] {
        let bytes: [UInt8]?
        do { bytes = try keySerde.serialize(key) } catch let error as StateStoreError { throw error } catch {
            throw StateStoreError(store: store, message: "could not serialize key: \(error)")
        }
        guard let bytes else { throw StateStoreError(store: store, message: "a key serialized to null") }
        return bytes
    }

    @inlinable
    func key<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws -> K {
        do { return try keySerde.deserialize(Array(bytes)) } catch {
            throw StateStoreError(store: store, message: "could not deserialize a stored key: \(error)")
        }
    }

    @inlinable
    func value(_ bytes: [UInt8]?) throws -> V? {
        guard let bytes else { return nil }
        do { return try valueSerde.deserialize(bytes) } catch {
            throw StateStoreError(store: store, message: "could not deserialize a stored value: \(error)")
        }
    }

    @inlinable
    func valueBytes(_ value: V?) throws -> [UInt8]? {
        guard let value else { return nil }
        do { return try valueSerde.serialize(value) } catch let error as StateStoreError { throw error } catch {
            throw StateStoreError(store: store, message: "could not serialize value: \(error)")
        }
    }
}

/// A typed store whose byte writes can be watched as they leave the record cache (DSL tables
/// forward their changes from there when caching is on).
protocol CachedStore: StateStore {
    /// The cache in front of the store, if caching is on.
    var caching: CachingBytesStore? { get }
}

extension CachedStore {
    /// Flushes the cache without flushing the store underneath (before a commit's store flush).
    func flushCache() throws { try caching?.flushCache() }
}
