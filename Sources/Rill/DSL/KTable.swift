/// A changelog stream seen as a table: the latest value per key (Kafka Streams' `KTable`).
/// Today tables come from aggregations; ``toStream(named:)`` turns their updates back into a stream.
public struct KTable<K, V> {
    let builder: StreamsBuilder
    /// The node whose output (changes of rows) this table is.
    let name: String
    let keySerde: Serde<K>?
    let valueSerde: Serde<V>?
    /// The store holding the table, when materialized: its name is what interactive queries and
    /// the test driver use.
    public let storeName: String?

    /// The stream of the table's updates: each new value, or `nil` when a row is deleted.
    public func toStream(named: Named? = nil) -> KStream<K, V?> {
        let name = builder.name(named, prefix: "KTABLE-TOSTREAM-")
        builder.attempt {
            try builder.topology.add(
                Topology.Node(
                    name: name, kind: .processor(stores: []), parents: [self.name],
                    inputType: Record<K, Change<V>>.self, outputType: Record<K, V?>.self,
                    make: { context in
                        try StatelessNode<K, Change<V>, K, V?>(name: name, context: context) { node, record in
                            try node.downstream.forward(record.withValue(record.value.newValue))
                        }
                    }))
        }
        return KStream(builder: builder, name: name, keySerde: keySerde, valueSerde: valueSerde?.optional,
                       repartitionRequired: false)
    }
}
