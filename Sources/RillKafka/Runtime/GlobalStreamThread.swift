import Foundation
import Logging
import Rill
import RillRocksDB
import Synchronization

/// Keeps the global tables of an application instance: at start it reads every partition of their
/// topics from the beginning to the end into the stores (before any task processes), then a thread
/// of its own applies what arrives until the instance closes.
final class GlobalStreamThread: @unchecked Sendable {
    private let tables: [GlobalTableDefinition]
    private let consumer: KafkaConsumer
    private let logger: Logger
    /// The stores by name, handed to every task.
    let stores: [String: any StateStore]
    private let storesByTopic: [String: (definition: GlobalTableDefinition, store: any StateStore)]
    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let failure = Mutex<Error?>(nil)

    /// Opens the stores (wiped: the topics are their log, read whole at every start).
    init(topology: Topology, config: StreamsConfig, consumerConfig: KafkaClientConfig, logger: Logger) throws {
        tables = topology.globalTables
        var globalLogger = logger
        globalLogger[metadataKey: "thread"] = "\(config.applicationID)-GlobalStreamThread"
        self.logger = globalLogger
        var consumerConfig = consumerConfig
        consumerConfig["client.id"] = "\(config.applicationID)-global-consumer"
        consumer = try KafkaConsumer(config: consumerConfig, logger: globalLogger)
        var stores: [String: any StateStore] = [:]
        var byTopic: [String: (GlobalTableDefinition, any StateStore)] = [:]
        for table in tables {
            let name = table.storeBuilder.name
            let directory = "\(config.stateDir)/\(config.applicationID)/global/\(name)"
            try? FileManager.default.removeItem(atPath: directory)
            let store = try table.openStore(directory: directory, persistentStores: .rocksDB)
            stores[name] = store
            byTopic[table.topic] = (table, store)
        }
        self.stores = stores
        storesByTopic = byTopic
    }

    /// Reads every partition of the global topics to its end, then starts following them.
    func start(timeoutMs: Int32) throws {
        var ends: [TopicPartition: Int64] = [:]
        var assignment: [TopicPartition: Int64] = [:]
        for table in tables {
            guard let count = try consumer.partitionCount(topic: table.topic, timeoutMs: timeoutMs) else {
                throw RuntimeError.missingSourceTopics([table.topic], servers: "")
            }
            for partition in 0..<count {
                let topicPartition = TopicPartition(topic: table.topic, partition: partition)
                let (_, high) = try consumer.watermarks(topicPartition, timeoutMs: timeoutMs)
                assignment[topicPartition] = -2
                if high > 0 { ends[topicPartition] = high }
            }
        }
        try consumer.assign(assignment)
        let total = ends.values.reduce(0, +)
        logger.info("Restoring global tables \(tables.map(\.storeBuilder.name)): up to \(total) records")
        var lastProgress = ContinuousClock.now
        while !ends.isEmpty {
            let records = try consumer.poll(max: 10_000, timeoutMs: 200)
            if records.isEmpty {
                if ContinuousClock.now - lastProgress > .seconds(60), let stalled = ends.first {
                    throw StateStoreError(store: stalled.key.topic, message: "global table restore from \(stalled.key) stalled")
                }
                continue
            }
            lastProgress = .now
            try apply(records)
            for record in records {
                let partition = TopicPartition(topic: record.topic, partition: record.partition)
                if let end = ends[partition], record.offset + 1 >= end { ends[partition] = nil }
            }
        }
        logger.info("Global tables restored")
        Thread { [self] in follow() }.start()
    }

    private func apply(_ records: [RawRecord]) throws {
        for record in records {
            guard let table = storesByTopic[record.topic] else { continue }
            try table.definition.apply(table.store, record)
        }
    }

    private func follow() {
        defer { finished.signal() }
        while !stopRequested.load(ordering: .relaxed) {
            do {
                try apply(try consumer.poll(max: 10_000, timeoutMs: 100))
            } catch {
                logger.error("Global thread failed: \(error)")
                failure.withLock { $0 = error }
                return
            }
        }
    }

    /// The error that stopped the thread, if any.
    var error: Error? { failure.withLock { $0 } }

    func stop(timeout: Duration) {
        stopRequested.store(true, ordering: .relaxed)
        _ = finished.wait(timeout: .now() + .milliseconds(Int(timeout.wholeMilliseconds)))
        consumer.close()
        for store in stores.values { store.close() }
    }
}
