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
    /// The task reading each partition of each input topic.
    private var taskByTopic: [String: [Int32: StreamTask]] = [:]
    private let collector: DriverCollector
    /// The partition count of topics not named in ``topicPartitions``.
    public let partitions: Int32
    /// Partition counts of particular topics (input and output topics, as the brokers name them).
    public let topicPartitions: [String: Int32]
    private var outputs: [String: [RawRecord]] = [:]
    private var inputOffsets: [String: Int64] = [:]
    private var readPositions: [String: Int] = [:]
    private var wallClockMs: Int64
    private var closed = false
    /// The global tables by topic, with their stores: piped records update them directly.
    private var globalTables: [String: (definition: GlobalTableDefinition, store: any StateStore)] = [:]
    /// The record cache of the driver's tasks; flushed after every piped record, as Kafka Streams'
    /// driver commits after each one.
    private let cache: RecordCache?
    /// Where persistent stores live while the driver runs; removed by ``close()``.
    public let stateDirectory: String
    private let ownsStateDirectory: Bool

    /// A driver for `topology`. Every topic has `partitions` partitions (1 by default, as Kafka
    /// Streams' driver) unless `topicPartitions` gives it another count; internal topics get the
    /// counts the runtime would give them. Each sub-topology has one task per partition of its
    /// largest input topic. Piped records and those the topology writes are routed by Kafka's
    /// default partitioner (murmur2 of the key; records without a key go round robin) unless a
    /// partition is given. Joins of topics with different counts fail with the runtime's
    /// ``CopartitioningError``. Persistent stores live in `stateDirectory`, by default a new
    /// temporary directory that ``close()`` removes.
    public init(
        _ topology: Topology, config: StreamsConfig = StreamsConfig(applicationID: "test-driver"),
        partitions: Int32 = 1, topicPartitions: [String: Int32] = [:], initialWallClockTime: Int64 = 0,
        stateDirectory: String? = nil, logger: Logger = Logger(label: "rill.test-driver")
    ) throws {
        try topology.validate()
        for (topic, count) in topicPartitions.merging(["": partitions], uniquingKeysWith: { a, _ in a }) where count < 1 {
            throw TestDriverError(topic.isEmpty ? "partitions must be at least 1 (got \(count))" : "topic '\(topic)' must have at least 1 partition (got \(count))")
        }
        self.partitions = partitions
        self.topicPartitions = topicPartitions
        // Every topic the topology reads, raw names: sources as given, internal topics as the runtime sizes them.
        let app = config.applicationID
        var sourceCounts: [String: Int32] = [:]
        for topic in topology.sourceTopics where topology.internalTopics[topic] == nil {
            sourceCounts[topic] = topicPartitions[topic] ?? partitions
        }
        let counts = sourceCounts.merging(topology.internalTopicPartitions(sourcePartitions: sourceCounts)) { a, _ in a }
        try topology.checkCopartitioning(counts, applicationID: app)
        var resolvedCounts = topicPartitions
        for (topic, count) in counts { resolvedCounts[topology.resolvedTopic(topic, applicationID: app)] = count }
        collector = DriverCollector(partitions: partitions, topicPartitions: resolvedCounts)
        self.topology = topology
        self.config = config
        self.logger = logger
        self.wallClockMs = initialWallClockTime
        ownsStateDirectory = stateDirectory == nil
        self.stateDirectory = stateDirectory ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("rill-test-driver-\(UUID().uuidString)").path
        let cache = config.cacheMaxBytes > 0 ? RecordCache(maxBytes: config.cacheMaxBytes) : nil
        self.cache = cache
        var globalStores: [String: any StateStore] = [:]
        for table in topology.globalTables {
            let name = table.storeBuilder.name
            let store = try table.openStore(
                directory: "\(self.stateDirectory)/\(config.applicationID)/global/\(name)", persistentStores: .rocksDB)
            globalStores[name] = store
            globalTables[table.topic] = (table, store)
        }
        for index in topology.subtopologies.indices {
            for partition in 0..<topology.taskCount(ofSubtopology: index, partitions: counts) {
                let taskID = TaskID(subtopology: index, partition: partition)
                let task = try StreamTask(
                    topology: topology, subtopology: index, partition: partition, config: config, collector: collector,
                    wallClock: { [unowned self] in self.wallClockMs }, logger: logger,
                    stateDirectory: "\(self.stateDirectory)/\(config.applicationID)/\(taskID)",
                    persistentStores: .rocksDB, cache: cache, globalStores: globalStores)
                tasks.append(task)
                for topic in task.inputTopics where partition < collector.partitionCount(of: topic) {
                    taskByTopic[topic, default: [:]][partition] = task
                }
            }
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
        guard taskByTopic[topic] != nil || globalTables[topic] != nil else {
            throw TestDriverError(
                "topic '\(topic)' is not read by the topology (it reads \((Array(taskByTopic.keys) + Array(globalTables.keys)).sorted()))")
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

    /// The store named `name` of the task for `partition` (with one partition, of the one task that has it).
    public func stateStore(named name: String, partition: Int32 = 0) -> (any StateStore)? {
        if let global = globalTables.values.first(where: { $0.store.name == name }) { return global.store }
        return tasks.lazy.filter { $0.id.partition == partition }.compactMap { $0.store(named: name) }.first
    }

    /// The key-value store named `name`, typed; fails when there is none or its types differ.
    public func keyValueStore<K, V>(
        named name: String, partition: Int32 = 0, keyType: K.Type = K.self, valueType: V.Type = V.self
    ) throws
        -> any KeyValueStore<K, V>
    {
        try typedStore(name, as: (any KeyValueStore<K, V>).self, "a key-value store of \(K.self) to \(V.self)", partition: partition)
    }

    /// The timestamped key-value store named `name`: how DSL tables (aggregations) are stored.
    public func timestampedKeyValueStore<K, V>(
        named name: String, partition: Int32 = 0, keyType: K.Type = K.self, valueType: V.Type = V.self
    ) throws -> any TimestampedKeyValueStore<K, V>
    {
        try keyValueStore(named: name, partition: partition, keyType: K.self, valueType: ValueAndTimestamp<V>.self)
    }

    /// The window store named `name`, typed; fails when there is none or its types differ.
    public func windowStore<K, V>(
        named name: String, partition: Int32 = 0, keyType: K.Type = K.self, valueType: V.Type = V.self
    ) throws
        -> any WindowStore<K, V>
    {
        try typedStore(name, as: (any WindowStore<K, V>).self, "a window store of \(K.self) to \(V.self)", partition: partition)
    }

    /// The timestamped window store named `name`: how DSL windowed tables are stored.
    public func timestampedWindowStore<K, V>(
        named name: String, partition: Int32 = 0, keyType: K.Type = K.self, valueType: V.Type = V.self
    ) throws -> any TimestampedWindowStore<K, V>
    {
        try windowStore(named: name, partition: partition, keyType: K.self, valueType: ValueAndTimestamp<V>.self)
    }

    /// The session store named `name`, typed; fails when there is none or its types differ.
    public func sessionStore<K, V>(
        named name: String, partition: Int32 = 0, keyType: K.Type = K.self, valueType: V.Type = V.self
    ) throws
        -> any SessionStore<K, V>
    {
        try typedStore(name, as: (any SessionStore<K, V>).self, "a session store of \(K.self) to \(V.self)", partition: partition)
    }

    private func typedStore<Store>(_ name: String, as type: Store.Type, _ kind: String, partition: Int32 = 0) throws -> Store {
        guard let store = stateStore(named: name, partition: partition) else {
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
        for global in globalTables.values { global.store.close() }
        if ownsStateDirectory { try? FileManager.default.removeItem(atPath: stateDirectory) }
    }

    deinit { close() }

    // MARK: - Plumbing for the test topics

    private var deadLetterTopics: Set<String> {
        var topics: Set<String> = []
        topics.formUnion(config.deadLetterTopics)
        return topics
    }

    func pipe(topic: String, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers, partition: Int32? = nil) throws {
        guard !closed else { throw TestDriverError("the driver is closed") }
        let count = collector.partitionCount(of: topic)
        let partition = partition ?? collector.partition(key: key, count: count)
        guard (0..<count).contains(partition) else {
            throw TestDriverError("partition \(partition) of topic '\(topic)' does not exist (it has \(count))")
        }
        let offsetKey = "\(topic)-\(partition)"
        let offset = inputOffsets[offsetKey, default: 0]
        inputOffsets[offsetKey] = offset + 1
        if let global = globalTables[topic] {
            try global.definition.apply(
                global.store,
                RawRecord(topic: topic, partition: partition, offset: offset, timestamp: timestamp, key: key, value: value,
                          headers: headers))
            return
        }
        try process(
            RawRecord(topic: topic, partition: partition, offset: offset, timestamp: timestamp, key: key, value: value,
                      headers: headers))
        try drain()
        try commit()
    }

    /// Writes the record caches through (what they forward is processed too), as a commit would,
    /// until nothing is left in them: what one task's flush sends through an internal topic can
    /// fill the cache of a task flushed before it (a foreign-key join's result). Suppression
    /// buffers release what stream time has closed on the way.
    private func commit() throws {
        var flushedSomething = true
        while flushedSomething {
            flushedSomething = false
            for task in tasks {
                try task.flushCaches()
                flushedSomething = flushedSomething || !collector.pending.isEmpty
                try drain()
            }
        }
    }

    private func process(_ raw: RawRecord) throws {
        guard let task = taskByTopic[raw.topic]?[raw.partition] else { return }
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

/// Catches what sinks send, in order, choosing partitions as the runtime's producer does.
final class DriverCollector: RecordCollector {
    var pending: [RawRecord] = []
    /// The count of topics not in `topicPartitions`.
    let partitions: Int32
    /// Counts of particular topics, as the brokers name them.
    let topicPartitions: [String: Int32]
    private var nextUnkeyed: Int32 = 0

    init(partitions: Int32, topicPartitions: [String: Int32]) {
        self.partitions = partitions
        self.topicPartitions = topicPartitions
    }

    func partitionCount(of topic: String) -> Int32 { topicPartitions[topic] ?? partitions }

    /// Kafka's default partitioner: murmur2 of the key; records without a key go round robin.
    func partition(key: [UInt8]?, count: Int32) -> Int32 {
        if let key { return DefaultPartitioner.partition(key: key, count: count) }
        defer { nextUnkeyed = nextUnkeyed == .max ? 0 : nextUnkeyed + 1 }
        return nextUnkeyed % count
    }

    func send(topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers) throws {
        pending.append(
            RawRecord(topic: topic, partition: partition ?? self.partition(key: key, count: partitionCount(of: topic)),
                      offset: -1, timestamp: timestamp, key: key, value: value, headers: headers))
    }

    func partitionCount(topic: String) throws -> Int32 { partitionCount(of: topic) }
}

/// Misuse of the test driver; the message names the topic at fault.
public struct TestDriverError: Error, CustomStringConvertible, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
