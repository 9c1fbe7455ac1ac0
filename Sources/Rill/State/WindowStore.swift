/// Reads of a window store: values per key and window start.
public protocol ReadOnlyWindowStore<Key, Value>: AnyObject {
    associatedtype Key
    associatedtype Value

    /// The value of `key`'s window starting at `windowStart`, or `nil`.
    func fetch(_ key: Key, windowStart: Int64) throws -> Value?
    /// `key`'s windows starting in `from...to`, as (window start, value), by start.
    func fetch(_ key: Key, from: Int64, to: Int64) throws -> [KeyValue<Int64, Value>]
    /// Every key's windows starting in `from...to`, by start, then by serialized key.
    func fetchAll(from: Int64, to: Int64) throws -> [KeyValue<Windowed<Key>, Value>]
    /// Every window the store holds, by start, then by serialized key.
    func all() throws -> [KeyValue<Windowed<Key>, Value>]
}

/// Values per key and time window, kept for the store's retention period (Kafka Streams' `WindowStore`).
///
/// ```swift
/// let store: any WindowStore<String, Int64> = try context.windowStore(named: "per-minute")
/// try store.put("clinic-1", 3, windowStart: 60_000)
/// ```
public protocol WindowStore<Key, Value>: ReadOnlyWindowStore, StateStore {
    /// Stores `value` for `key`'s window starting at `windowStart`; `nil` deletes it. Writes to
    /// windows older than the retention period are dropped.
    func put(_ key: Key, _ value: Value?, windowStart: Int64) throws
}

/// A window store of values with the timestamps of their latest records: how DSL windowed tables are stored.
public typealias TimestampedWindowStore<K, V> = WindowStore<K, ValueAndTimestamp<V>>

/// A typed window store over a segmented byte store.
final class TypedWindowStore<K, V>: WindowStore, RestorableStore, CachedStore {
    typealias Key = K
    typealias Value = V

    let inner: any BytesKeyValueStore
    let caching: CachingBytesStore?
    let storage: SegmentedBytesStore
    let codec: StoreCodec<K, V>
    let windowSize: Int64
    let retainDuplicates: Bool
    private var sequence: Int32 = 0

    init(layers: StoreLayers, storage: SegmentedBytesStore, codec: StoreCodec<K, V>, windowSize: Int64, retainDuplicates: Bool) {
        inner = layers.front
        caching = layers.caching
        self.storage = storage
        self.codec = codec
        self.windowSize = windowSize
        self.retainDuplicates = retainDuplicates
    }

    var name: String { storage.name }
    var persistent: Bool { storage.persistent }
    func flush() throws { try inner.flush() }
    func close() { inner.close() }
    func restore(_ batch: [(key: [UInt8], value: [UInt8]?)]) throws { try storage.putAll(batch) }

    func put(_ key: K, _ value: V?, windowStart: Int64) throws {
        // A store keeping duplicates only adds (as Kafka Streams' does, deletes are ignored).
        if retainDuplicates {
            guard value != nil else { return }
            sequence = sequence == .max ? 1 : sequence + 1
        }
        try inner.put(
            WindowKeyLayout.storeKey(codec.keyBytes(key), start: windowStart, sequence: sequence), codec.valueBytes(value))
    }

    /// The value under a store key of ``WindowKeyLayout`` (for processors that reuse one key's bytes).
    @inline(__always)
    func fetch(storeKey: [UInt8]) throws -> V? { try codec.value(inner.get(storeKey)) }

    /// Writes the value under a store key of ``WindowKeyLayout`` (never for stores keeping duplicates).
    @inline(__always)
    func put(storeKey: [UInt8], _ value: V?) throws { try inner.put(storeKey, codec.valueBytes(value)) }

    func fetch(_ key: K, windowStart: Int64) throws -> V? {
        let keyBytes = try codec.keyBytes(key)
        if !retainDuplicates {
            return try codec.value(inner.get(WindowKeyLayout.storeKey(keyBytes, start: windowStart, sequence: 0)))
        }
        return try fetch(keyBytes, from: windowStart, to: windowStart).first?.value
    }

    func fetch(_ key: K, from: Int64, to: Int64) throws -> [KeyValue<Int64, V>] {
        try fetch(codec.keyBytes(key), from: from, to: to)
    }

    private func fetch(_ keyBytes: [UInt8], from: Int64, to: Int64) throws -> [KeyValue<Int64, V>] {
        guard from <= to, to >= 0 else { return [] }
        // Times are never negative: a negative bound would sort after every key.
        let entries = try inner.range(
            from: WindowKeyLayout.storeKey(keyBytes, start: max(0, from), sequence: 0),
            to: WindowKeyLayout.storeKey(keyBytes, start: to, sequence: -1))
        var found: [(start: Int64, key: [UInt8], value: [UInt8])] = []
        while let entry = try entries.next() {
            let (key, start) = WindowKeyLayout.split(entry.key)
            // Longer keys sharing the prefix fall in the byte range too.
            guard start >= from, start <= to, key.elementsEqual(keyBytes) else { continue }
            found.append((start, entry.key, entry.value))
        }
        found.sort { $0.start != $1.start ? $0.start < $1.start : $0.key.lexicographicallyPrecedes($1.key) }
        return try found.map { KeyValue($0.start, try codec.value($0.value)!) }
    }

    func fetchAll(from: Int64, to: Int64) throws -> [KeyValue<Windowed<K>, V>] {
        let entries = try inner.range(from: nil, to: nil)
        var found: [(start: Int64, key: ArraySlice<UInt8>, value: [UInt8])] = []
        while let entry = try entries.next() {
            let (key, start) = WindowKeyLayout.split(entry.key)
            guard start >= from, start <= to else { continue }
            found.append((start, key, entry.value))
        }
        found.sort { $0.start != $1.start ? $0.start < $1.start : $0.key.lexicographicallyPrecedes($1.key) }
        return try found.map { entry in
            let (end, overflow) = entry.start.addingReportingOverflow(windowSize)
            return KeyValue(
                Windowed(try codec.key(entry.key), Window(start: entry.start, end: overflow ? .max : end)),
                try codec.value(entry.value)!)
        }
    }

    func all() throws -> [KeyValue<Windowed<K>, V>] { try fetchAll(from: .min, to: .max) }
}

/// Builds typed window stores over a window byte-store supplier.
///
/// ```swift
/// let perMinute = Stores.windowStoreBuilder(
///     Stores.inMemoryWindowStore("per-minute", retentionPeriod: 3_600_000, windowSize: 60_000),
///     keySerde: .string, valueSerde: .int64)
/// ```
public struct WindowStoreBuilder<K, V>: ConfigurableStoreBuilder, KeyedStoreBuilder {
    public let supplier: any WindowBytesStoreSupplier
    public let keySerde: Serde<K>
    public let valueSerde: Serde<V>
    public var options = StoreOptions()

    init(supplier: any WindowBytesStoreSupplier, keySerde: Serde<K>, valueSerde: Serde<V>) {
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
            minimumKeyLength: WindowKeyLayout.suffix, time: WindowKeyLayout.time)
        return TypedWindowStore(
            layers: context.layer(storage, options, keySuffix: WindowKeyLayout.suffix), storage: storage,
            codec: StoreCodec(store: name, keySerde: keySerde, valueSerde: valueSerde),
            windowSize: supplier.windowSize, retainDuplicates: supplier.retainDuplicates)
    }
}

extension StoreContext {
    /// The supplier to build: DSL stores with no supplier of their own get the runtime's persistent
    /// key-value store for their segments.
    func resolve(_ supplier: any SegmentedBytesStoreSupplier) -> any SegmentedBytesStoreSupplier {
        guard let dsl = supplier as? DefaultDSLSegmentedSupplier else { return supplier }
        return PersistentSegments(base: dsl, factory: persistentStores)
    }
}

/// Segments in the runtime's persistent store.
private struct PersistentSegments: SegmentedBytesStoreSupplier {
    let base: DefaultDSLSegmentedSupplier
    let factory: PersistentStoreFactory
    var name: String { base.name }
    var persistent: Bool { true }
    var retentionPeriod: Int64 { base.retentionPeriod }
    var segmentInterval: Int64 { base.segmentInterval }
    func openSegments(directory: String) throws -> any SegmentSpace { try factory.segments(name, directory) }
}

/// The runtime's default store for DSL windowed and session tables (RocksDB under both runtimes).
struct DefaultDSLSegmentedSupplier: WindowBytesStoreSupplier, SessionBytesStoreSupplier {
    let name: String
    let retentionPeriod: Int64
    let windowSize: Int64
    var retainDuplicates = false
    var persistent: Bool { true }
    /// As Kafka Streams: half the retention, at least a minute.
    var segmentInterval: Int64 { max(retentionPeriod / 2, 60_000) }
    func openSegments(directory: String) throws -> any SegmentSpace { InMemorySegmentSpace(name: name) }
}

/// Window and session stores kept in memory, in segments like the persistent ones.
struct InMemorySegmentedSupplier: WindowBytesStoreSupplier, SessionBytesStoreSupplier {
    let name: String
    let retentionPeriod: Int64
    let windowSize: Int64
    let retainDuplicates: Bool
    var persistent: Bool { false }
    var segmentInterval: Int64 { max(retentionPeriod / 2, 60_000) }
    func openSegments(directory: String) throws -> any SegmentSpace { InMemorySegmentSpace(name: name) }
}

extension Stores {
    /// A window byte store kept in memory, holding windows for `retentionPeriod` ms of stream time.
    public static func inMemoryWindowStore(
        _ name: String, retentionPeriod: Int64, windowSize: Int64, retainDuplicates: Bool = false
    ) throws -> any WindowBytesStoreSupplier {
        try validateWindowStore(name, retentionPeriod: retentionPeriod, windowSize: windowSize)
        return InMemorySegmentedSupplier(
            name: name, retentionPeriod: retentionPeriod, windowSize: windowSize, retainDuplicates: retainDuplicates)
    }

    /// A session byte store kept in memory, holding sessions for `retentionPeriod` ms of stream time.
    public static func inMemorySessionStore(_ name: String, retentionPeriod: Int64) throws -> any SessionBytesStoreSupplier {
        guard retentionPeriod >= 0 else {
            throw StateStoreError(store: name, message: "retention period must not be negative (got \(retentionPeriod) ms)")
        }
        return InMemorySegmentedSupplier(name: name, retentionPeriod: retentionPeriod, windowSize: 0, retainDuplicates: false)
    }

    /// Checks a window store's sizes, naming the store.
    public static func validateWindowStore(_ name: String, retentionPeriod: Int64, windowSize: Int64) throws {
        guard windowSize > 0 else {
            throw StateStoreError(store: name, message: "window size must be positive (got \(windowSize) ms)")
        }
        guard retentionPeriod >= windowSize else {
            throw StateStoreError(
                store: name,
                message: "retention period (\(retentionPeriod) ms) must be at least the window size (\(windowSize) ms)")
        }
    }

    /// A builder of typed window stores.
    public static func windowStoreBuilder<K, V>(
        _ supplier: any WindowBytesStoreSupplier, keySerde: Serde<K>, valueSerde: Serde<V>
    ) -> WindowStoreBuilder<K, V> {
        WindowStoreBuilder(supplier: supplier, keySerde: keySerde, valueSerde: valueSerde)
    }

    /// A builder of typed session stores.
    public static func sessionStoreBuilder<K, V>(
        _ supplier: any SessionBytesStoreSupplier, keySerde: Serde<K>, valueSerde: Serde<V>
    ) -> SessionStoreBuilder<K, V> {
        SessionStoreBuilder(supplier: supplier, keySerde: keySerde, valueSerde: valueSerde)
    }
}
