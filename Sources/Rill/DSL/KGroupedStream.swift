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
    @inlinable @discardableResult
    public func count(named: Named? = nil, materialized: Materialized<K, Int64> = Materialized()) -> KTable<K, Int64> {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? .int64
        return aggregate(named: named, materialized: materialized, initializer: { 0 }, aggregator: { _, _, count in count + 1 })
    }

    /// Combines each key's values with `reducer` (the first value is the start).
    @inlinable @discardableResult
    public func reduce(
        named: Named? = nil, materialized: Materialized<K, V> = Materialized(),
        _ reducer: @escaping @Sendable (V, V) throws -> V
    ) -> KTable<K, V> {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? valueSerde
        let step: @Sendable (K, V, V?) throws -> V = { _, value, old in try old.map { try reducer($0, value) } ?? value }
        return doAggregate(
            named: named, materialized: materialized, timestamped: { .timestamped($0) },
            specialized: KeyValueAggregation.make(step: step))
    }

    /// Folds each key's values into an aggregate, starting from `initializer()`.
    @inlinable @discardableResult
    public func aggregate<VA>(
        named: Named? = nil, materialized: Materialized<K, VA> = Materialized(),
        initializer: @escaping @Sendable () throws -> VA, aggregator: @escaping @Sendable (K, V, VA) throws -> VA
    ) -> KTable<K, VA> {
        let step: @Sendable (K, V, VA?) throws -> VA = { key, value, old in try aggregator(key, value, try old ?? initializer()) }
        return doAggregate(
            named: named, materialized: materialized, timestamped: { .timestamped($0) },
            specialized: KeyValueAggregation.make(step: step))
    }

    /// Adds the store and the aggregation processor, repartitioning first when the key may have changed.
    /// `timestamped` makes the store's value serde and `specialized` the per-record work, both in
    /// the caller's specialization (see ``KeyValueAggregation``).
    @usableFromInline
    func doAggregate<VA>(
        named: Named?, materialized: Materialized<K, VA>,
        timestamped: @escaping @Sendable (Serde<VA>) -> Serde<ValueAndTimestamp<VA>>,
        specialized: @escaping @Sendable () -> KeyValueAggregation<K, V, VA>
    ) -> KTable<K, VA> {
        let keySerde = materialized.keySerde ?? keySerde
        return addAggregation(
            named: named, storeName: materialized.storeName, keySerde: keySerde, valueSerde: materialized.valueSerde,
            store: { storeName in
                materialized.tableStore(
                    storeName, keySerde: keySerde, valueSerde: materialized.valueSerde, timestamped: timestamped)
            },
            node: { processorName, storeName, context in
                try AggregateNode<K, V, VA>(
                    name: processorName, context: context, storeName: storeName, aggregation: specialized())
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

/// Aggregates records into a timestamped key-value store and forwards each change of a key's
/// aggregate. Its per-record work is a ``KeyValueAggregation``'s.
final class AggregateNode<K, V, VA>: TableNode<K, V, K, VA, TypedKeyValueStore<K, ValueAndTimestamp<VA>>> {
    let aggregation: KeyValueAggregation<K, V, VA>

    init(name: String, context: NodeContext, storeName: String, aggregation: KeyValueAggregation<K, V, VA>) throws {
        self.aggregation = aggregation
        try super.init(name: name, context: context, storeName: storeName) { downstream, store in
            aggregation.listen(downstream, store.codec)
        }
    }

    override func initialize() throws {
        try super.initialize()
        aggregation.attach(store: store.inner, codec: store.codec, forwarder: forwarder)
    }

    override func process(_ record: Record<K, V>) throws { try aggregation.process(aggregation, self, record) }
}

/// What a specialized aggregation reads and writes, set when its node initializes: the store's
/// bytes (through its cache and changelog), their codec, and the forwarder of its changes.
@usableFromInline
class AggregationState<KStored, VA, KOut> {
    // Set once when the node initializes, then read per record by the task's thread alone: no
    // runtime exclusivity checks.
    @exclusivity(unchecked) @usableFromInline var store: (any BytesKeyValueStore)!
    @exclusivity(unchecked) @usableFromInline var codec: StoreCodec<KStored, ValueAndTimestamp<VA>>!
    @exclusivity(unchecked) @usableFromInline var forwarder: ChangeForwarder<KOut, VA>!

    @usableFromInline init() {}

    func attach(store: any BytesKeyValueStore, codec: StoreCodec<KStored, ValueAndTimestamp<VA>>, forwarder: ChangeForwarder<KOut, VA>) {
        self.store = store
        self.codec = codec
        self.forwarder = forwarder
    }
}

/// A key-value aggregation's per-record work and cache listener, made by ``make(step:)`` in the
/// caller's specialization when the DSL is inlined into user code, so that no generic type is looked
/// up per record. Its store and forwarder are set when its node initializes.
@usableFromInline
final class KeyValueAggregation<K, V, VA>: AggregationState<K, VA, K> {
    @usableFromInline typealias Process = (KeyValueAggregation<K, V, VA>, InputNode<K, V>, Record<K, V>) throws -> Void
    @usableFromInline typealias Listen = (Downstream<K, Change<VA>>, StoreCodec<K, ValueAndTimestamp<VA>>) -> CacheFlushListener

    @usableFromInline let step: @Sendable (K, V, VA?) throws -> VA
    @usableFromInline let process: Process
    let listen: Listen

    @usableFromInline
    init(step: @escaping @Sendable (K, V, VA?) throws -> VA, process: @escaping Process, listen: @escaping Listen) {
        self.step = step
        self.process = process
        self.listen = listen
    }

    /// A maker of the aggregation (one per task), for the node factory.
    @inlinable
    static func make(step: @escaping @Sendable (K, V, VA?) throws -> VA) -> @Sendable () -> KeyValueAggregation {
        {
            KeyValueAggregation(
                step: step,
                process: { aggregation, node, record in
                    guard !node.skipsNull(record) else { return }
                    let codec = aggregation.codec!
                    let keyBytes = try codec.keyBytes(record.key)
                    let old = try codec.value(aggregation.store.get(keyBytes))
                    let new = try userCode(node) { try aggregation.step(record.key, record.value, old?.value) }
                    let timestamp = max(record.timestamp, old?.timestamp ?? record.timestamp)
                    try aggregation.store.put(keyBytes, codec.valueBytes(ValueAndTimestamp(new, timestamp: timestamp)))
                    // With a cache, the cache forwards at write-through.
                    guard !aggregation.forwarder.cached else { return }
                    try aggregation.forwarder.maybeForward(
                        record.key, Change(newValue: new, oldValue: old?.value), timestamp: timestamp, headers: record.headers)
                },
                listen: { downstream, codec in ChangeForwarder.listener(downstream, decode: timestampedChangeDecoder(codec)) })
        }
    }
}
