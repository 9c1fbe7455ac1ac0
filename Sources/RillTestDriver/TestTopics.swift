import Rill

/// A record read from or piped into a test topic.
public struct TestRecord<K, V> {
    public var key: K
    public var value: V
    public var timestamp: Int64
    public var headers: Headers
    /// The topic it was written to (set on records read from output topics).
    public var topic: String?
    /// The partition it was written to (set on records read from output topics).
    public var partition: Int32?

    public init(
        key: K, value: V, timestamp: Int64, headers: Headers = Headers(), topic: String? = nil, partition: Int32? = nil
    ) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.headers = headers
        self.topic = topic
        self.partition = partition
    }

    public var keyValue: KeyValue<K, V> { KeyValue(key, value) }
}

extension TestRecord: Equatable where K: Equatable, V: Equatable {
    /// Records are equal when key, value, timestamp and headers are (topic and partition are not compared).
    public static func == (a: TestRecord, b: TestRecord) -> Bool {
        a.key == b.key && a.value == b.value && a.timestamp == b.timestamp && a.headers == b.headers
    }
}

/// Pipes records into one input topic of a ``TopologyTestDriver``.
public struct TestInputTopic<K, V> {
    let driver: TopologyTestDriver
    public let topic: String
    let keySerde: Serde<K>
    let valueSerde: Serde<V>
    private var nextTimestamp: Int64
    private let autoAdvanceMs: Int64

    init(driver: TopologyTestDriver, topic: String, keySerde: Serde<K>, valueSerde: Serde<V>,
         startTimestamp: Int64, autoAdvanceMs: Int64) {
        self.driver = driver
        self.topic = topic
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.nextTimestamp = startTimestamp
        self.autoAdvanceMs = autoAdvanceMs
    }

    /// Pipes one record and processes it to completion.
    /// Without a timestamp, the topic's current time is used (then moved on by `autoAdvance`); without
    /// a partition, the default partitioner chooses (with one partition, always 0).
    public mutating func pipeInput(
        key: K, value: V, timestamp: Int64? = nil, headers: Headers = Headers(), partition: Int32? = nil
    ) throws {
        try pipe(
            key: keySerde.serialize(key), value: valueSerde.serialize(value), timestamp: timestamp, headers: headers,
            partition: partition)
    }

    /// Pipes a record with a null key.
    public mutating func pipeInput(value: V, timestamp: Int64? = nil, headers: Headers = Headers()) throws {
        try pipe(key: nil, value: valueSerde.serialize(value), timestamp: timestamp, headers: headers)
    }

    /// Pipes a record with a null value (a tombstone).
    public mutating func pipeTombstone(key: K, timestamp: Int64? = nil, headers: Headers = Headers()) throws {
        try pipe(key: keySerde.serialize(key), value: nil, timestamp: timestamp, headers: headers)
    }

    /// Pipes bytes as they are, bypassing the serdes: for testing malformed input.
    public mutating func pipeRaw(key: [UInt8]?, value: [UInt8]?, timestamp: Int64? = nil, headers: Headers = Headers()) throws {
        try pipe(key: key, value: value, timestamp: timestamp, headers: headers)
    }

    /// Pipes records in order.
    public mutating func pipeRecordList(_ records: [TestRecord<K, V>]) throws {
        for record in records {
            try pipeInput(key: record.key, value: record.value, timestamp: record.timestamp, headers: record.headers)
        }
    }

    /// Pipes key-value pairs in order, at the topic's current time.
    public mutating func pipeKeyValueList(_ pairs: [KeyValue<K, V>]) throws {
        for pair in pairs { try pipeInput(key: pair.key, value: pair.value) }
    }

    /// Pipes values with null keys, in order, at the topic's current time.
    public mutating func pipeValueList(_ values: [V]) throws {
        for value in values { try pipeInput(value: value) }
    }

    /// Moves the topic's current time, used for records piped without a timestamp.
    public mutating func advanceTime(_ duration: Duration) { nextTimestamp += duration.wholeMilliseconds }

    private mutating func pipe(
        key: [UInt8]?, value: [UInt8]?, timestamp: Int64?, headers: Headers, partition: Int32? = nil
    ) throws {
        let time: Int64
        if let timestamp {
            time = timestamp
        } else {
            time = nextTimestamp
            nextTimestamp += autoAdvanceMs
        }
        try driver.pipe(topic: topic, key: key, value: value, timestamp: time, headers: headers, partition: partition)
    }
}

/// Reads what the topology wrote to one topic of a ``TopologyTestDriver``, in order; each record is read once.
public struct TestOutputTopic<K, V> {
    let driver: TopologyTestDriver
    public let topic: String
    let keySerde: Serde<K>
    let valueSerde: Serde<V>

    init(driver: TopologyTestDriver, topic: String, keySerde: Serde<K>, valueSerde: Serde<V>) {
        self.driver = driver
        self.topic = topic
        self.keySerde = keySerde
        self.valueSerde = valueSerde
    }

    /// The next record; throws when the topic has no unread record.
    public func readRecord() throws -> TestRecord<K, V> {
        guard let raw = driver.readNext(topic: topic) else {
            throw TestDriverError("no unread record in topic '\(topic)'")
        }
        return TestRecord(
            key: try keySerde.deserialize(raw.key), value: try valueSerde.deserialize(raw.value),
            timestamp: raw.timestamp, headers: raw.headers, topic: raw.topic, partition: raw.partition)
    }

    /// The next record's value.
    public func readValue() throws -> V { try readRecord().value }

    /// The next record's key and value.
    public func readKeyValue() throws -> KeyValue<K, V> { try readRecord().keyValue }

    /// Every unread record.
    public func readRecordsToList() throws -> [TestRecord<K, V>] {
        var records: [TestRecord<K, V>] = []
        while !isEmpty { records.append(try readRecord()) }
        return records
    }

    /// Every unread record's key and value.
    public func readKeyValuesToList() throws -> [KeyValue<K, V>] { try readRecordsToList().map(\.keyValue) }

    /// Every unread record's value.
    public func readValuesToList() throws -> [V] { try readRecordsToList().map(\.value) }

    /// The last value per key of every unread record.
    public func readKeyValuesToMap() throws -> [K: V] where K: Hashable {
        var map: [K: V] = [:]
        for record in try readRecordsToList() { map[record.key] = record.value }
        return map
    }

    /// Whether every record has been read.
    public var isEmpty: Bool { driver.unreadCount(topic: topic) == 0 }

    /// How many records are unread.
    public var queueSize: Int { driver.unreadCount(topic: topic) }
}
