/// Serdes and a name for a stream–table join (Kafka Streams' `Joined`): the key and stream-value
/// serdes are used when the stream must be repartitioned first.
public struct Joined<K, V, VT>: Sendable {
    public var keySerde: Serde<K>?
    public var valueSerde: Serde<V>?
    public var otherValueSerde: Serde<VT>?
    /// Names the join processor and the repartition topic (`<name>-repartition`).
    public var name: String?

    public init(keySerde: Serde<K>? = nil, valueSerde: Serde<V>? = nil, otherValueSerde: Serde<VT>? = nil, name: String? = nil) {
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.otherValueSerde = otherValueSerde
        self.name = name
    }

    public static func with(_ keySerde: Serde<K>, _ valueSerde: Serde<V>, _ otherValueSerde: Serde<VT>) -> Joined<K, V, VT> {
        Joined(keySerde: keySerde, valueSerde: valueSerde, otherValueSerde: otherValueSerde)
    }

    public static func `as`(_ name: String) -> Joined<K, V, VT> { Joined(name: name) }
}

extension KStream {
    /// Joins each record with the table's value for its key as the table is when the record is
    /// processed; records whose key is not in the table are dropped. Table updates emit nothing.
    /// The stream and the table must be co-partitioned (checked when the application starts); a
    /// stream whose key changed is repartitioned first.
    ///
    /// ```swift
    /// calls.join(clinics, joiner: { call, clinic in EnrichedCall(call, clinic) })
    /// ```
    public func join<VT, VR>(
        _ table: KTable<K, VT>, joiner: @escaping @Sendable (V, VT) throws -> VR, _ joined: Joined<K, V, VT> = Joined()
    ) -> KStream<K, VR> {
        joinTable(table, left: false, prefix: "KSTREAM-JOIN-", joined) { value, other in try joiner(value, other!) }
    }

    /// As ``join(_:joiner:_:)``, but a record whose key is not in the table is joined with `nil`.
    public func leftJoin<VT, VR>(
        _ table: KTable<K, VT>, joiner: @escaping @Sendable (V, VT?) throws -> VR, _ joined: Joined<K, V, VT> = Joined()
    ) -> KStream<K, VR> {
        joinTable(table, left: true, prefix: "KSTREAM-LEFTJOIN-", joined, joiner: joiner)
    }

    private func joinTable<VT, VR>(
        _ table: KTable<K, VT>, left: Bool, prefix: String, _ joined: Joined<K, V, VT>,
        joiner: @escaping @Sendable (V, VT?) throws -> VR
    ) -> KStream<K, VR> {
        let name = joined.name ?? builder.newName(prefix)
        let stream = repartitionRequired
            ? repartitioned(through: joined.name ?? name, keySerde: joined.keySerde ?? keySerde, valueSerde: joined.valueSerde ?? valueSerde)
            : self
        let materialized = table.materializedForLookups()
        let storeName = materialized.storeName ?? ""
        stream.add(name, stores: [storeName], output: Record<K, VR>.self) { context in
            try StreamTableJoinNode<K, V, VT, VR>(name: name, context: context, storeName: storeName, left: left, joiner: joiner)
        }
        builder.topology.requireCopartitioning(join: name, sides: [stream.name, materialized.name])
        return KStream<K, VR>(builder: builder, name: name, keySerde: stream.keySerde, valueSerde: nil, repartitionRequired: false)
    }
}

extension KTable {
    /// This table with a store that lookups (joins) can read: itself when it has one, else a
    /// store filled from its changes.
    func materializedForLookups() -> KTable<K, V> {
        storeName != nil ? self : materialize(Materialized())
    }
}

/// Keeps a table's rows in a store as they change, and passes the changes on; with
/// `readsOldValues`, each change's old value is the one the store held (for a table whose updates
/// don't carry it).
final class MaterializeNode<K, V>: TableNode<K, Change<V>, K, V, TypedKeyValueStore<K, ValueAndTimestamp<V>>> {
    let readsOldValues: Bool

    init(name: String, context: NodeContext, storeName: String, readsOldValues: Bool = false) throws {
        self.readsOldValues = readsOldValues
        try super.init(name: name, context: context, storeName: storeName) { $0.changeDecoder() }
    }

    override func process(_ record: Record<K, Change<V>>) throws {
        let old = readsOldValues ? try store.get(record.key)?.value : record.value.oldValue
        try store.put(record.key, record.value.newValue.map { ValueAndTimestamp($0, timestamp: record.timestamp) })
        try downstream.forward(record.withValue(Change(newValue: record.value.newValue, oldValue: old)))
    }
}

/// Joins stream records with a table's current value for their key.
final class StreamTableJoinNode<K, V, VT, VR>: InputNode<K, V> {
    let downstream: Downstream<K, VR>
    let storeName: String
    let left: Bool
    let joiner: @Sendable (V, VT?) throws -> VR
    private var store: TypedKeyValueStore<K, ValueAndTimestamp<VT>>!

    init(name: String, context: NodeContext, storeName: String, left: Bool, joiner: @escaping @Sendable (V, VT?) throws -> VR) throws {
        downstream = try Downstream(context.children, parent: name)
        self.storeName = storeName
        self.left = left
        self.joiner = joiner
        super.init(name: name, task: context.task)
    }

    override func initialize() throws {
        store = try task.store(storeName, as: TypedKeyValueStore<K, ValueAndTimestamp<VT>>.self)
    }

    override func process(_ record: Record<K, V>) throws {
        guard !skipsNull(record) else { return }
        let other = try store.get(record.key)?.value
        guard other != nil || left else { return }
        let joined = try userCode(self) { try joiner(record.value, other) }
        try downstream.forward(Record(key: record.key, value: joined, timestamp: record.timestamp, headers: record.headers))
    }
}
