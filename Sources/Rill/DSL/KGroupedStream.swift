/// A stream grouped by key, ready to aggregate into a ``KTable`` (Kafka Streams' `KGroupedStream`).
///
/// Each update of a key's aggregate is emitted downstream (there is no record cache yet to
/// deduplicate updates between commits).
public struct KGroupedStream<K, V> {
    let stream: KStream<K, V>
    let name: String?
    let keySerde: Serde<K>?
    let valueSerde: Serde<V>?
    let repartitionRequired: Bool

    var builder: StreamsBuilder { stream.builder }

    /// The number of records per key.
    public func count(named: Named? = nil, materialized: Materialized<K, Int64> = Materialized()) -> KTable<K, Int64> {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? .int64
        return aggregate(named: named, materialized: materialized, initializer: { 0 }, aggregator: { _, _, count in count + 1 })
    }

    /// Combines each key's values with `reducer` (the first value is the start).
    public func reduce(
        named: Named? = nil, materialized: Materialized<K, V> = Materialized(),
        _ reducer: @escaping @Sendable (V, V) throws -> V
    ) -> KTable<K, V> {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? valueSerde
        return doAggregate(named: named, materialized: materialized) { store in
            { key, value, old in try old.map { try reducer($0, value) } ?? value }
        }
    }

    /// Folds each key's values into an aggregate, starting from `initializer()`.
    public func aggregate<VA>(
        named: Named? = nil, materialized: Materialized<K, VA> = Materialized(),
        initializer: @escaping @Sendable () throws -> VA, aggregator: @escaping @Sendable (K, V, VA) throws -> VA
    ) -> KTable<K, VA> {
        doAggregate(named: named, materialized: materialized) { _ in
            { key, value, old in try aggregator(key, value, try old ?? initializer()) }
        }
    }

    /// Adds the store and the aggregation processor, repartitioning first when the key may have changed.
    /// `makeStep` returns the step `(key, value, old aggregate) -> new aggregate`.
    func doAggregate<VA>(
        named: Named?, materialized: Materialized<K, VA>,
        makeStep: (String) -> @Sendable (K, V, VA?) throws -> VA
    ) -> KTable<K, VA> {
        // Kafka Streams names the store first, then the processor, then the repartition nodes.
        let storeName = materialized.storeName ?? builder.newName("KSTREAM-AGGREGATE-STATE-STORE-")
        let processorName = builder.name(named, prefix: "KSTREAM-AGGREGATE-")
        let input = repartitionRequired
            ? stream.repartitioned(through: name ?? storeName, keySerde: keySerde, valueSerde: valueSerde)
            : stream
        let keySerde = materialized.keySerde ?? keySerde
        let valueSerde = materialized.valueSerde
        let supplier = materialized.storeSupplier ?? DefaultDSLStoreSupplier(name: storeName)
        var storeBuilder = Stores.keyValueStoreBuilder(
            supplier, keySerde: TableSerde(keySerde, storeName, "key"),
            valueSerde: Serde<ValueAndTimestamp<VA>>.timestamped(TableSerde(valueSerde, storeName, "value")))
        storeBuilder = materialized.loggingEnabled
            ? storeBuilder.withLoggingEnabled(materialized.logConfig) : storeBuilder.withLoggingDisabled()
        builder.addStateStore(storeBuilder)
        let step = makeStep(storeName)
        input.add(processorName, stores: [storeName], output: Record<K, Change<VA>>.self) { context in
            try AggregateNode<K, V, VA>(name: processorName, context: context, storeName: storeName, step: step)
        }
        return KTable(builder: builder, name: processorName, keySerde: keySerde, valueSerde: valueSerde, storeName: storeName)
    }
}

/// A serde that must be given: a table's store can't exist without one, so its absence is an error
/// naming the store when the task builds it.
func TableSerde<T>(_ serde: Serde<T>?, _ store: String, _ part: String) -> Serde<T> {
    if let serde { return serde }
    let failure = StateStoreError(
        store: store, message: "no \(part) serde for \(T.self): pass one with Grouped or Materialized")
    return Serde(serialize: { _ in throw failure }, deserialize: { _ in throw failure })
}

/// Aggregates records into a timestamped key-value store and forwards each change of a key's aggregate.
final class AggregateNode<K, V, VA>: InputNode<K, V> {
    let downstream: Downstream<K, Change<VA>>
    let storeName: String
    let step: @Sendable (K, V, VA?) throws -> VA
    private var store: (any KeyValueStore<K, ValueAndTimestamp<VA>>)?

    init(name: String, context: NodeContext, storeName: String, step: @escaping @Sendable (K, V, VA?) throws -> VA) throws {
        downstream = try Downstream(context.children, parent: name)
        self.storeName = storeName
        self.step = step
        super.init(name: name, task: context.task)
    }

    override func initialize() throws {
        guard let typed = task.stores[storeName] as? any KeyValueStore<K, ValueAndTimestamp<VA>> else {
            throw StateStoreError(store: storeName, message: "missing from task \(task.taskID)")
        }
        store = typed
    }

    override func process(_ record: Record<K, V>) throws {
        guard let store else { return }
        // Kafka Streams skips (and counts) records with a null key or value.
        guard !isNull(record.key), !isNull(record.value) else {
            task.metrics.droppedRecords += 1
            task.logger.debug("Skipping record with a null key or value in \(name)")
            return
        }
        let old = try store.get(record.key)
        let new = try userCode(self) { try step(record.key, record.value, old?.value) }
        let timestamp = max(record.timestamp, old?.timestamp ?? record.timestamp)
        try store.put(record.key, ValueAndTimestamp(new, timestamp: timestamp))
        try downstream.forward(
            Record(key: record.key, value: Change(newValue: new, oldValue: old?.value), timestamp: timestamp,
                   headers: record.headers))
    }
}
