/// A table regrouped by a new key, ready to aggregate (Kafka Streams' `KGroupedTable`). Each change
/// of a source row arrives as a removal from its old group and an addition to its new group, so
/// aggregations take an adder and a subtractor.
public struct KGroupedTable<K, V> {
    /// The selected changes, before repartitioning.
    let changes: KStream<K, Change<V>>
    let name: String?
    let keySerde: Serde<K>?
    let valueSerde: Serde<V>?

    var builder: StreamsBuilder { changes.builder }

    /// The number of rows per group.
    @discardableResult
    public func count(named: Named? = nil, materialized: Materialized<K, Int64> = Materialized()) -> KTable<K, Int64> {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? .int64
        return aggregate(
            named: named, materialized: materialized, initializer: { 0 }, adder: { _, _, count in count + 1 },
            subtractor: { _, _, count in count - 1 })
    }

    /// Combines each group's values: `adder` adds a row's value, `subtractor` removes one.
    @discardableResult
    public func reduce(
        named: Named? = nil, materialized: Materialized<K, V> = Materialized(),
        adder: @escaping @Sendable (V, V) throws -> V, subtractor: @escaping @Sendable (V, V) throws -> V
    ) -> KTable<K, V> {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? valueSerde
        return doAggregate(named: named, materialized: materialized) { _, change, old in
            // Kafka Streams' KTableReduce: subtract the old value, then add the new one.
            var current = old
            if let removed = change.oldValue, let aggregate = current { current = try subtractor(aggregate, removed) }
            if let added = change.newValue { current = try current.map { try adder($0, added) } ?? added }
            return current
        }
    }

    /// Folds each group's values into an aggregate: `adder` adds a row's value, `subtractor` removes one.
    @discardableResult
    public func aggregate<VA>(
        named: Named? = nil, materialized: Materialized<K, VA> = Materialized(),
        initializer: @escaping @Sendable () throws -> VA, adder: @escaping @Sendable (K, V, VA) throws -> VA,
        subtractor: @escaping @Sendable (K, V, VA) throws -> VA
    ) -> KTable<K, VA> {
        doAggregate(named: named, materialized: materialized) { key, change, old in
            var current = old
            if let removed = change.oldValue, let aggregate = current { current = try subtractor(key, removed, aggregate) }
            if let added = change.newValue { current = try adder(key, added, try current ?? initializer()) }
            return current
        }
    }

    private func doAggregate<VA>(
        named: Named?, materialized: Materialized<K, VA>, step: @escaping @Sendable (K, Change<V>, VA?) throws -> VA?
    ) -> KTable<K, VA> {
        let storeName = materialized.storeName ?? builder.newName("KTABLE-AGGREGATE-STATE-STORE-")
        let processorName = builder.name(named, prefix: "KTABLE-AGGREGATE-")
        let input = changes.repartitioned(through: name ?? storeName, keySerde: keySerde, valueSerde: valueSerde.map(Serde.change))
        let keySerde = materialized.keySerde ?? keySerde
        builder.addStateStore(materialized.tableStore(storeName, keySerde: keySerde, valueSerde: materialized.valueSerde))
        input.add(processorName, stores: [storeName], output: Record<K, Change<VA>>.self) { context in
            try TableAggregateNode<K, V, VA>(name: processorName, context: context, storeName: storeName, step: step)
        }
        return KTable(
            builder: builder, name: processorName, keySerde: keySerde, valueSerde: materialized.valueSerde, storeName: storeName)
    }
}

/// Applies removals and additions of rows to each group's aggregate (Kafka Streams' `KTableAggregate`).
final class TableAggregateNode<K, V, VA>: TableNode<K, Change<V>, K, VA, TypedKeyValueStore<K, ValueAndTimestamp<VA>>> {
    let step: @Sendable (K, Change<V>, VA?) throws -> VA?

    init(name: String, context: NodeContext, storeName: String, step: @escaping @Sendable (K, Change<V>, VA?) throws -> VA?) throws {
        self.step = step
        try super.init(name: name, context: context, storeName: storeName) { $0.changeDecoder() }
    }

    override func process(_ record: Record<K, Change<V>>) throws {
        guard !skipsNull(record) else { return }
        let old = try store.get(record.key)
        let new = try userCode(self) { try step(record.key, record.value, old?.value) }
        let timestamp = max(record.timestamp, old?.timestamp ?? record.timestamp)
        try store.put(record.key, new.map { ValueAndTimestamp($0, timestamp: timestamp) })
        try forwarder.maybeForward(
            record.key, Change(newValue: new, oldValue: old?.value), timestamp: timestamp, headers: record.headers)
    }
}
