import Foundation

/// An unbounded stream of records, as Kafka Streams' `KStream`. Every operator returns a new stream
/// (or ends the chain) and adds one or more nodes to the topology.
public struct KStream<K, V> {
    let builder: StreamsBuilder
    /// The node whose output this stream is.
    let name: String
    @usableFromInline let keySerde: Serde<K>?
    @usableFromInline let valueSerde: Serde<V>?
    /// Whether the key may have changed since the last source, so a key-based operation must repartition.
    let repartitionRequired: Bool

    var topology: Topology { builder.topology }

    // MARK: - Stateless operators

    /// Keeps the records for which `predicate` holds.
    @inlinable
    public func filter(named: Named? = nil, _ predicate: @escaping @Sendable (K, V) throws -> Bool) -> KStream<K, V> {
        stateless("KSTREAM-FILTER-", named, keySerde: keySerde, valueSerde: valueSerde) { node, record in
            if try userCode(node, { try predicate(record.pointee.key, record.pointee.value) }) { try node.downstream.forward(at: record) }
        }
    }

    /// Drops the records for which `predicate` holds.
    @inlinable
    public func filterNot(named: Named? = nil, _ predicate: @escaping @Sendable (K, V) throws -> Bool) -> KStream<K, V> {
        stateless("KSTREAM-FILTER-", named, keySerde: keySerde, valueSerde: valueSerde) { node, record in
            if try !userCode(node, { try predicate(record.pointee.key, record.pointee.value) }) { try node.downstream.forward(at: record) }
        }
    }

    /// Maps each record to a new key and value (the stream must be repartitioned before key-based operations).
    @inlinable
    public func map<KR, VR>(named: Named? = nil, _ mapper: @escaping @Sendable (K, V) throws -> KeyValue<KR, VR>)
        -> KStream<KR, VR>
    {
        stateless("KSTREAM-MAP-", named, keySerde: nil, valueSerde: nil, keyChanging: true) { node, record in
            let pair = try userCode(node) { try mapper(record.pointee.key, record.pointee.value) }
            try node.downstream.forward(
                Record(key: pair.key, value: pair.value, timestamp: record.pointee.timestamp, headers: record.pointee.headers))
        }
    }

    /// Maps each value; keys stay, so no repartitioning follows.
    @inlinable
    public func mapValues<VR>(named: Named? = nil, _ mapper: @escaping @Sendable (V) throws -> VR) -> KStream<K, VR> {
        stateless("KSTREAM-MAPVALUES-", named, keySerde: keySerde, valueSerde: nil) { node, record in
            let value = try userCode(node) { try mapper(record.pointee.value) }
            try node.downstream.forward(record.pointee.withValue(value))
        }
    }

    /// Maps each value, seeing the key; keys stay.
    @inlinable
    public func mapValues<VR>(named: Named? = nil, _ mapper: @escaping @Sendable (K, V) throws -> VR) -> KStream<K, VR> {
        stateless("KSTREAM-MAPVALUES-", named, keySerde: keySerde, valueSerde: nil) { node, record in
            let value = try userCode(node) { try mapper(record.pointee.key, record.pointee.value) }
            try node.downstream.forward(record.pointee.withValue(value))
        }
    }

    /// Maps each record to zero or more records with new keys and values.
    @inlinable
    public func flatMap<KR, VR>(
        named: Named? = nil, _ mapper: @escaping @Sendable (K, V) throws -> [KeyValue<KR, VR>]
    ) -> KStream<KR, VR> {
        stateless("KSTREAM-FLATMAP-", named, keySerde: nil, valueSerde: nil, keyChanging: true) { node, record in
            let pairs = try userCode(node) { try mapper(record.pointee.key, record.pointee.value) }
            for pair in pairs {
                try node.downstream.forward(
                    Record(key: pair.key, value: pair.value, timestamp: record.pointee.timestamp, headers: record.pointee.headers))
            }
        }
    }

    /// Maps each value to zero or more values, each with the record's key.
    @inlinable
    public func flatMapValues<VR>(named: Named? = nil, _ mapper: @escaping @Sendable (V) throws -> [VR]) -> KStream<K, VR> {
        stateless("KSTREAM-FLATMAPVALUES-", named, keySerde: keySerde, valueSerde: nil) { node, record in
            let values = try userCode(node) { try mapper(record.pointee.value) }
            for value in values { try node.downstream.forward(record.pointee.withValue(value)) }
        }
    }

    /// Maps each value to zero or more values, seeing the key.
    @inlinable
    public func flatMapValues<VR>(named: Named? = nil, _ mapper: @escaping @Sendable (K, V) throws -> [VR])
        -> KStream<K, VR>
    {
        stateless("KSTREAM-FLATMAPVALUES-", named, keySerde: keySerde, valueSerde: nil) { node, record in
            let values = try userCode(node) { try mapper(record.pointee.key, record.pointee.value) }
            for value in values { try node.downstream.forward(record.pointee.withValue(value)) }
        }
    }

    /// Gives each record a new key computed from it.
    @inlinable
    public func selectKey<KR>(named: Named? = nil, _ selector: @escaping @Sendable (K, V) throws -> KR) -> KStream<KR, V> {
        stateless("KSTREAM-KEY-SELECT-", named, keySerde: nil, valueSerde: valueSerde, keyChanging: true) { node, record in
            let key = try userCode(node) { try selector(record.pointee.key, record.pointee.value) }
            try node.downstream.forward(record.pointee.withKey(key))
        }
    }

    /// Calls `action` on each record and passes it on unchanged.
    @inlinable
    public func peek(named: Named? = nil, _ action: @escaping @Sendable (K, V) throws -> Void) -> KStream<K, V> {
        stateless("KSTREAM-PEEK-", named, keySerde: keySerde, valueSerde: valueSerde) { node, record in
            try userCode(node) { try action(record.pointee.key, record.pointee.value) }
            try node.downstream.forward(at: record)
        }
    }

    /// Calls `action` on each record; the end of this chain.
    @inlinable
    public func foreach(named: Named? = nil, _ action: @escaping @Sendable (K, V) throws -> Void) {
        _ = stateless("KSTREAM-FOREACH-", named, keySerde: keySerde, valueSerde: valueSerde) { node, record in
            try userCode(node) { try action(record.pointee.key, record.pointee.value) }
        }
    }

    /// Both streams' records, in the order they are processed.
    public func merge(_ other: KStream<K, V>, named: Named? = nil) -> KStream<K, V> {
        let name = builder.name(named, prefix: "KSTREAM-MERGE-")
        add(name, parents: [self.name, other.name], output: Record<K, V>.self) { context in
            try StatelessNode<K, V, K, V>(name: name, context: context) { node, record in try node.downstream.forward(record) }
        }
        return KStream(builder: builder, name: name, keySerde: keySerde, valueSerde: valueSerde,
                       repartitionRequired: repartitionRequired || other.repartitionRequired)
    }

    /// Splits the stream into branches by predicates (Kafka Streams' `split()`).
    ///
    /// ```swift
    /// let branches = stream.split(named: "calls-")
    ///     .branch({ _, c in c.direction == .inbound }, Branched.as("in"))
    ///     .defaultBranch(Branched.as("other"))
    /// branches["calls-in"]?.to("inbound")
    /// ```
    public func split(named: Named? = nil) -> BranchedKStream<K, V> {
        BranchedKStream(source: self, splitterName: builder.name(named, prefix: "KSTREAM-BRANCH-"))
    }

    // MARK: - Processor API

    /// Runs a ``Processor`` (one instance per task) on each record.
    public func process<P: Processor & SendableMetatype>(named: Named? = nil, stores: [String] = [], _ supplier: @escaping @Sendable () -> P)
        -> KStream<P.KOut, P.VOut> where P.KIn == K, P.VIn == V
    {
        let name = builder.name(named, prefix: "KSTREAM-PROCESSOR-")
        add(name, stores: stores, output: Record<P.KOut, P.VOut>.self) { context in
            try ProcessorNodeAdapter(name: name, context: context, processor: supplier())
        }
        return KStream<P.KOut, P.VOut>(builder: builder, name: name, keySerde: nil, valueSerde: nil, repartitionRequired: true)
    }

    /// Runs a ``FixedKeyProcessor`` (one instance per task) on each record; keys stay.
    public func processValues<P: FixedKeyProcessor & SendableMetatype>(
        named: Named? = nil, stores: [String] = [], _ supplier: @escaping @Sendable () -> P
    ) -> KStream<K, P.VOut> where P.K == K, P.VIn == V {
        let name = builder.name(named, prefix: "KSTREAM-PROCESSVALUES-")
        add(name, stores: stores, output: Record<K, P.VOut>.self) { context in
            try FixedKeyProcessorNodeAdapter(name: name, context: context, processor: supplier())
        }
        return KStream<K, P.VOut>(builder: builder, name: name, keySerde: keySerde, valueSerde: nil,
                                  repartitionRequired: repartitionRequired)
    }

    // MARK: - Sinks

    /// Writes every record to `topic`.
    @inlinable
    public func to(_ topic: String, _ produced: Produced<K, V> = Produced()) {
        addSink(.topic(topic), produced) { SinkNode<K, V>.sender(target: $0, keySerde: $1, valueSerde: $2, partitioner: $3) }
    }

    /// Writes each record to the topic `extractor` picks for it.
    @inlinable
    public func to(_ extractor: @escaping TopicNameExtractor<K, V>, _ produced: Produced<K, V> = Produced()) {
        addSink(.extractor(extractor), produced) {
            SinkNode<K, V>.sender(target: $0, keySerde: $1, valueSerde: $2, partitioner: $3)
        }
    }

    @usableFromInline
    func addSink(_ target: SinkNode<K, V>.Target, _ produced: Produced<K, V>, makeSend: @escaping SinkNode<K, V>.MakeSend) {
        let name = produced.name ?? builder.newName("KSTREAM-SINK-")
        if case .topic("") = target {
            topology.recordDeferred(TopologyError("sink '\(name)' has no topic"))
            return
        }
        builder.attempt {
            try topology.add(
                sinkNamed: name, target: target, keySerde: produced.keySerde ?? keySerde,
                valueSerde: produced.valueSerde ?? valueSerde, partitioner: produced.partitioner, parents: [self.name],
                makeSend: makeSend)
        }
    }

    /// Writes the stream through the internal topic `<applicationID>-<name>-repartition` and reads it back,
    /// so records are partitioned by their current key.
    public func repartition(_ repartitioned: Repartitioned<K, V> = Repartitioned()) -> KStream<K, V> {
        let baseName = repartitioned.name ?? builder.newName("KSTREAM-REPARTITION-")
        return self.repartitioned(
            through: baseName, keySerde: repartitioned.keySerde ?? keySerde, valueSerde: repartitioned.valueSerde ?? valueSerde,
            partitions: repartitioned.numberOfPartitions, partitioner: repartitioned.partitioner)
    }

    /// Adds filter → sink → internal topic → source, as Kafka Streams does for every repartition, and
    /// returns the stream read back from the topic `<base>-repartition`.
    func repartitioned(
        through base: String, keySerde: Serde<K>?, valueSerde: Serde<V>?, partitions: Int32? = nil,
        partitioner: StreamPartitioner<K, V>? = nil
    ) -> KStream<K, V> {
        let topic = base.hasSuffix("-repartition") ? base : base + "-repartition"
        // Kafka Streams always burns these indexes, so later generated names match its own.
        let generatedSink = builder.newName("KSTREAM-SINK-")
        let generatedFilter = builder.newName("KSTREAM-FILTER-")
        let generatedSource = builder.newName("KSTREAM-SOURCE-")
        let isGenerated = base.range(of: #"^KSTREAM.*-[0-9]{10}$"#, options: .regularExpression) != nil
        let sinkName = isGenerated ? generatedSink : topic + "-sink"
        let filterName = isGenerated ? generatedFilter : topic + "-filter"
        let sourceName = isGenerated ? generatedSource : topic + "-source"

        topology.addInternalTopic(topic, partitions: partitions)
        add(filterName, output: Record<K, V>.self) { context in
            try StatelessNode<K, V, K, V>(name: filterName, context: context) { node, record in
                try node.downstream.forward(record)
            }
        }
        builder.attempt {
            try topology.add(
                sinkNamed: sinkName, target: .topic(topic), keySerde: keySerde, valueSerde: valueSerde,
                partitioner: partitioner, parents: [filterName], makeSend: SinkNode.sender)
            try topology.add(
                sourceNamed: sourceName, topics: [topic], keySerde: keySerde, valueSerde: valueSerde,
                timestampExtractor: nil, makeDecode: SourceNode.decoder)
        }
        return KStream(builder: builder, name: sourceName, keySerde: keySerde, valueSerde: valueSerde,
                       repartitionRequired: false)
    }

    // MARK: - Grouping

    /// Groups by the current key, for aggregations. If the key may have changed since the source, the
    /// aggregation repartitions first (through `<applicationID>-<name>-repartition`).
    public func groupByKey(_ grouped: Grouped<K, V> = Grouped()) -> KGroupedStream<K, V> {
        KGroupedStream(
            stream: self, name: grouped.name, keySerde: grouped.keySerde ?? keySerde,
            valueSerde: grouped.valueSerde ?? valueSerde, repartitionRequired: repartitionRequired)
    }

    /// Groups by a new key computed from each record; the aggregation repartitions by it.
    public func groupBy<KR>(
        _ selector: @escaping @Sendable (K, V) throws -> KR, _ grouped: Grouped<KR, V> = Grouped()
    ) -> KGroupedStream<KR, V> {
        let rekeyed = stateless(
            "KSTREAM-KEY-SELECT-", nil, keySerde: grouped.keySerde, valueSerde: grouped.valueSerde ?? valueSerde,
            keyChanging: true
        ) { (node: StatelessNode<K, V, KR, V>, record) in
            let key = try userCode(node) { try selector(record.pointee.key, record.pointee.value) }
            try node.downstream.forward(record.pointee.withKey(key))
        }
        return KGroupedStream(
            stream: rekeyed, name: grouped.name, keySerde: grouped.keySerde, valueSerde: grouped.valueSerde ?? valueSerde,
            repartitionRequired: true)
    }

    // MARK: - Helpers

    /// Adds a stateless node doing `body`. Inlined into the operator, and so into user code where the
    /// operator is `@inlinable`: `body` then becomes the node's entry in the user's specialization.
    @inlinable
    func stateless<KR, VR>(
        _ prefix: String, _ named: Named?, keySerde: Serde<KR>?, valueSerde: Serde<VR>?, keyChanging: Bool = false,
        body: @escaping StatelessNode<K, V, KR, VR>.PointerBody
    ) -> KStream<KR, VR> {
        addStateless(
            prefix, named, keySerde: keySerde, valueSerde: valueSerde, keyChanging: keyChanging,
            work: StatelessNode.work(body))
    }

    @usableFromInline
    func addStateless<KR, VR>(
        _ prefix: String, _ named: Named?, keySerde: Serde<KR>?, valueSerde: Serde<VR>?, keyChanging: Bool,
        work: NodeWork<StatelessNode<K, V, KR, VR>, K, V>
    ) -> KStream<KR, VR> {
        let name = builder.name(named, prefix: prefix)
        add(name, output: Record<KR, VR>.self) { context in try StatelessNode(name: name, context: context, work: work) }
        return KStream<KR, VR>(builder: builder, name: name, keySerde: keySerde, valueSerde: valueSerde,
                               repartitionRequired: repartitionRequired || keyChanging)
    }

    func add(
        _ name: String, parents: [String]? = nil, stores: [String] = [], output: Any.Type,
        make: @escaping @Sendable (NodeContext) throws -> AnyNode
    ) {
        builder.attempt {
            try topology.add(
                Topology.Node(
                    name: name, kind: .processor(stores: stores), parents: parents ?? [self.name],
                    inputType: Record<K, V>.self, outputType: output, make: make))
        }
    }
}
