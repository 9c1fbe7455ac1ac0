extension KTable {
    /// Joins each row with the row of `other` whose key `foreignKey` extracts from the row's value
    /// (Kafka Streams' foreign-key join): the result has this table's keys, is updated when either
    /// row changes, and loses a row when either side is deleted or the foreign key leads nowhere.
    /// A row whose foreign key is `nil` is not joined. The tables need not be co-partitioned.
    ///
    /// Rows subscribe to their foreign key through the internal topic
    /// `<applicationID>-<name>-subscription-registration-topic` (partitioned like `other`) and are
    /// answered through `<applicationID>-<name>-subscription-response-topic` (partitioned like this
    /// table); an answer computed for an older value of a row is dropped.
    ///
    /// ```swift
    /// let enriched = orders.join(customers, foreignKey: { order in order.customerID },
    ///                            materialized: .with(.string, .json(EnrichedOrder.self))) { order, customer in
    ///     EnrichedOrder(order, customer)
    /// }
    /// ```
    ///
    /// Without `materialized`, the result is not stored and its updates carry no old values, so
    /// it can't be grouped; pass `materialized` (with a value serde) to group it or query it.
    public func join<KO, VO, VR>(
        _ other: KTable<KO, VO>, foreignKey: @escaping @Sendable (V) throws -> KO?, named: Named? = nil,
        materialized: Materialized<K, VR>? = nil, joiner: @escaping @Sendable (V, VO) throws -> VR
    ) -> KTable<K, VR> {
        joinOnForeignKey(other, foreignKey: foreignKey, named: named, materialized: materialized, leftJoin: false) {
            value, foreign in
            guard let foreign else { preconditionFailure("an inner foreign-key join resolves only rows with a foreign value") }
            return try joiner(value, foreign)
        }
    }

    /// As ``join(_:foreignKey:named:materialized:joiner:)``, but every row of this table is in the
    /// result, joined with `nil` when its foreign key is `nil` or has no row in `other`.
    public func leftJoin<KO, VO, VR>(
        _ other: KTable<KO, VO>, foreignKey: @escaping @Sendable (V) throws -> KO?, named: Named? = nil,
        materialized: Materialized<K, VR>? = nil, joiner: @escaping @Sendable (V, VO?) throws -> VR
    ) -> KTable<K, VR> {
        joinOnForeignKey(other, foreignKey: foreignKey, named: named, materialized: materialized, leftJoin: true, joiner: joiner)
    }

    /// Adds the two halves of the join: subscription send, sink and (on the other table's side)
    /// source, store and lookup; the other table's change processor; response sink and (back on
    /// this side) source, resolver and result. Names follow Kafka Streams'.
    private func joinOnForeignKey<KO, VO, VR>(
        _ other: KTable<KO, VO>, foreignKey: @escaping @Sendable (V) throws -> KO?, named: Named?,
        materialized: Materialized<K, VR>?, leftJoin: Bool, joiner: @escaping @Sendable (V, VO?) throws -> VR
    ) -> KTable<K, VR> {
        let left = materializedForLookups()
        let right = other.materializedForLookups()
        let leftStore = left.storeName ?? ""
        let rightStore = right.storeName ?? ""
        let builder = builder
        let topology = builder.topology
        func name(_ suffix: String, _ prefix: String) -> String { named.map { $0.name + suffix } ?? builder.newName(prefix) }
        let subscriptionTopic = name("-subscription-registration", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-") + "-topic"
        let sendName = name("-subscription-registration-processor", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-")
        let subscriptionSink = name("-subscription-registration-sink", "KTABLE-SINK-")
        let subscriptionSource = name("-subscription-registration-source", "KTABLE-SOURCE-")
        let subscriptionStore = name("-subscription-store", "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-")
        let receiveName = name("-subscription-receive", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-")
        // Kafka Streams splits receiving and looking up into two processors; one index is kept for
        // the second so that later generated names match.
        if named == nil { _ = builder.newName("KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-") }
        let foreignChangeName = name("-foreign-join-subscription", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-")
        let responseTopic = name("-subscription-response", "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-") + "-topic"
        let responseSink = name("-subscription-response-sink", "KTABLE-SINK-")
        let responseSource = name("-subscription-response-source", "KTABLE-SOURCE-")
        let resolverName = name("-subscription-response-resolver", "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-")
        let resultName = name("-result", "KTABLE-FK-JOIN-OUTPUT-")
        let serdes = ForeignKeyJoinSerdes(
            key: left.keySerde, value: left.valueSerde, foreignKey: right.keySerde, foreignValue: right.valueSerde)

        topology.addInternalTopic(subscriptionTopic, partitions: nil)
        topology.addInternalTopic(responseTopic, partitions: nil)
        left.addChangeProcessor(sendName, output: Record<[UInt8]?, ForeignKeySubscription>.self) { context in
            try SubscriptionSendNode<K, V, KO>(
                name: sendName, context: context, serdes: serdes, leftJoin: leftJoin, foreignKey: foreignKey)
        }
        var store = Materialized<[UInt8], ForeignKeySubscription>()
            .tableStore(subscriptionStore, keySerde: .bytes, valueSerde: ForeignKeySubscription.serde)
        store.options.cachingEnabled = false
        builder.addStateStore(store)
        right.addChangeProcessor(foreignChangeName, stores: [subscriptionStore], output: Record<[UInt8], ForeignKeyResponse>.self) {
            context in
            try ForeignRowChangeNode<KO, VO>(
                name: foreignChangeName, context: context, subscriptionStore: subscriptionStore,
                foreignKeySerde: serdes.foreignKey, foreignValueSerde: serdes.foreignValue)
        }
        builder.attempt {
            try topology.add(
                sinkNamed: subscriptionSink, target: .topic(subscriptionTopic), keySerde: Serde<[UInt8]>.bytes.optional,
                valueSerde: ForeignKeySubscription.serde, partitioner: nil, parents: [sendName], makeSend: SinkNode.sender)
            try topology.add(
                sourceNamed: subscriptionSource, topics: [subscriptionTopic], keySerde: Serde<[UInt8]>.bytes.optional,
                valueSerde: ForeignKeySubscription.serde, timestampExtractor: nil, makeDecode: SourceNode.decoder)
            try topology.add(
                Topology.Node(
                    name: receiveName, kind: .processor(stores: [subscriptionStore, rightStore]), parents: [subscriptionSource],
                    inputType: Record<[UInt8]?, ForeignKeySubscription>.self, outputType: Record<[UInt8], ForeignKeyResponse>.self,
                    make: { context in
                        try SubscriptionReceiveNode<KO, VO>(
                            name: receiveName, context: context, subscriptionStore: subscriptionStore, foreignStore: rightStore,
                            foreignValueSerde: serdes.foreignValue)
                    }))
            try topology.add(
                sinkNamed: responseSink, target: .topic(responseTopic), keySerde: Serde<[UInt8]>.bytes,
                valueSerde: ForeignKeyResponse.serde, partitioner: ForeignKeyResponse.partitioner,
                parents: [receiveName, foreignChangeName], makeSend: SinkNode.sender)
            try topology.add(
                sourceNamed: responseSource, topics: [responseTopic], keySerde: Serde<[UInt8]>.bytes,
                valueSerde: ForeignKeyResponse.serde, timestampExtractor: nil, makeDecode: SourceNode.decoder)
            try topology.add(
                Topology.Node(
                    name: resolverName, kind: .processor(stores: [leftStore]), parents: [responseSource],
                    inputType: Record<[UInt8], ForeignKeyResponse>.self, outputType: Record<K?, VR?>.self,
                    make: { context in
                        try ResponseResolverNode<K, V, VO, VR>(
                            name: resolverName, context: context, leftStore: leftStore, serdes: serdes, leftJoin: leftJoin,
                            joiner: joiner)
                    }))
        }
        // Subscriptions must reach the task holding their foreign row, responses the task holding their row.
        topology.requireCopartitioning(join: receiveName, sides: [right.name, subscriptionSource])
        topology.requireCopartitioning(join: resolverName, sides: [left.name, responseSource])
        return foreignKeyJoinResult(resultName, parent: resolverName, materialized: materialized, keySerde: left.keySerde)
    }

    /// The join's result table: stored (with old values) when `materialized` is given, else the
    /// resolver's results passed on as new values only.
    private func foreignKeyJoinResult<VR>(
        _ name: String, parent: String, materialized: Materialized<K, VR>?, keySerde: Serde<K>?
    ) -> KTable<K, VR> {
        let kind: Topology.Node.Kind
        let make: @Sendable (NodeContext) throws -> AnyNode
        let storeName: String?
        if let materialized {
            let store = materialized.storeName ?? builder.newName("KTABLE-FK-JOIN-OUTPUT-STATE-STORE-")
            builder.addStateStore(materialized.tableStore(store, keySerde: materialized.keySerde ?? keySerde, valueSerde: materialized.valueSerde))
            kind = .processor(stores: [store])
            make = { context in try TableSourceNode<K, VR>(name: name, context: context, storeName: store) }
            storeName = store
        } else {
            kind = .processor(stores: [])
            make = { context in
                try StatelessNode<K?, VR?, K, Change<VR>>(name: name, context: context) { node, record in
                    guard let key = record.key else { return }
                    try node.downstream.forward(record.withKey(key).withValue(Change(newValue: record.value, oldValue: nil)))
                }
            }
            storeName = nil
        }
        builder.attempt {
            try builder.topology.add(
                Topology.Node(
                    name: name, kind: kind, parents: [parent], inputType: Record<K?, VR?>.self,
                    outputType: Record<K, Change<VR>>.self, make: make))
        }
        return KTable<K, VR>(
            builder: builder, name: name, keySerde: materialized?.keySerde ?? keySerde, valueSerde: materialized?.valueSerde,
            storeName: storeName, oldValuesKnown: storeName != nil)
    }
}
