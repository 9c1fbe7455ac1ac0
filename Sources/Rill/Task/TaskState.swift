import Logging

extension RawRecord {
    /// Where the record came from, as log metadata: `topic`, `partition` and `offset`.
    package var logMetadata: Logger.Metadata {
        ["topic": "\(topic)", "partition": "\(partition)", "offset": "\(offset)"]
    }
}

/// What the nodes of one task share: identity, the record being processed, stream time,
/// punctuation schedules, where output goes, and counters.
///
/// One thread at a time works on a task, and no access to these fields spans a call that could
/// reach them again, so the fields read and written per record skip the runtime's exclusivity
/// checks (each check costs about 80 instructions, against a few hundred for a whole record).
@usableFromInline
package final class TaskState {
    package let applicationID: String
    package let taskID: TaskID
    package let config: StreamsConfig
    package let logger: Logger
    @usableFromInline package let collector: RecordCollector
    package let wallClock: () -> Int64
    /// Internal topics of the topology (raw names), which get the application id as prefix.
    let internalTopics: Set<String>

    /// Where the record being processed came from; `nil` in punctuators.
    @usableFromInline package var recordMetadata: RecordMetadata? {
        processingRecord ? RecordMetadata(topic: recordTopic, partition: recordPartition, offset: recordOffset) : nil
    }
    /// What ``recordMetadata`` is made of, set by ``beginRecord(_:)``: plain stores per record, and
    /// the topic only when it changes, so that no reference counting is done for it per record.
    @exclusivity(unchecked) private var processingRecord = false
    /// The topic of the record being processed, or of the last one.
    @exclusivity(unchecked) private(set) var recordTopic = ""
    @exclusivity(unchecked) private var recordPartition: Int32 = 0
    @exclusivity(unchecked) private var recordOffset: Int64 = 0
    /// The largest record timestamp processed (-1 before any).
    @exclusivity(unchecked) @usableFromInline package var streamTime: Int64 = -1
    /// Set by a processor that asks for a commit.
    @exclusivity(unchecked) package var commitRequested = false
    /// Records written to the task's changelogs since its stores were last flushed to disk and
    /// checkpointed (the runtime does that once this passes a threshold, not at every commit).
    @exclusivity(unchecked) package var changelogWritesSinceCheckpoint: Int64 = 0
    @exclusivity(unchecked) package var metrics = TaskMetrics()

    /// The task's stores by name, and the stores each processor may use.
    var stores: [String: any StateStore] = [:]
    /// The global tables' stores of the application instance, by name (shared by every task).
    var globalStores: [String: any StateStore] = [:]
    /// State that several nodes of the task share (e.g. the two sides of a stream–stream join), by name.
    var shared: [String: AnyObject] = [:]
    var storesByNode: [String: Set<String>] = [:]
    /// What a node does, by the name of its store, just before the task flushes that store at a
    /// commit: every store upstream has written its cache through by then.
    var beforeFlushing: [String: () throws -> Void] = [:]

    let streamTimePunctuations = PunctuationQueue()
    let wallClockPunctuations = PunctuationQueue()

    init(
        applicationID: String, taskID: TaskID, config: StreamsConfig, logger: Logger,
        collector: RecordCollector, wallClock: @escaping () -> Int64, internalTopics: Set<String>
    ) {
        self.applicationID = applicationID
        self.taskID = taskID
        self.config = config
        self.logger = logger
        self.collector = collector
        self.wallClock = wallClock
        self.internalTopics = internalTopics
    }

    /// The topic name used on the brokers: internal topics get `<applicationID>-` in front.
    func resolveTopic(_ name: String) -> String {
        internalTopics.contains(name) ? "\(applicationID)-\(name)" : name
    }

    /// Marks `raw` as the record being processed, until ``endRecord()``.
    func beginRecord(_ raw: RawRecord) {
        if recordTopic != raw.topic { recordTopic = raw.topic }
        recordPartition = raw.partition
        recordOffset = raw.offset
        processingRecord = true
    }

    func endRecord() {
        processingRecord = false
    }

    @inlinable
    func advanceStreamTime(to timestamp: Int64) {
        if timestamp > streamTime { streamTime = timestamp }
    }

    @usableFromInline
    func skipInvalidTimestamp(_ raw: RawRecord, extracted: Int64) {
        metrics.droppedRecords += 1
        logger.warning(
            "Skipping record with invalid timestamp \(extracted) from topic '\(raw.topic)' partition \(raw.partition) offset \(raw.offset)",
            metadata: raw.logMetadata)
    }

    func schedule(node: String, intervalMs: Int64, type: PunctuationType, punctuator: @escaping (Int64) throws -> Void)
        -> Cancellable
    {
        let interval = max(intervalMs, 1)
        switch type {
        case .streamTime:
            // Aligned to 0: fires as soon as the task has seen a record.
            return streamTimePunctuations.add(node: node, firstDue: 0, intervalMs: interval, punctuator: punctuator)
        case .wallClockTime:
            return wallClockPunctuations.add(
                node: node, firstDue: wallClock() + interval, intervalMs: interval, punctuator: punctuator)
        }
    }
}

/// Counters of one task.
package struct TaskMetrics: Sendable, Equatable {
    /// Records read from input topics.
    package var processedRecords: Int64 = 0
    /// Records skipped: by a handler, for an invalid timestamp, or by an operator (e.g. late records).
    package var droppedRecords: Int64 = 0
    /// Records written to a dead-letter topic.
    package var deadLetterRecords: Int64 = 0

    package init() {}
}

extension TaskMetrics {
    /// Adds another set of counters to these.
    package mutating func add(_ other: TaskMetrics) {
        processedRecords += other.processedRecords
        droppedRecords += other.droppedRecords
        deadLetterRecords += other.deadLetterRecords
    }
}
