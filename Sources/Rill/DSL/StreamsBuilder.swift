/// Builds a ``Topology`` with the DSL, as Kafka Streams' `StreamsBuilder`.
///
/// ```swift
/// let builder = StreamsBuilder()
/// builder.stream("calls", Consumed(.string, .json(Call.self)))
///     .filter { _, call in call.direction == .inbound }
///     .to("inbound-calls", Produced(.string, .json(Call.self)))
/// let topology = try builder.build()
/// ```
public final class StreamsBuilder {
    let topology = Topology()
    private var index = 0

    public init() {}

    /// A stream of the records of `topics`.
    @inlinable
    public func stream<K, V>(_ topics: [String], _ consumed: Consumed<K, V> = Consumed()) -> KStream<K, V> {
        addStream(topics, consumed) { SourceNode<K, V>.decoder(keySerde: $0, valueSerde: $1, timestampExtractor: $2) }
    }

    @usableFromInline
    func addStream<K, V>(_ topics: [String], _ consumed: Consumed<K, V>, makeDecode: @escaping SourceNode<K, V>.MakeDecode)
        -> KStream<K, V>
    {
        let name = consumed.name ?? newName("KSTREAM-SOURCE-")
        if topics.isEmpty { topology.recordDeferred(TopologyError("stream '\(name)' reads no topic")) }
        attempt {
            try topology.add(
                sourceNamed: name, topics: topics, keySerde: consumed.keySerde, valueSerde: consumed.valueSerde,
                timestampExtractor: consumed.timestampExtractor, makeDecode: makeDecode)
        }
        return KStream(builder: self, name: name, keySerde: consumed.keySerde, valueSerde: consumed.valueSerde,
                       repartitionRequired: false)
    }

    /// A stream of the records of `topic`.
    @inlinable
    public func stream<K, V>(_ topic: String, _ consumed: Consumed<K, V> = Consumed()) -> KStream<K, V> {
        stream([topic], consumed)
    }

    /// Adds a state store for processors (``KStream/process(named:stores:_:)`` names the stores it uses).
    @discardableResult
    public func addStateStore(_ builder: any StoreBuilder) -> StreamsBuilder {
        attempt { try topology.addStateStore(builder) }
        return self
    }

    /// The topology built so far; throws the first problem met while building.
    public func build() throws -> Topology {
        try topology.validate()
        return topology
    }

    // MARK: - Internals shared by the DSL types

    /// Kafka Streams' generated name: `prefix` + a 10-digit index shared by all operators.
    func newName(_ prefix: String) -> String {
        let number = String(index)
        index += 1
        return prefix + String(repeating: "0", count: max(0, 10 - number.count)) + number
    }

    func name(_ named: Named?, prefix: String) -> String {
        named?.name ?? newName(prefix)
    }

    /// Runs a topology change, keeping the first error for ``build()``.
    func attempt(_ change: () throws -> Void) {
        do { try change() } catch { topology.recordDeferred(error) }
    }
}
