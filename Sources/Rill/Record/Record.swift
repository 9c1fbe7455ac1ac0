/// A record flowing through the processor graph: key, value, timestamp and headers.
///
/// Where the record came from (topic, partition, offset) is on
/// ``ProcessorContext/recordMetadata``, as in Kafka Streams.
public struct Record<K, V> {
    public var key: K
    public var value: V
    /// Event time in epoch milliseconds.
    public var timestamp: Int64
    public var headers: Headers

    @inlinable
    public init(key: K, value: V, timestamp: Int64, headers: Headers = Headers()) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.headers = headers
    }

    /// The same record with another key.
    @inlinable
    public func withKey<NewK>(_ key: NewK) -> Record<NewK, V> {
        Record<NewK, V>(key: key, value: value, timestamp: timestamp, headers: headers)
    }

    /// The same record with another value.
    @inlinable
    public func withValue<NewV>(_ value: NewV) -> Record<K, NewV> {
        Record<K, NewV>(key: key, value: value, timestamp: timestamp, headers: headers)
    }

    /// The same record with another timestamp.
    @inlinable
    public func withTimestamp(_ timestamp: Int64) -> Record<K, V> {
        var copy = self
        copy.timestamp = timestamp
        return copy
    }

    /// The same record with other headers.
    @inlinable
    public func withHeaders(_ headers: Headers) -> Record<K, V> {
        var copy = self
        copy.headers = headers
        return copy
    }
}

extension Record: Equatable where K: Equatable, V: Equatable {}
extension Record: Hashable where K: Hashable, V: Hashable {}
extension Record: Sendable where K: Sendable, V: Sendable {}

/// A record whose key can't change: what a ``FixedKeyProcessor`` receives and forwards.
public struct FixedKeyRecord<K, V> {
    public let key: K
    public var value: V
    public var timestamp: Int64
    public var headers: Headers

    @inlinable
    init(key: K, value: V, timestamp: Int64, headers: Headers) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.headers = headers
    }

    @inlinable
    init(_ record: Record<K, V>) {
        self.init(key: record.key, value: record.value, timestamp: record.timestamp, headers: record.headers)
    }

    /// The same record with another value.
    @inlinable
    public func withValue<NewV>(_ value: NewV) -> FixedKeyRecord<K, NewV> {
        FixedKeyRecord<K, NewV>(key: key, value: value, timestamp: timestamp, headers: headers)
    }

    /// The same record with another timestamp.
    @inlinable
    public func withTimestamp(_ timestamp: Int64) -> FixedKeyRecord<K, V> {
        var copy = self
        copy.timestamp = timestamp
        return copy
    }

    /// The same record with other headers.
    @inlinable
    public func withHeaders(_ headers: Headers) -> FixedKeyRecord<K, V> {
        var copy = self
        copy.headers = headers
        return copy
    }

    @inlinable
    var record: Record<K, V> { Record(key: key, value: value, timestamp: timestamp, headers: headers) }
}

/// A key and a value, as returned by mappers and read from test topics.
public struct KeyValue<K, V> {
    public var key: K
    public var value: V

    @inlinable
    public init(_ key: K, _ value: V) {
        self.key = key
        self.value = value
    }
}

extension KeyValue: Equatable where K: Equatable, V: Equatable {}
extension KeyValue: Hashable where K: Hashable, V: Hashable {}
extension KeyValue: Sendable where K: Sendable, V: Sendable {}
extension KeyValue: CustomStringConvertible {
    public var description: String { "KeyValue(\(key), \(value))" }
}

/// Where a record was read from.
public struct RecordMetadata: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var description: String { "\(topic)-\(partition)@\(offset)" }
}

/// A record as bytes, as read from or written to a topic: what runtimes and the test driver move around.
public struct RawRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// Milliseconds since the epoch, or -1 when the record has none.
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: Headers

    @inlinable
    public init(
        topic: String, partition: Int32, offset: Int64, timestamp: Int64,
        key: [UInt8]?, value: [UInt8]?, headers: Headers
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
    }

    /// Where the record was read from.
    @inlinable
    public var metadata: RecordMetadata { RecordMetadata(topic: topic, partition: partition, offset: offset) }
}
