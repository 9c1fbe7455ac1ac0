extension KTable {
    /// The table of `joiner(value, otherValue)` for the keys present in both tables, updated when
    /// either side changes; a row deleted on either side deletes the joined row (Kafka Streams'
    /// `KTable.join`). Both tables must be co-partitioned.
    public func join<VO, VR>(
        _ other: KTable<K, VO>, named: Named? = nil, materialized: Materialized<K, VR>? = nil,
        joiner: @escaping @Sendable (V, VO) throws -> VR
    ) -> KTable<K, VR> {
        joinTables(
            other, named: named, materialized: materialized,
            thisSide: TableJoinSide(skipsMissingOther: true) { value, other in
                try value.flatMap { value in try other.map { try joiner(value, $0) } }
            },
            otherSide: TableJoinSide(skipsMissingOther: true) { otherValue, value in
                try otherValue.flatMap { otherValue in try value.map { try joiner($0, otherValue) } }
            })
    }

    /// Every key of this table, joined with the other table's value or `nil`.
    public func leftJoin<VO, VR>(
        _ other: KTable<K, VO>, named: Named? = nil, materialized: Materialized<K, VR>? = nil,
        joiner: @escaping @Sendable (V, VO?) throws -> VR
    ) -> KTable<K, VR> {
        joinTables(
            other, named: named, materialized: materialized,
            thisSide: TableJoinSide(skipsMissingOther: false) { value, other in try value.map { try joiner($0, other) } },
            otherSide: TableJoinSide(skipsMissingOther: true) { otherValue, value in
                try value.map { try joiner($0, otherValue) }
            })
    }

    /// Every key of either table, joined with the other's value or `nil`.
    public func outerJoin<VO, VR>(
        _ other: KTable<K, VO>, named: Named? = nil, materialized: Materialized<K, VR>? = nil,
        joiner: @escaping @Sendable (V?, VO?) throws -> VR
    ) -> KTable<K, VR> {
        joinTables(
            other, named: named, materialized: materialized,
            thisSide: TableJoinSide(skipsMissingOther: false) { value, other in
                value == nil && other == nil ? nil : try joiner(value, other)
            },
            otherSide: TableJoinSide(skipsMissingOther: false) { otherValue, value in
                value == nil && otherValue == nil ? nil : try joiner(value, otherValue)
            })
    }

    /// One processor per side, each reading the other side's store, merged into one table.
    private func joinTables<VO, VR>(
        _ other: KTable<K, VO>, named: Named?, materialized: Materialized<K, VR>?,
        thisSide: TableJoinSide<V, VO, VR>, otherSide: TableJoinSide<VO, V, VR>
    ) -> KTable<K, VR> {
        let left = materializedForLookups()
        let right = other.materializedForLookups()
        let leftStore = left.storeName ?? ""
        let rightStore = right.storeName ?? ""
        let base = named?.name
        let thisName = base.map { "\($0)-join-this" } ?? builder.newName("KTABLE-JOINTHIS-")
        let otherName = base.map { "\($0)-join-other" } ?? builder.newName("KTABLE-JOINOTHER-")
        let mergeName = base ?? builder.newName("KTABLE-MERGE-")
        left.addChangeProcessor(thisName, stores: [rightStore], output: Record<K, Change<VR>>.self) { context in
            try TableTableJoinNode<K, V, VO, VR>(name: thisName, context: context, otherStore: rightStore, side: thisSide)
        }
        right.addChangeProcessor(otherName, stores: [leftStore], output: Record<K, Change<VR>>.self) { context in
            try TableTableJoinNode<K, VO, V, VR>(name: otherName, context: context, otherStore: leftStore, side: otherSide)
        }
        builder.attempt {
            try builder.topology.add(
                Topology.Node(
                    name: mergeName, kind: .processor(stores: []), parents: [thisName, otherName],
                    inputType: Record<K, Change<VR>>.self, outputType: Record<K, Change<VR>>.self,
                    make: { context in
                        try StatelessNode<K, Change<VR>, K, Change<VR>>(name: mergeName, context: context) { node, record in
                            try node.downstream.forward(record)
                        }
                    }))
        }
        builder.topology.requireCopartitioning(join: mergeName, sides: [left.name, right.name])
        let joined = KTable<K, VR>(
            builder: builder, name: mergeName, keySerde: keySerde, valueSerde: materialized?.valueSerde, storeName: nil)
        guard let materialized else { return joined }
        return joined.materialize(materialized)
    }

    /// This table kept in the store `materialized` names.
    func materialize(_ materialized: Materialized<K, V>) -> KTable<K, V> {
        let storeName = materialized.storeName ?? builder.newName("KTABLE-MATERIALIZED-STATE-STORE-")
        let name = builder.newName("KTABLE-MATERIALIZE-")
        let keySerde = materialized.keySerde ?? keySerde
        let valueSerde = materialized.valueSerde ?? valueSerde
        var store = materialized.tableStore(storeName, keySerde: keySerde, valueSerde: valueSerde)
        store.options.cachingEnabled = false
        builder.addStateStore(store)
        let readsOldValues = !oldValuesKnown
        addChangeProcessor(name, stores: [storeName], output: Record<K, Change<V>>.self) { context in
            try MaterializeNode<K, V>(name: name, context: context, storeName: storeName, readsOldValues: readsOldValues)
        }
        return KTable(builder: builder, name: name, keySerde: keySerde, valueSerde: valueSerde, storeName: storeName)
    }
}

/// How one side of a table–table join turns its row and the other side's row into the joined row.
struct TableJoinSide<VThis, VOther, VR>: Sendable {
    /// Whether an update is ignored while the other side has no row for its key.
    let skipsMissingOther: Bool
    /// The joined value for this side's value and the other side's (`nil` = no joined row).
    let compute: @Sendable (VThis?, VOther?) throws -> VR?
}

/// One side of a table–table join: each change of this side's row is joined with the other side's
/// current row, as the new and the old joined value.
final class TableTableJoinNode<K, VThis, VOther, VR>: InputNode<K, Change<VThis>> {
    let downstream: Downstream<K, Change<VR>>
    let otherStoreName: String
    let side: TableJoinSide<VThis, VOther, VR>
    private var otherStore: TypedKeyValueStore<K, ValueAndTimestamp<VOther>>!

    init(name: String, context: NodeContext, otherStore: String, side: TableJoinSide<VThis, VOther, VR>) throws {
        downstream = try Downstream(context.children, parent: name)
        otherStoreName = otherStore
        self.side = side
        super.init(name: name, task: context.task)
    }

    override func initialize() throws {
        otherStore = try task.store(otherStoreName, as: TypedKeyValueStore<K, ValueAndTimestamp<VOther>>.self)
    }

    override func process(_ record: Record<K, Change<VThis>>) throws {
        let other = try otherStore.get(record.key)
        if side.skipsMissingOther && other == nil { return }
        let new = try userCode(self) { try side.compute(record.value.newValue, other?.value) }
        let old = try userCode(self) { try side.compute(record.value.oldValue, other?.value) }
        guard new != nil || old != nil else { return }
        try downstream.forward(
            Record(key: record.key, value: Change(newValue: new, oldValue: old),
                   timestamp: max(record.timestamp, other?.timestamp ?? record.timestamp), headers: record.headers))
    }
}
