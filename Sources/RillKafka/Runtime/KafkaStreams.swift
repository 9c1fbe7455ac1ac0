import CRdKafka
import CoreMetrics
import Foundation
import Logging
import Rill
import RillRocksDB
import ServiceLifecycle
import Synchronization

/// Runs a ``Topology`` on Kafka: stream threads consume the input partitions of this worker's share
/// of the application's consumer group, process them task by task, produce to sinks, and commit.
///
/// ```swift
/// var config = StreamsConfig(applicationID: "calls-app", bootstrapServers: "localhost:9092")
/// let streams = try KafkaStreams(topology, config: config)
/// try streams.start()
/// // ...
/// streams.close()
/// ```
/// Or `try await streams.run()`, which returns after a graceful shutdown (task cancellation closes it).
/// It is a swift-service-lifecycle `Service`, so a `ServiceGroup` can run it and shut it down on SIGTERM:
///
/// ```swift
/// let group = ServiceGroup(services: [streams], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
public final class KafkaStreams: Service, @unchecked Sendable {
    /// The lifecycle, as Kafka Streams': `created → rebalancing ⇄ running → pendingShutdown → notRunning`,
    /// or `pendingError → error` when a stream thread fails.
    public enum State: String, Sendable {
        case created, rebalancing, running, pendingShutdown, notRunning, pendingError, error

        var isTerminal: Bool { self == .notRunning || self == .error }
    }

    /// What to do when a stream thread stops on an error, as Kafka Streams'
    /// `StreamsUncaughtExceptionHandler` answers.
    public enum StreamThreadExceptionResponse: Sendable {
        /// Start a new stream thread in its place. The failed thread's tasks go back to the group
        /// and resume from their last commit (at least once); the other threads go on.
        case replaceThread
        /// Stop this instance: the other threads commit and close, and the state becomes `error`.
        /// The default.
        case shutdownClient
        /// Stop every instance of the application: this one as `shutdownClient`, and the others,
        /// with a ``RuntimeError/applicationShutdownRequested(reason:)`` error, when they see the
        /// request on the topic `<application.id>-rill-shutdown`.
        case shutdownApplication
    }

    public let topology: Topology
    public let config: StreamsConfig
    private let logger: Logger
    private let consumerConfig: KafkaClientConfig
    private let producerConfig: KafkaClientConfig
    private let adminConfig: KafkaClientConfig

    private struct Shared {
        var state: State = .created
        var threads: [StreamThread] = []
        var globalThread: GlobalStreamThread?
        var failure: Error?
        var listener: (@Sendable (State, State) -> Void)?
        var restoreListener: (any StateRestoreListener)?
        var waiters: [CheckedContinuation<Void, Never>] = []
        var exceptionHandler: (@Sendable (Error) -> StreamThreadExceptionResponse)?
        var shutdownChannel: ApplicationShutdownChannel?
        /// Makes the stream thread of an index (set by `start()`), and the next index to use.
        var makeThread: ThreadFactory?
        var standby: StandbyTasks?
        var nextThreadIndex = 0
        /// Where the instances run which tasks, when `application.server` is set.
        var directory: InstanceDirectory?
        /// The task count of each sub-topology, once started: where a key's task is.
        var taskCounts: [Int: Int32] = [:]
    }
    private let shared = Mutex(Shared())

    /// Makes the stream thread of an index; used on the thread that failed, so it crosses threads.
    private struct ThreadFactory: @unchecked Sendable {
        let make: (Int) throws -> StreamThread
    }

    private let metricsFactory: MetricsFactory

    /// librdkafka consumer properties Rill sets for throughput unless the configuration names them
    /// (`consumer.` prefix, or none).
    ///
    /// `queued.min.messages`: librdkafka 2.0 stops fetching a partition while the queue it feeds
    /// holds this many messages, and every assigned partition feeds the one consumer queue, so the
    /// default 100,000 bounds the whole queue; a stream thread drains it faster than fetching
    /// resumes, and spent most of the passthrough benchmark waiting for input (159 k rec/s; 320 k
    /// with 250,000, 520-570 k with 500,000). More costs memory: about 300 bytes per small
    /// record queued (a windowed count over 5,000,000 keys peaked at 241 MiB with 250,000, 325 MiB
    /// with 500,000 and 460 MiB with 1,000,000), beside `queued.max.messages.kbytes` (64 MiB of payload).
    public static let consumerDefaults: [String: String] = ["queued.min.messages": "500000"]

    /// librdkafka producer properties Rill sets unless the configuration names them.
    public static let producerDefaults: [String: String] = ["linger.ms": "5"]

    /// Checks the topology and the configuration; a client property librdkafka rejects is an error naming it.
    /// Metrics (see the `rill_` labels in the README) go to `metricsFactory`, by default the one the
    /// process bootstrapped with `MetricsSystem.bootstrap`.
    public init(
        _ topology: Topology, config: StreamsConfig, logger: Logger = Logger(label: "rill"),
        metricsFactory: MetricsFactory = MetricsSystem.factory
    ) throws {
        try topology.validate()
        guard !config.applicationID.isEmpty else {
            throw RuntimeError.invalidClientProperty(key: "application.id", reason: "is required")
        }
        guard !config.bootstrapServers.isEmpty else {
            throw RuntimeError.invalidClientProperty(key: "bootstrap.servers", reason: "is required")
        }
        self.topology = topology
        self.config = config
        self.logger = logger
        self.metricsFactory = metricsFactory

        var common: [String: String] = ["bootstrap.servers": config.bootstrapServers]
        var consumer: [String: String] = [
            "group.id": config.applicationID,
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "auto.offset.reset": "earliest",
            // Range gives every member the same partition numbers of equally partitioned topics, so a
            // task's co-partitioned partitions reach one consumer.
            "partition.assignment.strategy": "range",
        ].merging(Self.consumerDefaults) { own, _ in own }
        var producer = Self.producerDefaults
        if config.processingGuarantee == .exactlyOnceV2 {
            // Inputs, changelogs (restore) and global tables are read without aborted writes.
            consumer["isolation.level"] = "read_committed"
        }
        for (key, value) in config.clientProperties {
            if key.hasPrefix("consumer.") {
                consumer[String(key.dropFirst("consumer.".count))] = value
            } else if key.hasPrefix("producer.") {
                producer[String(key.dropFirst("producer.".count))] = value
            } else if key.hasPrefix("admin.") {
                continue
            } else {
                common[key] = value
            }
        }
        for key in ["partition.assignment.strategy", "consumer.partition.assignment.strategy"] {
            if let strategy = config.clientProperties[key], strategy != "range" {
                throw RuntimeError.invalidClientProperty(
                    key: key,
                    reason: "must be range, not '\(strategy)': the range assignor keeps the partitions a task reads (the same partition number of each co-partitioned topic) on one consumer; another could split them")
            }
        }
        consumerConfig = KafkaClientConfig(common.merging(consumer) { _, new in new })
        producerConfig = KafkaClientConfig(common.merging(producer) { _, new in new })
        adminConfig = KafkaClientConfig(common)
        try Self.validate(consumerConfig.properties, producerConfig.properties)
    }

    // MARK: - State

    /// The current state.
    public var state: State { shared.withLock { $0.state } }

    /// The error that stopped the application, when ``state`` is `error`.
    public var failure: Error? { shared.withLock { $0.failure } }

    /// Called with `(new, old)` on every state change, from the thread that caused it.
    public func setStateListener(_ listener: @escaping @Sendable (State, State) -> Void) {
        shared.withLock { $0.listener = listener }
    }

    /// Told about every store restore; set before ``start()``.
    public func setGlobalStateRestoreListener(_ listener: any StateRestoreListener) {
        shared.withLock { $0.restoreListener = listener }
    }

    /// Decides what happens when a stream thread stops on an error (default: `shutdownClient`);
    /// called on the failed thread. Set it before ``start()``.
    ///
    /// ```swift
    /// streams.setUncaughtExceptionHandler { error in
    ///     error is TransientGlitch ? .replaceThread : .shutdownApplication
    /// }
    /// ```
    public func setUncaughtExceptionHandler(_ handler: @escaping @Sendable (Error) -> StreamThreadExceptionResponse) {
        shared.withLock { $0.exceptionHandler = handler }
    }

    /// The stream threads running now.
    var streamThreads: [StreamThread] { shared.withLock { $0.threads } }

    /// What routing a key needs: the sub-topologies' task counts (empty until started), the
    /// instance directory (with `application.server`) and the stream threads.
    var routing: (taskCounts: [Int: Int32], directory: InstanceDirectory?, threads: [StreamThread]) {
        shared.withLock { ($0.taskCounts, $0.directory, $0.threads) }
    }

    /// Records processed, dropped and dead-lettered so far, over all threads.
    public var metrics: (processed: Int64, dropped: Int64, deadLettered: Int64) {
        let threads = shared.withLock { $0.threads }
        var sum = TaskMetrics()
        for thread in threads { sum.add(thread.metrics) }
        return (sum.processedRecords, sum.droppedRecords, sum.deadLetterRecords)
    }

    @discardableResult
    private func transition(to new: State, allowedFrom: Set<State>? = nil) -> Bool {
        var callback: (@Sendable (State, State) -> Void)?
        var old = State.created
        var waiters: [CheckedContinuation<Void, Never>] = []
        let changed = shared.withLock { shared -> Bool in
            old = shared.state
            if let allowedFrom, !allowedFrom.contains(old) { return false }
            guard old != new, !old.isTerminal || new == .error else { return false }
            shared.state = new
            callback = shared.listener
            if new.isTerminal {
                waiters = shared.waiters
                shared.waiters = []
            }
            return true
        }
        guard changed else { return false }
        logger.info("State transition from \(old.rawValue) to \(new.rawValue)")
        callback?(new, old)
        for waiter in waiters { waiter.resume() }
        return true
    }

    // MARK: - Lifecycle

    /// Connects, checks topics, creates internal topics and starts the stream threads.
    ///
    /// Fails with an error naming the bootstrap servers when no broker answers within
    /// `rill.startup.timeout.ms`, and naming the topics when an input or output topic is missing.
    public func start() throws {
        guard transition(to: .rebalancing, allowedFrom: [.created]) else {
            throw RuntimeError.illegalState("KafkaStreams can only start once, from created (it is \(state.rawValue))")
        }
        do {
            if config.processingGuarantee == .exactlyOnceV2 {
                // RocksDB stores keep each transaction's writes apart until it commits.
                RocksDBTransactions.enable(under: "\(config.stateDir)/\(config.applicationID)")
            }
            let standbyTasks = try prepareTopics()
            let directory = try config.applicationServer.map { server in
                try InstanceDirectory(
                    applicationID: config.applicationID, server: server, consumerConfig: consumerConfig,
                    producerConfig: producerConfig, logger: logger)
            }
            shared.withLock { $0.directory = directory }
            try directory?.start()
            // A thread's claims are keyed by where it answers and its name: a restart replaces them.
            let member = "\(config.applicationServer?.description ?? "")/"
            var globalStores: [String: any StateStore] = [:]
            if !topology.globalTables.isEmpty {
                let global = try GlobalStreamThread(
                    topology: topology, config: config, consumerConfig: consumerConfig, logger: logger)
                shared.withLock { $0.globalThread = global }
                try global.start(timeoutMs: Int32(clamping: config.startupTimeoutMs))
                globalStores = global.stores
            }
            let channel = try ApplicationShutdownChannel(
                applicationID: config.applicationID, consumerConfig: consumerConfig, producerConfig: producerConfig,
                logger: logger)
            shared.withLock { $0.shutdownChannel = channel }
            try channel.start(timeoutMs: Int32(clamping: config.startupTimeoutMs)) { [weak self] reason in
                self?.applicationShutdownRequested(reason: reason)
            }
            var standby: StandbyTasks?
            if config.numStandbyReplicas > 0, !standbyTasks.isEmpty {
                standby = try StandbyTasks(
                    tasks: standbyTasks, topology: topology, config: config, consumerConfig: consumerConfig, logger: logger,
                    globalStores: globalStores)
                shared.withLock { $0.standby = standby }
                standby?.start()
            }
            let restoreListener = shared.withLock { $0.restoreListener }
            let barrier = ShutdownBarrier(parties: max(1, config.numStreamThreads))
            let makeThread = { [unowned self] (index: Int) throws -> StreamThread in
                try StreamThread(
                    index: index, topology: topology, config: config, consumerConfig: consumerConfig,
                    producerConfig: producerConfig, logger: logger, restoreListener: restoreListener,
                    globalStores: globalStores, shutdownBarrier: barrier, metricsFactory: metricsFactory, standby: standby,
                    onStateChange: { [weak self] _, _ in self?.threadStateChanged() },
                    onFailure: { [weak self] thread, error in self?.threadFailed(thread, error) },
                    onTasksChanged: { thread, tasks in
                        if tasks.isEmpty {
                            directory?.withdraw(member: member + thread.name)
                        } else {
                            directory?.publish(member: member + thread.name, tasks: tasks)
                        }
                    })
            }
            let threads = try (0..<max(1, config.numStreamThreads)).map(makeThread)
            shared.withLock {
                $0.threads = threads
                $0.makeThread = ThreadFactory { index in
                    barrier.join()
                    return try makeThread(index)
                }
                $0.nextThreadIndex = threads.count
            }
            for thread in threads { thread.start() }
        } catch {
            shared.withLock { $0.failure = error }
            transition(to: .error)
            throw error
        }
    }

    /// Stops processing: each thread commits what it processed, closes its tasks and leaves the group.
    /// Returns false when some thread did not stop within `timeout`.
    @discardableResult
    public func close(timeout: Duration = .seconds(30)) -> Bool {
        let threads = shared.withLock { $0.threads }
        if state == .created {
            transition(to: .notRunning)
            return true
        }
        transition(to: .pendingShutdown, allowedFrom: [.rebalancing, .running])
        shared.withLock { $0.standby }?.stop()
        for thread in threads { thread.requestStop() }
        var allStopped = true
        for thread in threads where !thread.awaitStop(timeout: timeout) {
            logger.warning("Stream thread \(thread.name) did not stop within \(timeout)")
            allStopped = false
        }
        shared.withLock { $0.globalThread }?.stop(timeout: timeout)
        shared.withLock { $0.shutdownChannel }?.stop()
        shared.withLock { $0.directory }?.stop()
        if state == .pendingShutdown { transition(to: .notRunning) }
        return allStopped
    }

    /// Starts (if not started) and runs until closed; throws the error that stopped it, if any.
    /// A graceful shutdown (a `ServiceGroup`'s, on a signal) or cancelling the calling task closes
    /// the application: tasks commit and close, within `close`'s default timeout.
    public func run() async throws {
        if state == .created { try start() }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let done = shared.withLock { shared -> Bool in
                        if shared.state.isTerminal { return true }
                        shared.waiters.append(continuation)
                        return false
                    }
                    if done { continuation.resume() }
                }
            } onCancel: {
                Thread { [self] in close() }.start()
            }
        } onGracefulShutdown: {
            Thread { [self] in close() }.start()
        }
        if let failure = self.failure, state == .error { throw failure }
    }

    private func threadStateChanged() {
        let (threads, current) = shared.withLock { ($0.threads, $0.state) }
        guard current == .rebalancing || current == .running else { return }
        let states = threads.map(\.state)
        if !states.isEmpty, states.allSatisfy({ $0 == .running }) {
            transition(to: .running)
        } else if states.contains(where: { $0 == .starting || $0 == .partitionsRevoked || $0 == .partitionsAssigned }) {
            transition(to: .rebalancing)
        }
    }

    private func threadFailed(_ failed: StreamThread, _ error: Error) {
        let failure = RuntimeError.streamThreadDied(thread: failed.name, reason: "\(error)")
        let (handler, current) = shared.withLock { ($0.exceptionHandler, $0.state) }
        let response = handler?(error) ?? .shutdownClient
        if response == .replaceThread, current == .running || current == .rebalancing {
            do {
                try replace(failed)
                return
            } catch {
                logger.error("Could not replace stream thread \(failed.name): \(error)")
            }
        }
        if response == .shutdownApplication {
            logger.error("Asking every instance of application '\(config.applicationID)' to shut down: \(failure)")
            do {
                try shared.withLock { $0.shutdownChannel }?.requestShutdown(reason: "\(failure)")
            } catch {
                logger.error("Could not ask the other instances to shut down: \(error)")
            }
        }
        shutDownOnError(failure, except: failed)
    }

    /// Starts a new stream thread in place of `failed` (which has closed its tasks and left the group).
    private func replace(_ failed: StreamThread) throws {
        let (factory, index) = shared.withLock { shared -> (ThreadFactory?, Int) in
            defer { shared.nextThreadIndex += 1 }
            return (shared.makeThread, shared.nextThreadIndex)
        }
        guard let factory else { return }
        let replacement = try factory.make(index)
        shared.withLock { $0.threads = $0.threads.filter { $0 !== failed } + [replacement] }
        logger.warning("Replacing failed stream thread \(failed.name) with \(replacement.name)")
        replacement.start()
    }

    /// Another instance asked the application to shut down.
    private func applicationShutdownRequested(reason: String) {
        guard state == .running || state == .rebalancing else { return }  // shutting down already (maybe the asker)
        logger.error("Shutting down at the request of another instance: \(reason)")
        shutDownOnError(RuntimeError.applicationShutdownRequested(reason: reason), except: nil)
    }

    /// Records `failure`, stops every thread but `failed` (which is unwinding already) and ends in `error`.
    private func shutDownOnError(_ failure: Error, except failed: StreamThread?) {
        shared.withLock { if $0.failure == nil { $0.failure = failure } }
        guard transition(to: .pendingError, allowedFrom: [.rebalancing, .running, .pendingShutdown]) else { return }
        // Stop the others from another thread: the caller may be one of them.
        Thread { [self] in
            let threads = shared.withLock { $0.threads }
            shared.withLock { $0.standby }?.stop()
            for thread in threads where thread !== failed { thread.requestStop() }
            for thread in threads where thread !== failed { _ = thread.awaitStop(timeout: .seconds(30)) }
            shared.withLock { $0.globalThread }?.stop(timeout: .seconds(30))
            transition(to: .error)
        }.start()
    }

    // MARK: - Topics

    /// Checks and creates the topics; returns the tasks with persistent logged stores (what standbys keep).
    private func prepareTopics() throws -> [TaskID] {
        let admin = try KafkaAdmin(config: adminConfig, logger: logger)
        let timeout = Int32(clamping: config.startupTimeoutMs)
        let existing: [String: Int32]
        do {
            existing = try admin.listTopics(timeoutMs: timeout)
        } catch {
            throw RuntimeError.brokerUnreachable(
                servers: config.bootstrapServers, timeoutMs: config.startupTimeoutMs, reason: "\(error)")
        }
        let app = config.applicationID
        let internalNames = Set(topology.internalTopics.keys)
        let sources = topology.sourceTopics.filter { !internalNames.contains($0) } + topology.globalTables.map(\.topic)
        let missingSources = Array(Set(sources.filter { existing[$0] == nil })).sorted()
        guard missingSources.isEmpty else {
            throw RuntimeError.missingSourceTopics(missingSources, servers: config.bootstrapServers)
        }
        let sinks = topology.sinkTopics.filter { !internalNames.contains($0) }
        let missingSinks = Array(Set(sinks.filter { existing[$0] == nil })).sorted()
        guard missingSinks.isEmpty else {
            throw RuntimeError.missingSinkTopics(missingSinks, servers: config.bootstrapServers)
        }

        var wanted: [String: Int32] = [:]
        var configs: [String: [String: String]] = [:]
        let sourceCounts = Dictionary(uniqueKeysWithValues: sources.compactMap { t in existing[t].map { (t, $0) } })
        let internalCounts = topology.internalTopicPartitions(sourcePartitions: sourceCounts)
        for (name, count) in internalCounts {
            wanted["\(app)-\(name)"] = count
            configs["\(app)-\(name)"] = ["cleanup.policy": "delete"]  // every record must be read, none compacted away
        }
        // A changelog has one partition per task of the sub-topology that owns its store.
        let allCounts = sourceCounts.merging(internalCounts) { a, _ in a }
        try topology.checkCopartitioning(allCounts, applicationID: app)
        var persistentTasks: Set<TaskID> = []
        let taskCounts = Dictionary(uniqueKeysWithValues: topology.subtopologies.indices.map {
            ($0, topology.taskCount(ofSubtopology: $0, partitions: allCounts))
        })
        shared.withLock { $0.taskCounts = taskCounts }
        for (builder, _) in topology.stores where builder.loggingEnabled {
            guard let subtopology = topology.subtopology(ofStore: builder.name) else { continue }
            let topic = Topology.changelogTopic(store: builder.name, applicationID: app)
            let tasks = topology.taskCount(ofSubtopology: subtopology, partitions: allCounts)
            wanted[topic] = tasks
            configs[topic] = builder.changelogConfig
            if builder.persistent {
                for partition in 0..<tasks { persistentTasks.insert(TaskID(subtopology: subtopology, partition: partition)) }
            }
        }
        let maxSource = sourceCounts.values.max() ?? 1
        for topic in config.deadLetterTopics where existing[topic] == nil { wanted[topic] = maxSource }
        let provisioner = TopicProvisioner(
            admin: admin, bootstrapServers: config.bootstrapServers, logger: logger, timeoutMs: timeout)
        try provisioner.ensure(wanted, configs: configs, existing: existing, internalPrefix: app + "-")
        // Only its partition 0 is used: any partition count will do.
        let shutdownTopic = ApplicationShutdownChannel.topic(applicationID: app)
        try provisioner.ensure(
            [shutdownTopic: 1], configs: [shutdownTopic: ["retention.ms": "86400000"]], existing: existing,
            internalPrefix: nil)
        if config.applicationServer != nil {
            let directoryTopic = InstanceDirectory.topic(applicationID: app)
            try provisioner.ensure(
                [directoryTopic: 1], configs: [directoryTopic: ["cleanup.policy": "compact"]], existing: existing,
                internalPrefix: nil)
        }
        return persistentTasks.sorted()
    }

    /// Creates those of `topics` that don't exist yet with the partition count of `source` (how
    /// applications create their output and dead-letter topics before starting). Fails with
    /// ``RuntimeError/missingSourceTopics(_:servers:)`` when `source` does not exist.
    public static func createMissingTopics(
        _ topics: [String], partitionsOf source: String, config: StreamsConfig,
        logger: Logger = Logger(label: "rill.kafka.admin")
    ) throws {
        var properties = ["bootstrap.servers": config.bootstrapServers]
        for (key, value) in config.clientProperties where !key.hasPrefix("consumer.") && !key.hasPrefix("producer.") {
            properties[key.hasPrefix("admin.") ? String(key.dropFirst("admin.".count)) : key] = value
        }
        let admin = try KafkaAdmin(config: KafkaClientConfig(properties), logger: logger)
        let timeout = Int32(clamping: config.startupTimeoutMs)
        let existing: [String: Int32]
        do {
            existing = try admin.listTopics(timeoutMs: timeout)
        } catch {
            throw RuntimeError.brokerUnreachable(
                servers: config.bootstrapServers, timeoutMs: config.startupTimeoutMs, reason: "\(error)")
        }
        guard let partitions = existing[source] else {
            throw RuntimeError.missingSourceTopics([source], servers: config.bootstrapServers)
        }
        try TopicProvisioner(admin: admin, bootstrapServers: config.bootstrapServers, logger: logger, timeoutMs: timeout)
            .ensure(Dictionary(uniqueKeysWithValues: topics.map { ($0, partitions) }), configs: [:], existing: existing, internalPrefix: nil)
    }

    /// Sets every client property on a throwaway librdkafka configuration, so a bad key fails now, by name.
    private static func validate(_ configs: [String: String]...) throws {
        for properties in configs {
            guard let conf = rd_kafka_conf_new() else { continue }
            defer { rd_kafka_conf_destroy(conf) }
            var errstr = [CChar](repeating: 0, count: 512)
            for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
                let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
                if result != RD_KAFKA_CONF_OK {
                    var reason = String(decoding: errstr.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if StreamsConfig.isSecret(key), !value.isEmpty {
                        reason = reason.replacingOccurrences(of: value, with: "[redacted]")
                    }
                    throw RuntimeError.invalidClientProperty(key: key, reason: reason)
                }
            }
        }
    }
}
