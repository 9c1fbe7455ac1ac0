import Foundation
import Logging
import Rill
import RillRocksDB
import Synchronization

/// Warm copies of the persistent stores of tasks this instance does not run (`num.standby.replicas`):
/// a thread of its own follows their changelogs into the stores, in the tasks' own state
/// directories, and checkpoints them. When a stream thread here is given one of these tasks, it
/// takes the directory over and restores only what the standby had not applied yet.
///
/// librdkafka's C API has no custom assignor, so the group can't place standbys as Kafka Streams'
/// assignor does: each instance keeps every task with persistent logged stores that it does not
/// run. With two instances that is one standby per task; with more, more than asked for.
final class StandbyTasks: @unchecked Sendable {
    private let topology: Topology
    private let config: StreamsConfig
    private let logger: Logger
    private let consumer: KafkaConsumer
    private let globalStores: [String: any StateStore]

    private struct Standby {
        let task: StreamTask
        /// The next changelog offset to apply, per changelog partition.
        var positions: [ChangelogPartition: Int64]
    }

    private struct Shared {
        var standbys: [TaskID: Standby] = [:]
        /// Tasks a stream thread of this instance runs.
        var active: Set<TaskID> = []
        var stopped = false
        var applied: Int64 = 0
    }
    private let shared = Mutex(Shared())
    private let allTasks: [TaskID]
    private let finished = DispatchSemaphore(value: 0)

    init(
        tasks: [TaskID], topology: Topology, config: StreamsConfig, consumerConfig: KafkaClientConfig, logger: Logger,
        globalStores: [String: any StateStore]
    ) throws {
        allTasks = tasks
        self.topology = topology
        self.config = config
        var standbyLogger = logger
        standbyLogger[metadataKey: "thread"] = "\(config.applicationID)-StandbyThread"
        self.logger = standbyLogger
        var consumerConfig = consumerConfig
        consumerConfig["client.id"] = "\(config.applicationID)-standby-consumer"
        consumer = try KafkaConsumer(config: consumerConfig, logger: standbyLogger)
        self.globalStores = globalStores
    }

    /// Opens every task no stream thread has claimed yet and starts following their changelogs.
    func start() {
        for id in allTasks { open(id, claimed: false) }
        reassign()
        Thread { [self] in run() }.start()
    }

    /// Changelog records applied to standby stores so far.
    var appliedRecords: Int64 { shared.withLock { $0.applied } }

    /// The tasks kept as standbys now.
    var tasks: [TaskID] { shared.withLock { Array($0.standbys.keys) } }

    /// A stream thread here is about to run task `id`: its standby (if any) checkpoints what it
    /// applied and closes, handing over the directory.
    func release(_ id: TaskID) {
        shared.withLock { shared in
            shared.active.insert(id)
            guard let standby = shared.standbys.removeValue(forKey: id) else { return }
            checkpoint(standby)
            standby.task.closeStores(flushing: true)
        }
        reassign()
    }

    /// A stream thread here closed task `id`: keep its stores warm from now on.
    func adopt(_ id: TaskID) {
        if open(id, claimed: true) { reassign() }
    }

    /// Opens task `id` as a standby, unless a stream thread runs it; `claimed`: one ran it until now.
    @discardableResult
    private func open(_ id: TaskID, claimed: Bool) -> Bool {
        shared.withLock { shared -> Bool in
            if claimed { shared.active.remove(id) }
            guard !shared.stopped, !shared.active.contains(id), shared.standbys[id] == nil else { return false }
            do {
                let task = try StreamTask(
                    topology: topology, subtopology: id.subtopology, partition: id.partition, config: config,
                    collector: NoOutput(), wallClock: { 0 }, logger: logger,
                    stateDirectory: "\(config.stateDir)/\(config.applicationID)/\(id)", persistentStores: .rocksDB,
                    globalStores: globalStores, rebuildUncheckpointed: true)
                var positions: [ChangelogPartition: Int64] = [:]
                for changelog in task.checkpointedChangelogPartitions {
                    positions[changelog] = try start(of: changelog, in: task)
                }
                shared.standbys[id] = Standby(task: task, positions: positions)
                return true
            } catch {
                logger.warning("Could not keep a standby of task \(id): \(error)")
                return false
            }
        }
    }

    /// Where following `changelog` starts: the checkpoint when it lies within the changelog, else
    /// the beginning (the store is wiped).
    private func start(of changelog: ChangelogPartition, in task: StreamTask) throws -> Int64 {
        let partition = TopicPartition(topic: changelog.topic, partition: changelog.partition)
        let (low, high) = try consumer.watermarks(partition, timeoutMs: 30_000)
        if let checkpoint = task.restoreStartOffset(changelog) {
            if checkpoint >= low && checkpoint <= high { return checkpoint }
            try task.reset(changelog)
        }
        return low
    }

    private func reassign() {
        let assignment = shared.withLock { shared in
            var assignment: [TopicPartition: Int64] = [:]
            for standby in shared.standbys.values {
                for (changelog, position) in standby.positions {
                    assignment[TopicPartition(topic: changelog.topic, partition: changelog.partition)] = position
                }
            }
            return assignment
        }
        do {
            try consumer.assign(assignment)
        } catch {
            logger.warning("Standby consumer could not be assigned: \(error)")
        }
    }

    private func checkpoint(_ standby: Standby) {
        do {
            try standby.task.flush()
            try standby.task.writeCheckpoint(standby.positions)
        } catch {
            logger.warning("Could not checkpoint standby task \(standby.task.id): \(error)")
        }
    }

    private func run() {
        defer { finished.signal() }
        var lastCheckpoint = ContinuousClock.now
        while !shared.withLock({ $0.stopped }) {
            let records: [RawRecord]
            do {
                records = try consumer.poll(max: 10_000, timeoutMs: 200)
            } catch {
                logger.warning("Standby consumer: \(error)")
                continue
            }
            shared.withLock { shared in
                apply(records, to: &shared)
                if ContinuousClock.now - lastCheckpoint > .seconds(10) {
                    lastCheckpoint = .now
                    for standby in shared.standbys.values { checkpoint(standby) }
                }
            }
        }
    }

    private func apply(_ records: [RawRecord], to shared: inout Shared) {
        guard !records.isEmpty else { return }
        var byPartition: [TopicPartition: [RawRecord]] = [:]
        for record in records { byPartition[TopicPartition(topic: record.topic, partition: record.partition), default: []].append(record) }
        for (id, var standby) in shared.standbys {
            for (changelog, position) in standby.positions {
                guard let batch = byPartition[TopicPartition(topic: changelog.topic, partition: changelog.partition)] else { continue }
                let fresh = batch.filter { $0.offset >= position }
                guard let last = fresh.last else { continue }
                do {
                    try standby.task.restore(changelog, fresh)
                    try RocksDBTransactions.commit(under: "\(config.stateDir)/\(config.applicationID)/\(id)")
                    standby.positions[changelog] = last.offset + 1
                    shared.applied += Int64(fresh.count)
                } catch {
                    logger.warning("Standby task \(id) could not apply its changelog \(changelog): \(error)")
                }
            }
            shared.standbys[id] = standby
        }
    }

    /// Checkpoints and closes every standby.
    func stop() {
        shared.withLock { $0.stopped = true }
        _ = finished.wait(timeout: .now() + 5)
        shared.withLock { shared in
            for standby in shared.standbys.values {
                checkpoint(standby)
                standby.task.closeStores(flushing: true)
            }
            shared.standbys.removeAll()
        }
        consumer.close()
    }

    /// Standby tasks process nothing, so they never send anything.
    private final class NoOutput: RecordCollector {
        func send(topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers) throws {}
        func partitionCount(topic: String) throws -> Int32 { 1 }
    }
}
