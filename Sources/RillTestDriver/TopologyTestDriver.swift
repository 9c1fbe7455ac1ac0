import Foundation
import Logging
import Rill
import RillRocksDB

/// Runs a topology in process, synchronously and deterministically, with no broker: the Kafka Streams
/// test driver for Rill.
///
/// Each piped record is processed to completion, including through repartition topics and topics
/// the topology both writes and reads, before `pipeInput` returns. Wall-clock time is a mock clock
/// moved by ``advanceWallClockTime(_:)``.
///
/// ```swift
/// let driver = try TopologyTestDriver(topology, config: StreamsConfig(applicationID: "test"))
/// let input = try driver.createInputTopic("calls", keySerde: .string, valueSerde: .string)
/// let output = try driver.createOutputTopic("upper", keySerde: .string, valueSerde: .string)
/// try input.pipeInput(key: "a", value: "x", timestamp: 1_000)
/// XCTAssertEqual(try output.readKeyValue(), KeyValue("a", "X"))
/// ```
public final class TopologyTestDriver {
    let topology: Topology
    public let config: StreamsConfig
    private let logger: Logger
    private var tasks: [StreamTask] = []
    private var taskByTopic: [String: StreamTask] = [:]
    private let collector = DriverCollector()
    private var outputs: [String: [RawRecord]] = [:]
    private var inputOffsets: [String: Int64] = [:]
    private var readPositions: [String: Int] = [:]
    private var wallClockMs: Int64
    private var closed = false
    /// The record cache of the driver's tasks; flushed after every piped record, as Kafka Streams'
    /// driver commits after each one.
    private let cache: RecordCache?
    /// Where persistent stores live while the driver runs; removed by ``close()``.
    public let stateDirectory: String
    private let ownsStateDirectory: Bool

    /// A driver for `topology`; one task per sub-topology, on partition 0. Persistent stores live in
    /// `stateDirectory`, by default a new temporary directory that ``close()`` removes.
    public init(
        _ topology: Topology, config: StreamsConfig = StreamsConfig(applicationID: "test-driver"),
        initialWallClockTime: Int64 = 0, stateDirectory: String? = nil,
        logger: Logger = Logger(label: "rill.test-driver")
    ) throws {
        try topology.validate()
        self.topology = topology
        self.config = config
        self.logger = logger
        self.wallClockMs = initialWallClockTime
        ownsStateDirectory = stateDirectory == nil
        self.stateDirectory = stateDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("rill-test-driver-\(UUID().uuidString)").path
        let cache = config.cacheMaxBytes > 0 ? RecordCache(maxBytes: config.cacheMaxBytes) : nil
        self.cache = cache
        for index in topology.subtopologies.indices {
            let taskID = TaskID(subtopology: index, partition: 0)
            let task = try StreamTask(
                topology: topology, subtopology: index, partition: 0, config: config, collector: collector,
                wallClock: { [unowned self] in self.wallClockMs }, logger: logger,
                stateDirectory: "\(self.stateDirectory)/\(config.applicationID)/\(taskID)",
                persistentStores: .rocksDB, cache: cache)
            tasks.append(task)
            for topic in task.inputTopics { taskByTopic[topic] = task }
        }
        for task in tasks { try task.initialize() }
        try drain()
    }

    /// The topics the topology has written to so far (internal ones included).
    public var producedTopicNames: Set<String> { Set(outputs.keys) }

    /// The mock wall-clock time, epoch ms.
    public var wallClockTime: Int64 { wallClockMs }

    /// Counters of the tasks: processed, dropped (skipped by handlers or operators) and dead-lettered records.
    public var metrics: (processed: Int64, dropped: Int64, deadLettered: Int64) {
        tasks.reduce((0, 0, 0)) {
            ($0.0 + $1.state.metrics.processedRecords, $0.1 + $1.state.metrics.droppedRecords,
             $0.2 + $1.state.metrics.deadLetterRecords)
        }
    }

    /// A topic to pipe records into; fails when the topology does not read `topic`.
    public func createInputTopic<K, V>(
        _ topic: String, keySerde: Serde<K>, valueSerde: Serde<V>, startTimestamp: Int64? = nil,
        autoAdvance: Duration = .zero
    ) throws -> TestInputTopic<K, V> {
        guard taskByTopic[topic] != nil else {
            throw TestDriverError(
                "topic '\(topic)' is not read by the topology (it reads \(taskByTopic.keys.sorted()))")
        }
        return TestInputTopic(
            driver: self, topic: topic, keySerde: keySerde, valueSerde: valueSerde,
            startTimestamp: startTimestamp ?? wallClockMs, autoAdvanceMs: autoAdvance.wholeMilliseconds)
    }

    /// A topic to read the topology's output from; fails when nothing in the topology can write `topic`.
    public func createOutputTopic<K, V>(_ topic: String, keySerde: Serde<K>, valueSerde: Serde<V>) throws
        -> TestOutputTopic<K, V>
    {
        let changelogs = topology.stores.filter { $0.builder.loggingEnabled }.map {
            Topology.changelogTopic(store: $0.builder.name, applicationID: config.applicationID)
        }
        let written = Set(topology.sinkTopics.map { topology.resolvedTopic($0, applicationID: config.applicationID) })
            .union(deadLetterTopics).union(changelogs)
        guard written.contains(topic) || topology.hasTopicExtractorSinks else {
            throw TestDriverError("topic '\(topic)' is not written by the topology (it writes \(written.sorted()))")
        }
        return TestOutputTopic(driver: self, topic: topic, keySerde: keySerde, valueSerde: valueSerde)
    }

    /// Moves the mock wall clock forward and fires the wall-clock punctuators that come due.
    public func advanceWallClockTime(_ duration: Duration) throws {
        wallClockMs += duration.wholeMilliseconds
        for task in tasks { try task.maybePunctuateWallClockTime() }
        try drain()
        try commit()
    }

    /// The store named `name` (of whichever task has it).
    public func stateStore(named name: String) -> (any StateStore)? {
        tasks.lazy.compactMap { $0.store(named: name) }.first
    }

    /// The key-value store named `name`, typed; fails when there is none or its types differ.
    public func keyValueStore<K, V>(named name: String, keyType: K.Type = K.self, valueType: V.Type = V.self) throws
        -> any KeyValueStore<K, V>
    {
        try typedStore(name, as: (any KeyValueStore<K, V>).self, "a key-value store of \(K.self) to \(V.self)")
    }

    /// The timestamped key-value store named `name`: how DSL tables (aggregations) are stored.
    public func timestampedKeyValueStore<K, V>(named name: String, keyType: K.Type = K.self, valueType: V.Type = V.self)
        throws -> any TimestampedKeyValueStore<K, V>
    {
        try keyValueStore(named: name, keyType: K.self, valueType: ValueAndTimestamp<V>.self)
    }

    /// The window store named `name`, typed; fails when there is none or its types differ.
    public func windowStore<K, V>(named name: String, keyType: K.Type = K.self, valueType: V.Type = V.self) throws
        -> any WindowStore<K, V>
    {
        try typedStore(name, as: (any WindowStore<K, V>).self, "a window store of \(K.self) to \(V.self)")
    }

    /// The timestamped window store named `name`: how DSL windowed tables are stored.
    public func timestampedWindowStore<K, V>(named name: String, keyType: K.Type = K.self, valueType: V.Type = V.self)
        throws -> any TimestampedWindowStore<K, V>
    {
        try windowStore(named: name, keyType: K.self, valueType: ValueAndTimestamp<V>.self)
    }

    /// The session store named `name`, typed; fails when there is none or its types differ.
    public func sessionStore<K, V>(named name: String, keyType: K.Type = K.self, valueType: V.Type = V.self) throws
        -> any SessionStore<K, V>
    {
        try typedStore(name, as: (any SessionStore<K, V>).self, "a session store of \(K.self) to \(V.self)")
    }

    private func typedStore<Store>(_ name: String, as type: Store.Type, _ kind: String) throws -> Store {
        guard let store = stateStore(named: name) else {
            throw TestDriverError("the topology has no state store named '\(name)'")
        }
        guard let typed = store as? Store else { throw TestDriverError("state store '\(name)' is not \(kind)") }
        return typed
    }

    /// Closes every task (user processors' `close()`, then the stores) and removes the state directory
    /// if the driver made it.
    public func close() {
        guard !closed else { return }
        closed = true
        for task in tasks { task.close() }
        if ownsStateDirectory { try? FileManager.default.removeItem(atPath: stateDirectory) }
    }

    deinit { close() }

    // MARK: - Plumbing for the test topics

    private var deadLetterTopics: Set<String> {
        var topics: Set<String> = []
        for handling in [config.deserializationExceptionHandler, config.processingExceptionHandler] {
            if case .deadLetter(let topic) = handling { topics.insert(topic) }
        }
        return topics
    }

    func pipe(topic: String, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers) throws {
        guard !closed else { throw TestDriverError("the driver is closed") }
        let offset = inputOffsets[topic, default: 0]
        inputOffsets[topic] = offset + 1
        try process(
            RawRecord(topic: topic, partition: 0, offset: offset, timestamp: timestamp, key: key, value: value,
                      headers: headers))
        try drain()
        try commit()
    }

    /// Writes the record caches through (what they forward is processed too), as a commit would.
    private func commit() throws {
        guard cache != nil else { return }
        for task in tasks {
            try task.flushCaches()
            try drain()
        }
    }

    private func process(_ raw: RawRecord) throws {
        guard let task = taskByTopic[raw.topic] else { return }
        try task.process(raw)
        try task.maybePunctuateStreamTime()
    }

    /// Files what the collector caught; records for topics the topology reads are processed in order.
    private func drain() throws {
        while !collector.pending.isEmpty {
            let record = file(collector.pending.removeFirst())
            if taskByTopic[record.topic] != nil {
                try process(record)
            }
        }
    }

    @discardableResult
    private func file(_ record: RawRecord) -> RawRecord {
        var record = record
        record.offset = Int64(outputs[record.topic]?.count ?? 0)
        outputs[record.topic, default: []].append(record)
        return record
    }

    /// Files what was written outside a piped record (a test writing a store directly logs to its
    /// changelog), up to the first record the topology would have to process.
    private func fileDirectWrites() {
        while let first = collector.pending.first, taskByTopic[first.topic] == nil {
            file(collector.pending.removeFirst())
        }
    }

    func readNext(topic: String) -> RawRecord? {
        fileDirectWrites()
        let position = readPositions[topic, default: 0]
        guard let records = outputs[topic], position < records.count else { return nil }
        readPositions[topic] = position + 1
        return records[position]
    }

    func unreadCount(topic: String) -> Int {
        fileDirectWrites()
        return (outputs[topic]?.count ?? 0) - readPositions[topic, default: 0]
    }
}

/// Catches what sinks send, in order.
final class DriverCollector: RecordCollector {
    var pending: [RawRecord] = []

    func send(topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers) throws {
        pending.append(
            RawRecord(topic: topic, partition: partition ?? 0, offset: -1, timestamp: timestamp, key: key, value: value,
                      headers: headers))
    }

    func partitionCount(topic: String) throws -> Int32 { 1 }
}

/// Misuse of the test driver; the message names the topic at fault.
public struct TestDriverError: Error, CustomStringConvertible, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
