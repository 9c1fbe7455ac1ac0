/// A stream grouped by key, ready to aggregate into a ``KTable`` (Kafka Streams' `KGroupedStream`).
///
/// Each update of a key's aggregate is emitted downstream (there is no record cache yet to
/// deduplicate updates between commits).
public struct KGroupedStream<K, V> {
    let stream: KStream<K, V>
    let name: String?
    let keySerde: Serde<K>?
    @usableFromInline let valueSerde: Serde<V>?
    let repartitionRequired: Bool

    var builder: StreamsBuilder { stream.builder }

    /// The number of records per key.
    @discardableResult
    public func count(named: Named? = nil, materialized: Materialized<K, Int64> = Materialized()) -> KTable<K, Int64> {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? .int64
        return aggregate(named: named, materialized: materialized, initializer: { 0 }, aggregator: { _, _, count in count + 1 })
    }

    /// Combines each key's values with `reducer` (the first value is the start).
    @discardableResult
    public func reduce(
        named: Named? = nil, materialized: Materialized<K, V> = Materialized(),
        _ reducer: @escaping @Sendable (V, V) throws -> V
    ) -> KTable<K, V> {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? valueSerde
        return doAggregate(named: named, materialized: materialized) { key, value, old in
            try old.map { try reducer($0, value) } ?? value
        }
    }

    /// Folds each key's values into an aggregate, starting from `initializer()`.
    @discardableResult
    public func aggregate<VA>(
        named: Named? = nil, materialized: Materialized<K, VA> = Materialized(),
        initializer: @escaping @Sendable () throws -> VA, aggregator: @escaping @Sendable (K, V, VA) throws -> VA
    ) -> KTable<K, VA> {
        doAggregate(named: named, materialized: materialized) { key, value, old in
            try aggregator(key, value, try old ?? initializer())
        }
    }

    /// Adds the store and the aggregation processor, repartitioning first when the key may have changed.
    /// `step` is `(key, value, old aggregate) -> new aggregate`.
    func doAggregate<VA>(
        named: Named?, materialized: Materialized<K, VA>, step: @escaping @Sendable (K, V, VA?) throws -> VA
    ) -> KTable<K, VA> {
        let keySerde = materialized.keySerde ?? keySerde
        return addAggregation(
            named: named, storeName: materialized.storeName, keySerde: keySerde, valueSerde: materialized.valueSerde,
            store: { storeName in materialized.tableStore(storeName, keySerde: keySerde, valueSerde: materialized.valueSerde) },
            node: { processorName, storeName, context in
                try AggregateNode<K, V, VA>(
                    name: processorName, context: context, storeName: storeName, step: step)
            })
    }

    /// Names the store and the processor as Kafka Streams does (store first), repartitions when the
    /// key may have changed, and adds the store and the processor that aggregates into it.
    func addAggregation<KOut, VA>(
        named: Named?, storeName given: String?, keySerde: Serde<KOut>?, valueSerde aggregateSerde: Serde<VA>?,
        store makeStore: (String) -> any StoreBuilder,
        node makeNode: @escaping @Sendable (_ processor: String, _ store: String, NodeContext) throws -> AnyNode
    ) -> KTable<KOut, VA> {
        let storeName = given ?? builder.newName("KSTREAM-AGGREGATE-STATE-STORE-")
        let processorName = builder.name(named, prefix: "KSTREAM-AGGREGATE-")
        let input = repartitionRequired
            ? stream.repartitioned(through: name ?? storeName, keySerde: self.keySerde, valueSerde: valueSerde)
            : stream
        builder.addStateStore(makeStore(storeName))
        input.add(processorName, stores: [storeName], output: Record<KOut, Change<VA>>.self) { context in
            try makeNode(processorName, storeName, context)
        }
        return KTable(
            builder: builder, name: processorName, keySerde: keySerde, valueSerde: aggregateSerde, storeName: storeName)
    }

    /// Aggregates per window: tumbling or hopping time windows.
    public func windowedBy(_ windows: TimeWindows) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream(grouped: self, kind: .time(windows))
    }

    /// Aggregates per sliding window.
    public func windowedBy(_ windows: SlidingWindows) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream(grouped: self, kind: .sliding(windows))
    }

    /// Aggregates per session of activity.
    public func windowedBy(_ windows: SessionWindows) -> SessionWindowedKStream<K, V> {
        SessionWindowedKStream(grouped: self, windows: windows)
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
final class AggregateNode<K, V, VA>: TableNode<K, V, K, VA, TypedKeyValueStore<K, ValueAndTimestamp<VA>>> {
    let step: @Sendable (K, V, VA?) throws -> VA

    init(name: String, context: NodeContext, storeName: String, step: @escaping @Sendable (K, V, VA?) throws -> VA) throws {
        self.step = step
        try super.init(name: name, context: context, storeName: storeName) { $0.changeDecoder() }
    }

    override func process(_ record: Record<K, V>) throws {
        guard !skipsNull(record) else { return }
        let old = try store.get(record.key)
        let new = try userCode(self) { try step(record.key, record.value, old?.value) }
        let timestamp = max(record.timestamp, old?.timestamp ?? record.timestamp)
        try store.put(record.key, ValueAndTimestamp(new, timestamp: timestamp))
        try forwarder.maybeForward(
            record.key, Change(newValue: new, oldValue: old?.value), timestamp: timestamp, headers: record.headers)
    }
}
