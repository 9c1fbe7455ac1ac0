/// A name for an operator, instead of a generated `KSTREAM-...-0000000001` one.
/// Stable names keep internal topics and stores stable when the topology changes.
public struct Named: Sendable, Hashable, ExpressibleByStringLiteral {
    public let name: String
    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }
}

/// How a stream reads a topic: serdes, a timestamp extractor, a name for the source.
public struct Consumed<K, V>: Sendable {
    public var keySerde: Serde<K>?
    public var valueSerde: Serde<V>?
    public var timestampExtractor: TimestampExtractor<K, V>?
    public var name: String?

    public init(
        _ keySerde: Serde<K>? = nil, _ valueSerde: Serde<V>? = nil,
        timestampExtractor: TimestampExtractor<K, V>? = nil, named name: String? = nil
    ) {
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.timestampExtractor = timestampExtractor
        self.name = name
    }

    /// With serdes.
    public static func with(_ keySerde: Serde<K>, _ valueSerde: Serde<V>) -> Consumed<K, V> {
        Consumed(keySerde, valueSerde)
    }
}

/// How a stream writes a topic: serdes, a partitioner, a name for the sink.
public struct Produced<K, V>: Sendable {
    public var keySerde: Serde<K>?
    public var valueSerde: Serde<V>?
    public var partitioner: StreamPartitioner<K, V>?
    public var name: String?

    public init(
        _ keySerde: Serde<K>? = nil, _ valueSerde: Serde<V>? = nil,
        partitioner: StreamPartitioner<K, V>? = nil, named name: String? = nil
    ) {
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.partitioner = partitioner
        self.name = name
    }

    /// With serdes.
    public static func with(_ keySerde: Serde<K>, _ valueSerde: Serde<V>) -> Produced<K, V> {
        Produced(keySerde, valueSerde)
    }
}

/// How ``KStream/repartition(_:)`` writes its internal topic `<applicationID>-<name>-repartition`.
public struct Repartitioned<K, V>: Sendable {
    public var name: String?
    public var keySerde: Serde<K>?
    public var valueSerde: Serde<V>?
    /// The internal topic's partition count; by default, that of the topics feeding it.
    public var numberOfPartitions: Int32?
    public var partitioner: StreamPartitioner<K, V>?

    public init(
        named name: String? = nil, keySerde: Serde<K>? = nil, valueSerde: Serde<V>? = nil,
        numberOfPartitions: Int32? = nil, partitioner: StreamPartitioner<K, V>? = nil
    ) {
        self.name = name
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.numberOfPartitions = numberOfPartitions
        self.partitioner = partitioner
    }
}

/// A branch of ``KStream/split(named:)``: its name and what to do with its stream.
public struct Branched<K, V> {
    let name: String?
    let chain: ((KStream<K, V>) -> KStream<K, V>?)?

    /// A branch called `name` (the result map's key is the split's name followed by `name`).
    public static func `as`(_ name: String) -> Branched<K, V> { Branched(name: name, chain: nil) }

    /// A branch whose stream goes through `chain`; its result (if any) goes in the result map.
    public static func withFunction(
        _ chain: @escaping (KStream<K, V>) -> KStream<K, V>?, named name: String? = nil
    ) -> Branched<K, V> {
        Branched(name: name, chain: chain)
    }

    /// A branch whose stream is consumed by `consumer`; it is not in the result map.
    public static func withConsumer(
        _ consumer: @escaping (KStream<K, V>) -> Void, named name: String? = nil
    ) -> Branched<K, V> {
        Branched(name: name, chain: { stream in consumer(stream); return nil })
    }
}
