import CRdKafka
import CoreMetrics
import Foundation
import Logging
import Rill
import RillRocksDB
import Synchronization

/// One stream thread: its own consumer and producer, and the tasks of the partitions assigned to it,
/// processed in a tight synchronous loop.
final class StreamThread: @unchecked Sendable {
    enum State: Sendable, Equatable {
        case created, starting, partitionsRevoked, partitionsAssigned, running, pendingShutdown, dead
    }

    let name: String
    private let topology: Topology
    private let config: StreamsConfig
    private let logger: Logger
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    /// Reads changelogs to restore stores; assigned partitions only, no group.
    private let restoreConsumer: KafkaConsumer
    private let restoreListener: (any StateRestoreListener)?
    private let collector: ProducerCollector
    private let onStateChange: @Sendable (StreamThread, State) -> Void
    private let onFailure: @Sendable (StreamThread, Error) -> Void

    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let stateBox = Mutex<State>(.created)

    /// Sub-topology index of each input topic (resolved names).
    private let subtopologyByTopic: [String: Int]
    private var tasks: [TaskID: RunningTask] = [:]
    private var taskByPartition: [TopicPartition: (task: RunningTask, queue: PartitionQueue)] = [:]
    private var lastCommit = ContinuousClock.now
    private let commitInterval: Duration
    /// The global tables' stores, shared by every task.
    private let globalStores: [String: any StateStore]
    /// The thread's share of `statestore.cache.max.bytes` (`nil` when caching is off).
    private let cache: RecordCache?
    /// `processing.guarantee=exactly_once_v2`: output, changelog writes and offsets go in one
    /// transaction per commit.
    private let exactlyOnce: Bool
    /// Whether a partition with no committed offset is read from its first record (`auto.offset.reset`).
    private let readsFromEarliest: Bool
    /// The instance's standby tasks: they hand a task's stores over before it runs here, and take
    /// them back when it closes.
    private let standby: StandbyTasks?
    /// What the thread reports through swift-metrics.
    private let telemetry: StreamThreadMetrics

    /// A task with its buffered input and consumed positions.
    /// Only the stream thread touches a running task's group and queues, so their fields skip the
    /// runtime's exclusivity checks: six of them per record cost about 700 instructions.
    final class RunningTask {
        let task: StreamTask
        @exclusivity(unchecked) var group = PartitionGroup()
        /// The end offsets of the task's changelogs when it was suspended: if they moved, another
        /// member wrote to them meanwhile and the task can't resume on its own stores.
        var changelogEndsWhenSuspended: [TopicPartition: Int64] = [:]
        init(task: StreamTask) { self.task = task }
    }

    init(
        index: Int, topology: Topology, config: StreamsConfig, consumerConfig: KafkaClientConfig,
        producerConfig: KafkaClientConfig, logger: Logger, restoreListener: (any StateRestoreListener)?,
        globalStores: [String: any StateStore] = [:], shutdownBarrier: ShutdownBarrier = ShutdownBarrier(parties: 1),
        metricsFactory: MetricsFactory = MetricsSystem.factory, standby: StandbyTasks? = nil,
        onStateChange: @escaping @Sendable (StreamThread, State) -> Void,
        onFailure: @escaping @Sendable (StreamThread, Error) -> Void,
        onTasksChanged: @escaping @Sendable (StreamThread, Set<TaskID>) -> Void = { _, _ in }
    ) throws {
        name = "\(config.applicationID)-StreamThread-\(index + 1)"
        self.topology = topology
        self.config = config
        var threadLogger = logger
        threadLogger[metadataKey: "thread"] = "\(name)"
        self.logger = threadLogger
        var consumerConfig = consumerConfig
        consumerConfig["client.id"] = consumerConfig["client.id"] ?? "\(name)-consumer"
        var producerConfig = producerConfig
        producerConfig["client.id"] = producerConfig["client.id"] ?? "\(name)-producer"
        exactlyOnce = config.processingGuarantee == .exactlyOnceV2
        if exactlyOnce {
            // One transactional producer per thread (exactly-once v2); group metadata sent with the
            // offsets fences a zombie, so the id only has to be unique.
            producerConfig["transactional.id"] = "\(name)-\(UUID().uuidString)"
        }
        consumer = try KafkaConsumer(config: consumerConfig, logger: threadLogger)
        readsFromEarliest = ["earliest", "smallest", "beginning"].contains(consumerConfig["auto.offset.reset"] ?? "largest")
        var restoreConfig = consumerConfig
        restoreConfig["client.id"] = "\(name)-restore-consumer"
        restoreConsumer = try KafkaConsumer(config: restoreConfig, logger: threadLogger)
        self.restoreListener = restoreListener
        self.globalStores = globalStores
        self.shutdownBarrier = shutdownBarrier
        self.standby = standby
        producer = try KafkaProducer(config: producerConfig, logger: threadLogger)
        collector = ProducerCollector(producer: producer, handling: config.productionExceptionHandler, logger: threadLogger)
        self.onStateChange = onStateChange
        self.onFailure = onFailure
        self.onTasksChanged = onTasksChanged
        commitInterval = .milliseconds(config.commitIntervalMs)
        telemetry = StreamThreadMetrics(applicationID: config.applicationID, thread: name, factory: metricsFactory)
        let cacheBytes = config.cacheMaxBytes / max(config.numStreamThreads, 1)
        cache = cacheBytes > 0 ? RecordCache(maxBytes: cacheBytes) : nil
        var byTopic: [String: Int] = [:]
        for (index, names) in topology.subtopologies.enumerated() {
            for topic in topology.sourceTopics(ofSubtopology: names) {
                byTopic[topology.resolvedTopic(topic, applicationID: config.applicationID)] = index
            }
        }
        subtopologyByTopic = byTopic
    }

    var state: State { stateBox.withLock { $0 } }

    /// The tasks the thread runs (not those suspended), as of its last rebalance; safe from any thread.
    var activeTasks: Set<TaskID> { activeTaskIDs.withLock { $0 } }
    private let activeTaskIDs = Mutex<Set<TaskID>>([])
    private let onTasksChanged: @Sendable (StreamThread, Set<TaskID>) -> Void

    /// Publishes the tasks the thread now runs, when they changed.
    private func tasksChanged() {
        let now = Set(tasks.keys)
        let changed = activeTaskIDs.withLock { ids -> Bool in
            guard ids != now else { return false }
            ids = now
            return true
        }
        if changed { onTasksChanged(self, now) }
    }

    private func setState(_ new: State) {
        let changed = stateBox.withLock { state -> Bool in
            guard state != new, state != .dead else { return false }
            state = new
            return true
        }
        guard changed else { return }
        // Listeners hear of changes once the stores are let go: a listener may query them.
        if storeAccessDepth > 0 { deferredStateChanges.append(new) } else { onStateChange(self, new) }
    }

    /// Starts the thread's loop.
    func start() {
        setState(.starting)
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Asks the loop to stop after its current iteration; it then commits and closes.
    func requestStop() {
        stopRequested.store(true, ordering: .relaxed)
    }

    /// Waits for the loop to end; false on timeout.
    func awaitStop(timeout: Duration) -> Bool {
        let result = finished.wait(timeout: .now() + .milliseconds(Int(timeout.components.seconds * 1000)))
        if result == .success { finished.signal() }
        return result == .success
    }

    // MARK: - The loop

    private func run() {
        defer { finished.signal() }
        do {
            consumer.rebalanceHandler = { [unowned self] event in
                usingStores {
                    do {
                        switch event {
                        case .assigned(let partitions): return try self.assign(partitions)
                        case .revoked(let partitions): try self.revoke(partitions)
                        case .lost(let partitions): self.lose(partitions)
                        }
                    } catch {
                        self.rebalanceError = error
                    }
                    return [:]
                }
            }
            if exactlyOnce {
                try producer.initTransactions(timeoutMs: 60_000)
                try producer.beginTransaction()
            }
            try consumer.subscribe(Array(subtopologyByTopic.keys).sorted())
            while !stopRequested.load(ordering: .relaxed) {
                try runOnce()
            }
            setState(.pendingShutdown)
            try usingStores {
                try commit(tasks.values, checkpoint: true)
                closeAllTasks()
            }
            shutdownBarrier.arrive()
            shutdownBarrier.wait(timeout: .seconds(10))
            consumer.close()
            restoreConsumer.close()
            setState(.dead)
        } catch {
            logger.error("Stream thread failed: \(error)")
            shutdownBarrier.arrive()
            usingStores { closeAllTasks() }
            consumer.close()
            restoreConsumer.close()
            setState(.dead)
            onFailure(self, error)
        }
    }

    private var rebalanceError: Error?
    /// Held while the thread uses its tasks' stores (processing, committing, rebalancing), so that
    /// interactive queries from other threads read them in between. Recursive: a rebalance can be
    /// handled inside a commit's poll.
    private let storeAccess = NSRecursiveLock()
    /// How deep the thread is in `usingStores`, and the state changes it holds back meanwhile (the
    /// thread's own).
    private var storeAccessDepth = 0
    private var deferredStateChanges: [State] = []
    /// Queries waiting for `storeAccess`: the thread lets them in before it takes it again.
    private let queriesWaiting = Atomic(0)

    /// Runs `body` holding the stores; state changes made meanwhile reach listeners afterwards.
    private func usingStores<R>(_ body: () throws -> R) rethrows -> R {
        if storeAccessDepth == 0 {
            // The lock is not fair: give waiting queries a moment before taking it back.
            var spins = 0
            while queriesWaiting.load(ordering: .relaxed) > 0 && spins < 1_000 {
                sched_yield()
                spins += 1
            }
        }
        storeAccess.lock()
        storeAccessDepth += 1
        defer {
            storeAccessDepth -= 1
            storeAccess.unlock()
            if storeAccessDepth == 0 && !deferredStateChanges.isEmpty {
                let changes = deferredStateChanges
                deferredStateChanges = []
                for change in changes { onStateChange(self, change) }
            }
        }
        return try body()
    }

    /// Calls `body` with the stores named `name` of the thread's running tasks, while the thread
    /// leaves them alone; safe from any thread. `nil` when the thread is not running (rebalancing,
    /// restoring, stopping) or does not let go of its stores within `timeout`.
    func withStores<R>(named name: String, timeout: Duration = .seconds(10), _ body: ([any StateStore]) throws -> R) rethrows
        -> R?
    {
        queriesWaiting.add(1, ordering: .relaxed)
        let locked = storeAccess.lock(before: Date().addingTimeInterval(Double(timeout.components.seconds)))
        queriesWaiting.subtract(1, ordering: .relaxed)
        guard locked else { return nil }
        defer { storeAccess.unlock() }
        guard state == .running else { return nil }
        return try body(tasks.values.compactMap { $0.task.store(named: name) })
    }
    /// Whether a task left records unprocessed in the last iteration, waiting for another partition.
    private var waitingForPartitions = false
    private let shutdownBarrier: ShutdownBarrier

    private func runOnce() throws {
        let hasBuffered = tasks.values.contains { $0.group.buffered > 0 }
        let pollStart = DispatchTime.now().uptimeNanoseconds
        // Buffered records a task waits to process (max.task.idle.ms) don't keep the loop spinning.
        // Each record moves into its task's queue as it is read. Records come in runs of one
        // partition: look the task up once per run.
        var current: (partition: Int32, topic: String, target: (task: RunningTask, queue: PartitionQueue)?)?
        try consumer.poll(max: 2000, timeoutMs: !hasBuffered ? 100 : waitingForPartitions ? 5 : 0) { record in
            if current?.partition != record.partition || current?.topic != record.topic {
                current = (
                    record.partition, record.topic,
                    taskByPartition[TopicPartition(topic: record.topic, partition: record.partition)]
                )
            }
            guard let target = current?.target else { return }
            target.task.group.append(record, to: target.queue)
        }
        waitingForPartitions = false
        if let error = rebalanceError {
            rebalanceError = nil
            throw error
        }
        if try brokersAreDown() { return }
        // Interactive queries read the tasks' stores between iterations, never during one.
        try usingStores {
            let processStart = DispatchTime.now().uptimeNanoseconds
            telemetry.pollTime.recordNanoseconds(Int64(processStart - pollStart))
            for running in tasks.values where running.group.buffered > 0 {
                try process(running, max: 1000)
            }
            let punctuateStart = DispatchTime.now().uptimeNanoseconds
            telemetry.processTime.recordNanoseconds(Int64(punctuateStart - processStart))
            for running in tasks.values {
                try running.task.maybePunctuateWallClockTime()
            }
            telemetry.punctuateTime.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - punctuateStart))
            try collector.poll()
            let commitRequested = tasks.values.contains { $0.task.state.commitRequested }
            if commitRequested || ContinuousClock.now - lastCommit >= commitInterval {
                try commit(tasks.values)
            }
            publishMetrics()
        }
    }

    private var lastBrokerCheck = ContinuousClock.now

    /// While every broker is down, the loop neither processes (the producer's queue would fill) nor
    /// commits; it checks every second whether they answer again, and fails after `task.timeout.ms`.
    private func brokersAreDown() throws -> Bool {
        guard let since = consumer.allBrokersDownSince else { return false }
        if ContinuousClock.now - lastBrokerCheck >= .seconds(1) {
            lastBrokerCheck = .now
            if consumer.brokersAnswer(timeoutMs: 1_000) {
                logger.info("The brokers answer again")
                return false
            }
        }
        let down = ContinuousClock.now - since
        if down > .milliseconds(config.taskTimeoutMs) {
            throw RuntimeError.brokerUnreachable(
                servers: config.bootstrapServers, timeoutMs: config.taskTimeoutMs,
                reason: "every broker has been down for \(down.components.seconds) s (task.timeout.ms)")
        }
        producer.poll(timeoutMs: 0)
        return true
    }

    private func process(_ running: RunningTask, max: Int) throws {
        var count = 0
        let waitsForPartitions = running.group.queues.count > 1 && config.maxTaskIdleMs >= 0
        while count < max {
            if waitsForPartitions && !isProcessable(running) {
                waitingForPartitions = true
                break
            }
            guard let (record, queue) = running.group.next() else { break }
            try running.task.process(record)
            queue.processedOffset = record.offset + 1
            try running.task.maybePunctuateStreamTime()
            count += 1
        }
    }

    /// Whether a task reading several partitions may process now (`max.task.idle.ms`): its empty
    /// partitions have no records on the broker it has not fetched, per the end offsets its
    /// consumer saw in its last fetch responses, or it has waited long enough for them.
    private func isProcessable(_ running: RunningTask) -> Bool {
        // Every partition has records buffered: nothing to wait for, no clock or watermark to read.
        guard running.group.queues.contains(where: { $0.count == 0 }) else { return running.group.buffered > 0 }
        return running.group.isProcessable(now: .now, maxTaskIdleMs: config.maxTaskIdleMs) { [consumer] queue in
            guard let (start, end) = consumer.lastKnownWatermarks(queue.partition) else { return nil }
            // With nothing fetched, processed or committed, reading starts at the earliest record
            // (`auto.offset.reset`, earliest unless configured otherwise).
            guard let next = queue.nextFetchOffset ?? (readsFromEarliest ? start : nil) else { return nil }
            return end > next
        }
    }

    /// Commit errors that mean the group is rebalancing, not that something is broken.
    static let rebalanceErrors: Set<Int32> = [
        RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS.rawValue, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION.rawValue,
        RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID.rawValue,
    ]

    /// How many changelog records a task writes before a commit also flushes its stores to disk and
    /// checkpoints them (Kafka Streams' figure). Flushing RocksDB at every commit would write
    /// small files every second under short commit intervals; what is not yet on disk is in the
    /// changelog past the checkpoint, and a restart replays it.
    static let checkpointInterval: Int64 = 10_000

    /// Writes the caches through, flushes the producer, then commits the processed offsets of
    /// `tasks` (with their stream time). Stores are flushed and checkpointed when enough has been
    /// written since the last checkpoint, and always when `checkpoint` is set (the tasks are closing).
    private func commit<C: Collection>(_ tasks: C, checkpoint: Bool = false) throws where C.Element == RunningTask {
        if exactlyOnce {
            // The transaction holds every task's output: commit them all together.
            return try commitTransaction(checkpoint ? Array(tasks) : [])
        }
        lastCommit = .now
        let started = DispatchTime.now().uptimeNanoseconds
        defer { telemetry.commitLatency.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started)) }
        let (offsets, committing) = try prepareCommit(tasks)
        if !offsets.isEmpty {
            do {
                try consumer.commit(offsets)
                for (queue, offset) in committing { queue.committedOffset = offset }
                logger.debug("Committed \(offsets.count) partition offsets")
            } catch let error as KafkaError where Self.rebalanceErrors.contains(error.code) {
                // The partitions are being reassigned: what this commit missed is processed again by
                // their next owner (at least once), or committed here if they come back.
                logger.warning("Commit of \(offsets.count) partition offsets refused while the group rebalances: \(error)")
            }
        }
        try writeCheckpoints(tasks.filter { checkpoint || $0.task.state.changelogWritesSinceCheckpoint >= Self.checkpointInterval })
        for running in tasks {
            for queue in running.group.queues {
                guard let next = queue.processedOffset ?? queue.committedOffset,
                    let end = consumer.lastKnownEndOffset(queue.partition)
                else { continue }
                telemetry.reportLag(queue.partition, max(0, end - next))
            }
        }
    }

    /// Writes the caches of `tasks` through and waits for the producer (handling refused records);
    /// returns the processed offsets not yet committed, with their queues.
    private func prepareCommit<C: Collection>(_ tasks: C) throws
        -> (offsets: [TopicPartition: (offset: Int64, metadata: String?)], committing: [(PartitionQueue, Int64)])
    where C.Element == RunningTask {
        var offsets: [TopicPartition: (offset: Int64, metadata: String?)] = [:]
        var committing: [(PartitionQueue, Int64)] = []
        for running in tasks {
            try running.task.flushCaches()
            running.task.state.commitRequested = false
            for queue in running.group.queues {
                guard let offset = queue.processedOffset, offset != queue.committedOffset else { continue }
                offsets[queue.partition] = (offset, StreamTimeMetadata.encode(running.task.state.streamTime))
                committing.append((queue, offset))
            }
        }
        try collector.flush()
        return (offsets, committing)
    }

    /// Exactly-once commit: caches written through, then the thread's open transaction committed
    /// with every task's processed offsets, the stores' kept-apart writes written to RocksDB
    /// (``RocksDBTransactions``), and a new transaction begun. Checkpoints follow the same rule as
    /// at least once (`checkpointing` tasks, and those past the checkpoint interval): RocksDB holds
    /// committed writes only, so a checkpoint stays valid. An error that needs an abort aborts and
    /// rebuilds every task from its checkpoint, the changelogs and the committed offsets.
    private func commitTransaction(_ checkpointing: [RunningTask]) throws {
        lastCommit = .now
        let started = DispatchTime.now().uptimeNanoseconds
        defer { telemetry.commitLatency.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started)) }
        let committing: [(PartitionQueue, Int64)]
        do {
            let offsets: [TopicPartition: (offset: Int64, metadata: String?)]
            (offsets, committing) = try prepareCommit(tasks.values)
            try producer.sendOffsetsToTransaction(offsets, consumer: consumer, timeoutMs: 30_000)
            try producer.commitTransaction(timeoutMs: 60_000)
        } catch let error as TransactionError where error.requiresAbort {
            try abortAndRebuild(error)
            return
        }
        for (queue, offset) in committing { queue.committedOffset = offset }
        for running in tasks.values { try RocksDBTransactions.commit(under: directory(of: running.task.id)) }
        try producer.beginTransaction()
        let closing = Set(checkpointing.map { ObjectIdentifier($0) })
        try writeCheckpoints(
            checkpointing + tasks.values.filter {
                !closing.contains(ObjectIdentifier($0)) && $0.task.state.changelogWritesSinceCheckpoint >= Self.checkpointInterval
            })
    }

    /// A task's state directory, `<state.dir>/<application.id>/<task>`.
    private func directory(of id: TaskID) -> String { "\(config.stateDir)/\(config.applicationID)/\(id)" }

    /// Aborts the open transaction. Its writes are in the record caches, in-memory stores and
    /// RocksDB's kept-apart batches, never in RocksDB itself: the tasks close without writing
    /// anything through, reopen from their checkpoints, restore from the changelogs
    /// (`read_committed`: without the aborted writes) and are fed again from the committed offsets.
    private func abortAndRebuild(_ cause: TransactionError) throws {
        logger.warning("Aborting the transaction (\(cause)); restoring tasks \(tasks.keys.sorted().map(\.description))")
        try producer.abortTransaction(timeoutMs: 60_000)
        _ = producer.takeDeliveryFailures()
        let partitions = Array(taskByPartition.keys)
        for running in Array(tasks.values) + Array(suspended.values) {
            telemetry.report(task: running.task.id, running.task.state.metrics)
            closedTaskMetrics.add(running.task.state.metrics)
            RocksDBTransactions.discard(under: directory(of: running.task.id))
            running.task.closeDirty()
        }
        tasks.removeAll()
        suspended.removeAll()
        taskByPartition.removeAll()
        try producer.beginTransaction()
        _ = try assign(partitions)
        let committed = try consumer.committed(partitions, timeoutMs: 10_000)
        try consumer.seek(
            Dictionary(uniqueKeysWithValues: partitions.map { ($0, committed[$0].map { $0.offset >= 0 ? $0.offset : -2 } ?? -2) }),
            timeoutMs: 10_000)
    }

    // MARK: - Restore and checkpoints

    /// A changelog partition being restored.
    private struct Restoring {
        let task: StreamTask
        let changelog: ChangelogPartition
        let end: Int64
        var position: Int64
        var restored: Int64 = 0
    }

    /// Fills the logged stores of `tasks` from their changelogs, from each checkpoint (or the
    /// beginning) to the end, before the tasks process anything. Every changelog partition is read at
    /// once, through one assignment of the restore consumer.
    private func restore(_ tasks: [StreamTask]) throws {
        var pending: [TopicPartition: Restoring] = [:]
        var total: Int64 = 0
        for task in tasks {
            for changelog in task.changelogPartitions {
                let partition = TopicPartition(topic: changelog.topic, partition: changelog.partition)
                let (low, high) = try restoreConsumer.watermarks(partition, timeoutMs: 30_000)
                var start = low
                if let checkpoint = task.restoreStartOffset(changelog) {
                    if checkpoint < low || checkpoint > high {
                        // Another cluster's changelog, or one truncated past the checkpoint.
                        logger.warning(
                            "State store '\(changelog.store)' of task \(task.id) is checkpointed at offset \(checkpoint), outside its changelog \(partition) (offsets \(low) to \(high)); wiping it to restore it")
                        try task.reset(changelog)
                    } else {
                        start = checkpoint
                    }
                }
                guard start < high else { continue }
                logger.info(
                    "Restoring state store '\(changelog.store)' of task \(task.id) from \(partition): \(high - start) records",
                    metadata: ["task": "\(task.id)", "topic": "\(partition.topic)", "partition": "\(partition.partition)"])
                restoreListener?.onRestoreStart(partition, store: changelog.store, startOffset: start, endOffset: high)
                pending[partition] = Restoring(task: task, changelog: changelog, end: high, position: start)
                total += high - start
            }
        }
        guard !pending.isEmpty else { return }
        try restoreConsumer.assign(pending.mapValues(\.position))
        defer { try? restoreConsumer.assign([:]) }
        let began = ContinuousClock.now
        var lastProgress = ContinuousClock.now
        var lastLog = ContinuousClock.now
        var done: Int64 = 0
        while !pending.isEmpty {
            let batch = try restoreConsumer.poll(max: 10_000, timeoutMs: 200)
            if batch.isEmpty {
                try finishRestoresPastTheirEnd(&pending)
                if ContinuousClock.now - lastProgress > .seconds(60), let stalled = pending.first {
                    throw StateStoreError(
                        store: stalled.value.changelog.store,
                        message: "restore from \(stalled.key) stalled at offset \(stalled.value.position) of \(stalled.value.end)")
                }
                continue
            }
            lastProgress = .now
            var byPartition: [TopicPartition: [RawRecord]] = [:]
            for record in batch {
                byPartition[TopicPartition(topic: record.topic, partition: record.partition), default: []].append(record)
            }
            for (partition, records) in byPartition {
                guard var entry = pending[partition] else { continue }
                let within = records.filter { $0.offset >= entry.position && $0.offset < entry.end }
                guard let last = within.last else { continue }
                try entry.task.restore(entry.changelog, within)
                try RocksDBTransactions.commit(under: directory(of: entry.task.id))  // restored writes are committed ones
                entry.restored += Int64(within.count)
                done += Int64(within.count)
                telemetry.restoredRecords.increment(by: within.count)
                telemetry.restoreRemaining.record(total - done)
                entry.position = last.offset + 1
                restoreListener?.onBatchRestored(
                    partition, store: entry.changelog.store, batchEndOffset: entry.position, restored: Int64(within.count))
                if entry.position >= entry.end {
                    pending[partition] = nil
                    logger.debug("Restored state store '\(entry.changelog.store)' of task \(entry.task.id) from \(partition): \(entry.restored) records")
                    restoreListener?.onRestoreEnd(partition, store: entry.changelog.store, restored: entry.restored)
                } else {
                    pending[partition] = entry
                }
            }
            try finishRestoresPastTheirEnd(&pending)
            if ContinuousClock.now - lastLog > .seconds(5) {
                lastLog = .now
                logger.info("Restoring: \(done) / \(total) records, \(Int(Double(done) / Self.seconds(since: began))) records/s")
            }
        }
        logger.info(
            "Restored \(done) records in \(String(format: "%.2f", Self.seconds(since: began))) s (\(Int(Double(done) / Self.seconds(since: began))) records/s)")
    }

    /// Ends the restores whose consumer position reached the changelog's end with no record to
    /// show for it: a changelog written in transactions ends with a marker the consumer skips.
    private func finishRestoresPastTheirEnd(_ pending: inout [TopicPartition: Restoring]) throws {
        guard !pending.isEmpty else { return }
        for (partition, position) in try restoreConsumer.positions(Array(pending.keys)) {
            guard let entry = pending[partition], position >= entry.end else { continue }
            pending[partition] = nil
            restoreListener?.onRestoreEnd(partition, store: entry.changelog.store, restored: entry.restored)
        }
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = (ContinuousClock.now - start).components
        return max(Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18, 1e-6)
    }

    /// After a commit: flushes the stores of `tasks` and records the changelog offsets their
    /// persistent stores hold.
    private func writeCheckpoints(_ tasks: [RunningTask]) throws {
        for running in tasks {
            try running.task.flush()
            running.task.state.changelogWritesSinceCheckpoint = 0
            let partitions = running.task.checkpointedChangelogPartitions
            guard !partitions.isEmpty else { continue }
            var offsets: [ChangelogPartition: Int64] = [:]
            for changelog in partitions {
                let partition = TopicPartition(topic: changelog.topic, partition: changelog.partition)
                offsets[changelog] = try restoreConsumer.watermarks(partition, timeoutMs: 30_000).high
            }
            try running.task.writeCheckpoint(offsets)
        }
    }

    // MARK: - Rebalance

    /// Tasks whose partitions were revoked, kept open (stores, positions) until the next assignment:
    /// those it brings back resume where they stopped, with no restore and nothing processed twice;
    /// the others close then.
    private var suspended: [TaskID: RunningTask] = [:]

    /// Creates, resumes or extends the tasks of `partitions`; returns where to read the partitions
    /// of resumed tasks (their processed offsets, which a commit refused mid-rebalance may not have stored).
    private func assign(_ partitions: [TopicPartition]) throws -> [TopicPartition: Int64] {
        setState(.partitionsAssigned)
        var created: [RunningTask] = []
        var positions: [TopicPartition: Int64] = [:]
        var resumed: [TaskID] = []
        for partition in partitions {
            guard let subtopology = subtopologyByTopic[partition.topic] else { continue }
            let id = TaskID(subtopology: subtopology, partition: partition.partition)
            let running: RunningTask
            if let existing = tasks[id] {
                running = existing
            } else if let suspendedTask = suspended.removeValue(forKey: id), try canResume(suspendedTask) {
                running = suspendedTask
                tasks[id] = suspendedTask
                resumed.append(id)
            } else {
                standby?.release(id)
                let task = try StreamTask(
                    topology: topology, subtopology: subtopology, partition: partition.partition, config: config,
                    collector: collector, wallClock: { Int64(Date().timeIntervalSince1970 * 1000) }, logger: logger,
                    stateDirectory: directory(of: id),
                    persistentStores: .rocksDB, cache: cache, globalStores: globalStores, rebuildUncheckpointed: true)
                running = RunningTask(task: task)
                tasks[id] = running
                created.append(running)
            }
            let queue = running.group.add(partition)
            taskByPartition[partition] = (running, queue)
            if let offset = queue.processedOffset { positions[partition] = offset }
        }
        closeSuspendedTasks()
        if !partitions.isEmpty {
            let committed = try consumer.committed(partitions, timeoutMs: 10_000)
            for (partition, position) in committed {
                guard let (running, queue) = taskByPartition[partition] else { continue }
                if let time = StreamTimeMetadata.decode(position.metadata) {
                    running.task.state.streamTime = max(running.task.state.streamTime, time)
                }
                if position.offset >= 0 && queue.committedOffset == nil { queue.committedOffset = position.offset }
            }
        }
        try restore(created.map(\.task))
        for running in created { try running.task.initialize() }
        logger.info(
            "Assigned \(partitions.count) partitions; running tasks \(tasks.keys.sorted().map(\.description)) (resumed \(resumed.sorted().map(\.description)))")
        tasksChanged()
        setState(.running)
        return positions
    }

    /// Whether a suspended task may go on from its own stores and positions: nobody has committed
    /// its input further, nor written to its changelogs, since it was suspended. Otherwise it closes
    /// (and a new task restores).
    private func canResume(_ running: RunningTask) throws -> Bool {
        let inputs = running.group.queues.map(\.partition)
        for (partition, position) in try consumer.committed(inputs, timeoutMs: 10_000) where position.offset >= 0 {
            let processed = running.group.queues.first { $0.partition == partition }?.processedOffset ?? -1
            if position.offset > processed { return suspendedTaskChanged(running, "\(partition) committed further") }
        }
        for (partition, end) in running.changelogEndsWhenSuspended {
            if try restoreConsumer.watermarks(partition, timeoutMs: 30_000).high != end {
                return suspendedTaskChanged(running, "changelog \(partition) written by another member")
            }
        }
        return true
    }

    private func suspendedTaskChanged(_ running: RunningTask, _ why: String) -> Bool {
        logger.info("Suspended task \(running.task.id) can't resume (\(why)); closing it to restore it")
        close(running)
        return false
    }

    /// Closes the tasks of partitions this consumer lost (no commit: their new owner has them).
    private func lose(_ partitions: [TopicPartition]) {
        setState(.partitionsRevoked)
        let affected = Set(partitions.compactMap { taskByPartition[$0]?.task.task.id }).compactMap { tasks[$0] }
        for partition in partitions { taskByPartition[partition] = nil }
        for running in affected {
            tasks[running.task.id] = nil
            close(running)
        }
        tasksChanged()
        logger.warning("Lost \(partitions.count) partitions (the group went on without this member); closed their tasks")
    }

    /// Commits and checkpoints the tasks of `partitions`, then suspends those that lost all their
    /// partitions (what they had fetched and not processed is dropped: it is fetched again).
    private func revoke(_ partitions: [TopicPartition]) throws {
        setState(.partitionsRevoked)
        let affected = Set(partitions.compactMap { taskByPartition[$0]?.task.task.id }).compactMap { tasks[$0] }
        try commit(affected, checkpoint: true)
        for partition in partitions { taskByPartition[partition] = nil }
        for running in affected {
            let kept = running.group.queues.filter { taskByPartition[$0.partition] != nil }
            if kept.isEmpty {
                running.group.dropBuffered()
                tasks[running.task.id] = nil
                suspended[running.task.id] = running
                var ends: [TopicPartition: Int64] = [:]
                for changelog in running.task.changelogPartitions {
                    let partition = TopicPartition(topic: changelog.topic, partition: changelog.partition)
                    ends[partition] = try restoreConsumer.watermarks(partition, timeoutMs: 30_000).high
                }
                running.changelogEndsWhenSuspended = ends
            } else {
                for queue in running.group.queues where taskByPartition[queue.partition] == nil {
                    running.group.remove(queue.partition)
                }
            }
        }
        tasksChanged()
        logger.info("Revoked \(partitions.count) partitions; suspended tasks \(suspended.keys.sorted().map(\.description))")
    }

    /// Closes a task; with `keepWarm`, the instance's standby follows its changelogs from now on.
    private func close(_ running: RunningTask, keepWarm: Bool = true) {
        telemetry.report(task: running.task.id, running.task.state.metrics)
        telemetry.taskClosed(running.task.id)
        closedTaskMetrics.add(running.task.state.metrics)
        running.task.close()
        if keepWarm { standby?.adopt(running.task.id) }
    }

    private func closeSuspendedTasks(keepWarm: Bool = true) {
        for running in suspended.values { close(running, keepWarm: keepWarm) }
        suspended.removeAll()
    }

    private func closeAllTasks() {
        publishMetrics()
        for running in tasks.values { close(running, keepWarm: false) }
        closeSuspendedTasks(keepWarm: false)
        tasks.removeAll()
        taskByPartition.removeAll()
        tasksChanged()
    }

    /// Counters of tasks this thread has closed.
    private var closedTaskMetrics = TaskMetrics()
    private let publishedMetrics = Mutex(TaskMetrics())

    /// The thread's counters, as of its last loop iteration; safe from any thread.
    var metrics: TaskMetrics { publishedMetrics.withLock { $0 } }

    private func publishMetrics() {
        var sum = closedTaskMetrics
        for running in tasks.values {
            sum.add(running.task.state.metrics)
            telemetry.report(task: running.task.id, running.task.state.metrics)
        }
        telemetry.reportProducer(dropped: collector.dropped, deadLettered: collector.deadLettered)
        sum.droppedRecords += collector.dropped
        sum.deadLetterRecords += collector.deadLettered
        publishedMetrics.withLock { $0 = sum }
    }
}

/// Stream time kept in committed offsets' metadata, so windows behave the same across restarts.
enum StreamTimeMetadata {
    static func encode(_ streamTime: Int64) -> String? { streamTime >= 0 ? "rill:st=\(streamTime)" : nil }

    static func decode(_ metadata: String?) -> Int64? {
        guard let metadata, metadata.hasPrefix("rill:st=") else { return nil }
        return Int64(metadata.dropFirst("rill:st=".count))
    }
}
