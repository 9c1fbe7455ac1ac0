/// Several grouped streams (with the same key, each with its own value type) aggregating into one
/// table, each with its own aggregator, as Kafka Streams' `CogroupedKStream`: one store, no join.
///
/// ```swift
/// let activity = clicks.groupByKey().cogroup { _, _, total in total + 1 }
///     .cogroup(purchases.groupByKey()) { _, purchase, total in total + purchase.items }
///     .aggregate(materialized: .as("activity").withSerdes(.string, .int64), initializer: { 0 })
/// ```
public struct CogroupedKStream<K, VA> {
    let builder: StreamsBuilder
    let keySerde: Serde<K>?
    /// Each input adds its aggregating processor, connected to the store, and returns the processor's
    /// name; `repartitions` counts the inputs repartitioned before it (naming its topic, if it needs one).
    typealias Input = (_ store: String, _ repartitions: inout Int, _ initializer: @escaping @Sendable () throws -> VA) -> String
    var inputs: [Input]

    /// Adds another grouped stream with its aggregator. All must be co-partitioned.
    public func cogroup<V>(
        _ grouped: KGroupedStream<K, V>, _ aggregator: @escaping @Sendable (K, V, VA) throws -> VA
    ) -> CogroupedKStream<K, VA> {
        var copy = self
        copy.inputs.append(Self.input(grouped, aggregator))
        return copy
    }

    static func input<V>(_ grouped: KGroupedStream<K, V>, _ aggregator: @escaping @Sendable (K, V, VA) throws -> VA) -> Input {
        { storeName, repartitions, initializer in
            let processorName = grouped.builder.newName("COGROUPKSTREAM-AGGREGATE-")
            var input = grouped.stream
            if grouped.repartitionRequired {
                input = input.repartitioned(
                    through: grouped.name ?? (repartitions == 0 ? storeName : "\(storeName)-\(repartitions)"),
                    keySerde: grouped.keySerde, valueSerde: grouped.valueSerde)
                repartitions += 1
            }
            input.add(processorName, stores: [storeName], output: Record<K, Change<VA>>.self) { context in
                try AggregateNode<K, V, VA>(
                    name: processorName, context: context, storeName: storeName,
                    aggregation: KeyValueAggregation.make { key, value, old in try aggregator(key, value, try old ?? initializer()) }())
            }
            return processorName
        }
    }

    /// The table of every key's aggregate, starting from `initializer()`.
    @discardableResult
    public func aggregate(
        named: Named? = nil, materialized: Materialized<K, VA> = Materialized(), initializer: @escaping @Sendable () throws -> VA
    ) -> KTable<K, VA> {
        let storeName = materialized.storeName ?? builder.newName("COGROUPKSTREAM-AGGREGATE-STATE-STORE-")
        let keySerde = materialized.keySerde ?? keySerde
        builder.addStateStore(materialized.tableStore(storeName, keySerde: keySerde, valueSerde: materialized.valueSerde))
        var repartitions = 0
        let processors = inputs.map { input in input(storeName, &repartitions, initializer) }
        // The aggregating processors share the store; their changes merge into one table.
        let mergeName = builder.name(named, prefix: "COGROUPKSTREAM-MERGE-")
        builder.attempt {
            try builder.topology.add(
                Topology.Node(
                    name: mergeName, kind: .processor(stores: []), parents: processors,
                    inputType: Record<K, Change<VA>>.self, outputType: Record<K, Change<VA>>.self,
                    make: { context in
                        try StatelessNode<K, Change<VA>, K, Change<VA>>(name: mergeName, context: context) { node, record in
                            try node.downstream.forward(record)
                        }
                    }))
        }
        return KTable(builder: builder, name: mergeName, keySerde: keySerde, valueSerde: materialized.valueSerde, storeName: storeName)
    }
}

extension KGroupedStream {
    /// Starts a cogrouped aggregation with this stream and its aggregator.
    public func cogroup<VA>(_ aggregator: @escaping @Sendable (K, V, VA) throws -> VA) -> CogroupedKStream<K, VA> {
        CogroupedKStream(builder: builder, keySerde: keySerde, inputs: [CogroupedKStream.input(self, aggregator)])
    }
}
