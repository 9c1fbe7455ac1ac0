/// A changelog stream seen as a table: the latest value per key (Kafka Streams' `KTable`).
///
/// Tables come from a topic (``StreamsBuilder/table(_:_:materialized:)``) or from aggregations. Their
/// operators see each update as a change (new value, old value); a `nil` new value is a deletion.
///
/// ```swift
/// let regions = builder.table("user-regions", Consumed(.string, .string), materialized: .as("regions"))
/// regions.groupBy { user, region in KeyValue(region, user) }.count(materialized: .as("users-per-region"))
/// ```
public struct KTable<K, V> {
    let builder: StreamsBuilder
    /// The node whose output (changes of rows) this table is.
    let name: String
    let keySerde: Serde<K>?
    let valueSerde: Serde<V>?
    /// The store holding the table, when materialized: its name is what interactive queries and
    /// the test driver use.
    public let storeName: String?
    /// The grace period of the windows that keyed this table, for a windowed aggregation's result
    /// (``suppress(_:named:)`` closes windows with it).
    var windowGraceMs: Int64? = nil
    /// Whether the table's updates carry the rows' old values (a foreign-key join's unstored
    /// result does not), which regrouping needs to subtract rows from their old groups.
    var oldValuesKnown = true

    /// The stream of the table's updates: each new value, or `nil` when a row is deleted.
    @inlinable
    public func toStream(named: Named? = nil) -> KStream<K, V?> {
        addToStream(named) { node, record in try node.downstream.forward(record.withValue(record.value.newValue)) }
    }

    /// `body` forwards each change's new value; made in the caller's specialization.
    @usableFromInline
    func addToStream(
        _ named: Named?, body: @escaping @Sendable (StatelessNode<K, Change<V>, K, V?>, Record<K, Change<V>>) throws -> Void
    ) -> KStream<K, V?> {
        let name = builder.name(named, prefix: "KTABLE-TOSTREAM-")
        addChangeProcessor(name, output: Record<K, V?>.self) { context in
            try StatelessNode<K, Change<V>, K, V?>(name: name, context: context, body: body)
        }
        return KStream(builder: builder, name: name, keySerde: keySerde, valueSerde: valueSerde?.optional,
                       repartitionRequired: false)
    }

    /// The rows for which `predicate` holds; an update that makes a row fail it deletes the row.
    public func filter(named: Named? = nil, _ predicate: @escaping @Sendable (K, V) throws -> Bool) -> KTable<K, V> {
        filtered(builder.name(named, prefix: "KTABLE-FILTER-"), keep: true, predicate)
    }

    /// The rows for which `predicate` does not hold.
    public func filterNot(named: Named? = nil, _ predicate: @escaping @Sendable (K, V) throws -> Bool) -> KTable<K, V> {
        filtered(builder.name(named, prefix: "KTABLE-FILTER-"), keep: false, predicate)
    }

    private func filtered(_ name: String, keep: Bool, _ predicate: @escaping @Sendable (K, V) throws -> Bool) -> KTable<K, V> {
        addChangeProcessor(name, output: Record<K, Change<V>>.self) { context in
            try StatelessNode<K, Change<V>, K, Change<V>>(name: name, context: context) { node, record in
                let passes = { (value: V?) throws -> V? in
                    guard let value else { return nil }
                    return try userCode(node) { try predicate(record.key, value) } == keep ? value : nil
                }
                let change = Change(newValue: try passes(record.value.newValue), oldValue: try passes(record.value.oldValue))
                // A row that neither was nor is in the filtered table changes nothing.
                guard change.newValue != nil || change.oldValue != nil else { return }
                try node.downstream.forward(record.withValue(change))
            }
        }
        return KTable(
            builder: builder, name: name, keySerde: keySerde, valueSerde: valueSerde, storeName: nil, oldValuesKnown: oldValuesKnown)
    }

    /// Each row's value mapped by `mapper` (deletions stay deletions).
    public func mapValues<VR>(
        named: Named? = nil, valueSerde: Serde<VR>? = nil, _ mapper: @escaping @Sendable (V) throws -> VR
    ) -> KTable<K, VR> {
        mapValues(named: named, valueSerde: valueSerde) { _, value in try mapper(value) }
    }

    /// Each row's value mapped by `mapper`, which also sees the key.
    public func mapValues<VR>(
        named: Named? = nil, valueSerde: Serde<VR>? = nil, _ mapper: @escaping @Sendable (K, V) throws -> VR
    ) -> KTable<K, VR> {
        let name = builder.name(named, prefix: "KTABLE-MAPVALUES-")
        addChangeProcessor(name, output: Record<K, Change<VR>>.self) { context in
            try StatelessNode<K, Change<V>, K, Change<VR>>(name: name, context: context) { node, record in
                let map = { (value: V?) throws -> VR? in
                    try value.map { value in try userCode(node) { try mapper(record.key, value) } }
                }
                try node.downstream.forward(
                    record.withValue(Change(newValue: try map(record.value.newValue), oldValue: try map(record.value.oldValue))))
            }
        }
        return KTable<K, VR>(
            builder: builder, name: name, keySerde: keySerde, valueSerde: valueSerde, storeName: nil, oldValuesKnown: oldValuesKnown)
    }

    /// Regroups the table's rows by a new key for aggregation. Each update repartitions as a removal
    /// of the old row from its group and an addition of the new row to its group, so aggregations
    /// can subtract and add (``KGroupedTable``).
    public func groupBy<KR, VR>(
        _ selector: @escaping @Sendable (K, V) throws -> KeyValue<KR, VR>, _ grouped: Grouped<KR, VR> = Grouped()
    ) -> KGroupedTable<KR, VR> {
        let name = builder.name(nil, prefix: "KTABLE-SELECT-")
        if !oldValuesKnown {
            builder.topology.recordDeferred(
                TopologyError(
                    "'\(self.name)' can't be regrouped: its updates carry no old values to subtract (materialize the foreign-key join that makes it, with a value serde)"))
        }
        addChangeProcessor(name, output: Record<KR, Change<VR>>.self) { context in
            try StatelessNode<K, Change<V>, KR, Change<VR>>(name: name, context: context) { node, record in
                // Removal first, so a row that stays in its group is subtracted before it is added again.
                if let old = record.value.oldValue {
                    let pair = try userCode(node) { try selector(record.key, old) }
                    try node.downstream.forward(
                        Record(key: pair.key, value: Change(newValue: nil, oldValue: pair.value), timestamp: record.timestamp,
                               headers: record.headers))
                }
                if let new = record.value.newValue {
                    let pair = try userCode(node) { try selector(record.key, new) }
                    try node.downstream.forward(
                        Record(key: pair.key, value: Change(newValue: pair.value, oldValue: nil), timestamp: record.timestamp,
                               headers: record.headers))
                }
            }
        }
        let selected = KStream<KR, Change<VR>>(
            builder: builder, name: name, keySerde: grouped.keySerde, valueSerde: grouped.valueSerde.map(Serde.change),
            repartitionRequired: true)
        return KGroupedTable(
            changes: selected, name: grouped.name, keySerde: grouped.keySerde, valueSerde: grouped.valueSerde)
    }

    /// Adds a processor whose input is this table's changes.
    func addChangeProcessor(
        _ name: String, stores: [String] = [], output: Any.Type, make: @escaping @Sendable (NodeContext) throws -> AnyNode
    ) {
        builder.attempt {
            try builder.topology.add(
                Topology.Node(
                    name: name, kind: .processor(stores: stores), parents: [self.name],
                    inputType: Record<K, Change<V>>.self, outputType: output, make: make))
        }
    }
}

extension StreamsBuilder {
    /// A table of the latest value per key of `topic` (a changelog: a null value deletes its key),
    /// kept in a timestamped store named by `materialized` (by default `<topic>-STATE-STORE-<n>`).
    public func table<K, V>(
        _ topic: String, _ consumed: Consumed<K, V> = Consumed(), materialized: Materialized<K, V> = Materialized()
    ) -> KTable<K, V> {
        let sourceName = consumed.name ?? newName("KSTREAM-SOURCE-")
        let storeName = materialized.storeName ?? newName("\(topic)-STATE-STORE-")
        let processorName = newName("KTABLE-SOURCE-")
        let keySerde = materialized.keySerde ?? consumed.keySerde
        let valueSerde = materialized.valueSerde ?? consumed.valueSerde
        attempt {
            try topology.add(
                sourceNamed: sourceName, topics: [topic], keySerde: consumed.keySerde?.optional,
                valueSerde: consumed.valueSerde?.optional, timestampExtractor: nil,
                makeDecode: SourceNode<K?, V?>.decoder)
        }
        addStateStore(materialized.tableStore(storeName, keySerde: keySerde, valueSerde: valueSerde))
        attempt {
            try topology.add(
                Topology.Node(
                    name: processorName, kind: .processor(stores: [storeName]), parents: [sourceName],
                    inputType: Record<K?, V?>.self, outputType: Record<K, Change<V>>.self,
                    make: { context in try TableSourceNode<K, V>(name: processorName, context: context, storeName: storeName) }))
        }
        return KTable(builder: self, name: processorName, keySerde: keySerde, valueSerde: valueSerde, storeName: storeName)
    }
}

/// Puts a table topic's records into the table's store and forwards each change; a null value deletes.
final class TableSourceNode<K, V>: TableNode<K?, V?, K, V, TypedKeyValueStore<K, ValueAndTimestamp<V>>> {
    init(name: String, context: NodeContext, storeName: String) throws {
        try super.init(name: name, context: context, storeName: storeName) { $0.changeDecoder() }
    }

    override func process(_ record: Record<K?, V?>) throws {
        guard let key = record.key else {
            task.metrics.droppedRecords += 1
            task.logger.debug("Skipping table record with a null key in \(name)")
            return
        }
        let old = try store.get(key)
        try store.put(key, record.value.map { ValueAndTimestamp($0, timestamp: record.timestamp) })
        try forwarder.maybeForward(
            key, Change(newValue: record.value, oldValue: old?.value), timestamp: record.timestamp, headers: record.headers)
    }
}

extension Serde {
    /// Half of a table change on a repartition topic: a flag byte (1 = new value, 0 = old value,
    /// which aggregations subtract), then the value's bytes.
    static func change<Inner>(_ inner: Serde<Inner>) -> Serde<Change<Inner>> where T == Change<Inner> {
        .nonNull(
            "Change<\(Inner.self)>",
            serialize: { change in
                if let new = change.newValue { return [1] + (try inner.serialize(new) ?? []) }
                guard let old = change.oldValue else { throw SerdeError.nullData("Change<\(Inner.self)>") }
                return [0] + (try inner.serialize(old) ?? [])
            },
            deserialize: { bytes in
                guard let flag = bytes.first else {
                    throw SerdeError.wrongSize(type: "Change<\(Inner.self)>", expected: 1, actual: 0)
                }
                let value = try inner.deserialize(Array(bytes.dropFirst()))
                return flag == 1 ? Change(newValue: value, oldValue: nil) : Change(newValue: nil, oldValue: value)
            })
    }
}
