import Foundation

/// A table of every partition of a topic, held whole by each application instance and kept up to
/// date by a global thread (Kafka Streams' `GlobalKTable`). Streams join it by a key they compute,
/// with no co-partitioning needed.
///
/// ```swift
/// let clinics = builder.globalTable("clinics", Consumed(.string, .json(Clinic.self)), materialized: .as("clinics"))
/// calls.join(clinics, keySelector: { _, call in call.clinicId }, joiner: { call, clinic in Enriched(call, clinic) })
/// ```
public struct GlobalKTable<K, V> {
    /// The store holding the table (one per application instance, not per task).
    public let storeName: String
}

/// A global table's definition: the topic, the store, and how a raw record updates the store.
package struct GlobalTableDefinition: Sendable {
    package let topic: String
    package let storeBuilder: any StoreBuilder
    /// The names of its source and of the processor that fills the store, as Kafka Streams names them.
    package let sourceName: String
    package let processorName: String
    /// Applies one record of the topic to the store (a null value deletes).
    package let apply: @Sendable (any StateStore, RawRecord) throws -> Void
}

extension StreamsBuilder {
    /// A global table of `topic`, in a store named by `materialized` (by default `<topic>-STATE-STORE-<n>`).
    public func globalTable<K, V>(
        _ topic: String, _ consumed: Consumed<K, V> = Consumed(), materialized: Materialized<K, V> = Materialized()
    ) -> GlobalKTable<K, V> {
        let storeName = materialized.storeName ?? newName("\(topic)-STATE-STORE-")
        let keySerde = TableSerde(materialized.keySerde ?? consumed.keySerde, storeName, "key")
        let valueSerde = TableSerde(materialized.valueSerde ?? consumed.valueSerde, storeName, "value")
        var store = materialized.tableStore(storeName, keySerde: keySerde, valueSerde: valueSerde)
        // The topic is the table's log: no changelog, no cache.
        store.options.loggingEnabled = false
        store.options.cachingEnabled = false
        let sourceName = consumed.name ?? newName("KSTREAM-SOURCE-")
        let processorName = newName("KTABLE-SOURCE-")
        let definition = GlobalTableDefinition(
            topic: topic, storeBuilder: store, sourceName: sourceName, processorName: processorName
        ) { store, raw in
            guard let table = store as? TypedKeyValueStore<K, ValueAndTimestamp<V>>, let keyBytes = raw.key else { return }
            let key = try keySerde.deserialize(keyBytes)
            try table.put(key, try raw.value.map { ValueAndTimestamp(try valueSerde.deserialize($0), timestamp: raw.timestamp) })
        }
        attempt { try topology.addGlobalTable(definition) }
        return GlobalKTable(storeName: storeName)
    }
}

extension KStream {
    /// Joins each record with the global table's value for `keySelector(key, value)`; records whose
    /// lookup finds nothing are dropped.
    public func join<GK, GV, VR>(
        _ table: GlobalKTable<GK, GV>, keySelector: @escaping @Sendable (K, V) throws -> GK,
        joiner: @escaping @Sendable (V, GV) throws -> VR, named: Named? = nil
    ) -> KStream<K, VR> {
        joinGlobal(table, keySelector: keySelector, left: false, name: builder.name(named, prefix: "KSTREAM-JOIN-")) {
            try joiner($0, $1!)
        }
    }

    /// As ``join(_:keySelector:joiner:named:)``, but a record whose lookup finds nothing is joined with `nil`.
    public func leftJoin<GK, GV, VR>(
        _ table: GlobalKTable<GK, GV>, keySelector: @escaping @Sendable (K, V) throws -> GK,
        joiner: @escaping @Sendable (V, GV?) throws -> VR, named: Named? = nil
    ) -> KStream<K, VR> {
        joinGlobal(table, keySelector: keySelector, left: true, name: builder.name(named, prefix: "KSTREAM-LEFTJOIN-"), joiner: joiner)
    }

    private func joinGlobal<GK, GV, VR>(
        _ table: GlobalKTable<GK, GV>, keySelector: @escaping @Sendable (K, V) throws -> GK, left: Bool, name: String,
        joiner: @escaping @Sendable (V, GV?) throws -> VR
    ) -> KStream<K, VR> {
        let storeName = table.storeName
        add(name, output: Record<K, VR>.self) { context in
            try GlobalTableJoinNode<K, V, GK, GV, VR>(
                name: name, context: context, storeName: storeName, left: left, keySelector: keySelector, joiner: joiner)
        }
        return KStream<K, VR>(builder: builder, name: name, keySerde: keySerde, valueSerde: nil, repartitionRequired: repartitionRequired)
    }
}

/// Joins stream records with a global table, looked up by a key computed from each record.
final class GlobalTableJoinNode<K, V, GK, GV, VR>: InputNode<K, V> {
    let downstream: Downstream<K, VR>
    let storeName: String
    let left: Bool
    let keySelector: @Sendable (K, V) throws -> GK
    let joiner: @Sendable (V, GV?) throws -> VR
    private var store: TypedKeyValueStore<GK, ValueAndTimestamp<GV>>!

    init(
        name: String, context: NodeContext, storeName: String, left: Bool, keySelector: @escaping @Sendable (K, V) throws -> GK,
        joiner: @escaping @Sendable (V, GV?) throws -> VR
    ) throws {
        downstream = try Downstream(context.children, parent: name)
        self.storeName = storeName
        self.left = left
        self.keySelector = keySelector
        self.joiner = joiner
        super.init(name: name, task: context.task)
    }

    override func initialize() throws {
        guard let typed = task.globalStores[storeName] as? TypedKeyValueStore<GK, ValueAndTimestamp<GV>> else {
            throw StateStoreError(store: storeName, message: "no global table of \(GK.self) to \(GV.self) is running in this instance")
        }
        store = typed
    }

    override func process(_ record: Record<K, V>) throws {
        if isNull(record.value) {
            task.metrics.droppedRecords += 1
            return
        }
        let lookup = try userCode(self) { try keySelector(record.key, record.value) }
        if isNull(lookup) {
            task.metrics.droppedRecords += 1
            return
        }
        let other = try store.get(lookup)?.value
        guard other != nil || left else { return }
        let joined = try userCode(self) { try joiner(record.value, other) }
        try downstream.forward(Record(key: record.key, value: joined, timestamp: record.timestamp, headers: record.headers))
    }
}

/// A byte store several threads use at once (a global table: written by the global thread, read by
/// stream threads): every call holds a lock, and ranges are read whole under it.
final class LockedBytesStore: BytesKeyValueStore, @unchecked Sendable {
    private let inner: any BytesKeyValueStore
    private let lock = NSLock()

    init(_ inner: any BytesKeyValueStore) { self.inner = inner }

    var name: String { inner.name }
    var persistent: Bool { inner.persistent }
    func get(_ key: [UInt8]) throws -> [UInt8]? { try lock.withLock { try inner.get(key) } }
    func put(_ key: [UInt8], _ value: [UInt8]?) throws { try lock.withLock { try inner.put(key, value) } }
    func putAll(_ entries: [(key: [UInt8], value: [UInt8]?)]) throws { try lock.withLock { try inner.putAll(entries) } }

    func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator {
        try lock.withLock {
            let iterator = try inner.range(from: from, to: to)
            var entries: [(key: [UInt8], value: [UInt8])] = []
            while let entry = try iterator.next() { entries.append(entry) }
            return ArrayBytesIterator(entries)
        }
    }

    func approximateNumEntries() throws -> Int64 { try lock.withLock { try inner.approximateNumEntries() } }
    func flush() throws { try lock.withLock { try inner.flush() } }
    func close() { lock.withLock { inner.close() } }
}

extension GlobalTableDefinition {
    /// Opens the table's store for a whole application instance, safe to read from any thread.
    package func openStore(directory: String, persistentStores: PersistentStoreFactory) throws -> any StateStore {
        if storeBuilder.persistent {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StateStoreError(store: storeBuilder.name, message: "could not create \(directory): \(error)")
            }
        }
        let context = StoreContext(
            directory: directory, changelog: nil, persistentStores: persistentStores, cache: nil, timestamp: { 0 },
            concurrent: true)
        return try storeBuilder.build(context)
    }
}
