/// Sends a store's writes to its changelog partition (the task's partition of
/// `<application.id>-<store>-changelog`).
public final class ChangeLogger {
    /// The changelog topic, as the brokers know it.
    public let topic: String
    public let partition: Int32
    unowned(unsafe) let task: TaskState

    init(topic: String, partition: Int32, task: TaskState) {
        self.topic = topic
        self.partition = partition
        self.task = task
    }

    /// Logs one write; `nil` is a delete (a tombstone in the changelog).
    func log(_ key: [UInt8], _ value: [UInt8]?) throws {
        task.changelogWritesSinceCheckpoint += 1
        try task.collector.send(
            topic: topic, partition: partition, key: key, value: value, timestamp: max(task.streamTime, 0),
            headers: Headers())
    }
}

/// A byte store whose writes also go to the changelog.
final class ChangeLoggingKeyValueStore: BytesKeyValueStore {
    let inner: any BytesKeyValueStore
    let logger: ChangeLogger

    init(_ inner: any BytesKeyValueStore, log logger: ChangeLogger) {
        self.inner = inner
        self.logger = logger
    }

    var name: String { inner.name }
    var persistent: Bool { inner.persistent }
    func get(_ key: [UInt8]) throws -> [UInt8]? { try inner.get(key) }

    func put(_ key: [UInt8], _ value: [UInt8]?) throws {
        try inner.put(key, value)
        try logger.log(key, value)
    }

    func putAll(_ entries: [(key: [UInt8], value: [UInt8]?)]) throws {
        try inner.putAll(entries)
        for entry in entries { try logger.log(entry.key, entry.value) }
    }

    func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator { try inner.range(from: from, to: to) }
    func approximateNumEntries() throws -> Int64 { try inner.approximateNumEntries() }
    func flush() throws { try inner.flush() }
    func close() { inner.close() }
}

/// A store that can be refilled from its changelog, bypassing the changelog itself.
protocol RestorableStore: StateStore {
    /// Applies changelog records (`nil` value = delete) to the store's storage.
    func restore(_ batch: [(key: [UInt8], value: [UInt8]?)]) throws
}
