import Foundation
import Logging

/// One sub-topology instantiated for one partition number: its nodes, its stream time, its punctuators.
///
/// The runtime and the test driver both run tasks; they differ only in where records come from,
/// where the collector sends them, and the clock.
package final class StreamTask {
    package let id: TaskID
    package let state: TaskState
    private let nodes: [AnyNode]
    private let sources: [String: SourceNodeBase]
    /// The source of the last record's topic (`state.recordTopic`): consecutive records mostly
    /// share a topic. Unmanaged, as `sources` keeps it alive, so that a record costs no reference
    /// counting here.
    @exclusivity(unchecked) private var lastSource: Unmanaged<SourceNodeBase>?
    /// The topics this task reads (resolved names).
    package let inputTopics: [String]
    private var closed = false

    /// The runtime's persistent stores for DSL tables.
    private let persistentStores: PersistentStoreFactory
    /// Holds the task's state directory while the task is open, if it has persistent stores.
    private var directory: TaskDirectory?
    /// The thread's record cache, for caching stores.
    private let cache: RecordCache?
    /// The task's stores in the topology's order, which is upstream first for DSL stores: flushing
    /// a cache forwards to stores further down, flushed after it.
    private var orderedStores: [any StateStore] = []

    /// Instantiates sub-topology `subtopology` of `topology` for `partition`. Its stores are opened
    /// here; persistent ones under `stateDirectory` (`<state.dir>/<application.id>/<task>`), which
    /// the task locks. With `rebuildUncheckpointed` (the runtime, whose changelogs are the truth), a
    /// persistent logged store that the checkpoint does not mention is wiped, to be rebuilt from its
    /// changelog; the test driver keeps no changelog from one driver to the next, so it keeps them.
    package init(
        topology: Topology, subtopology: Int, partition: Int32, config: StreamsConfig,
        collector: RecordCollector, wallClock: @escaping () -> Int64, logger: Logger, stateDirectory: String? = nil,
        persistentStores: PersistentStoreFactory = .inMemory, cache: RecordCache? = nil,
        globalStores: [String: any StateStore] = [:], rebuildUncheckpointed: Bool = false
    ) throws {
        self.cache = cache
        self.persistentStores = persistentStores
        let names = topology.subtopologies[subtopology]
        id = TaskID(subtopology: subtopology, partition: partition)
        var taskLogger = logger
        taskLogger[metadataKey: "task"] = "\(id)"
        state = TaskState(
            applicationID: config.applicationID, taskID: id, config: config, logger: taskLogger,
            collector: collector, wallClock: wallClock, internalTopics: Set(topology.internalTopics.keys))
        state.globalStores = globalStores
        // Children first (nodes were added parents first), so every node is made with its children.
        var childrenByParent: [String: [String]] = [:]
        for name in names {
            for parent in topology.node(named: name)?.parents ?? [] { childrenByParent[parent, default: []].append(name) }
        }
        var built: [String: AnyNode] = [:]
        var ordered: [AnyNode] = []
        var sources: [String: SourceNodeBase] = [:]
        var inputTopics: [String] = []
        for name in names.reversed() {
            guard let definition = topology.node(named: name) else { continue }
            let children = try (childrenByParent[name] ?? []).map { child -> AnyNode in
                guard let node = built[child] else { throw TopologyError.unknownParent(name, child: child) }
                return node
            }
            let node = try definition.make(NodeContext(task: state, children: children))
            if case .source(let topics) = definition.kind, let source = node as? SourceNodeBase {
                for topic in topics {
                    let resolved = state.resolveTopic(topic)
                    sources[resolved] = source
                    inputTopics.append(resolved)
                }
            }
            built[name] = node
            ordered.append(node)
        }
        self.nodes = ordered.reversed()
        self.sources = sources
        self.inputTopics = inputTopics
        try openStores(topology: topology, names: names, stateDirectory: stateDirectory, rebuildUncheckpointed: rebuildUncheckpointed)
    }

    /// The changelog partition of each logged store of this task.
    package private(set) var changelogPartitions: [ChangelogPartition] = []
    /// The offsets of the `.checkpoint` file found when the task opened (restore starts there).
    private var checkpointed: [String: Int64] = [:]
    /// The builders of the task's stores, by name, to reopen one.
    private var builders: [String: any StoreBuilder] = [:]

    private func openStores(topology: Topology, names: [String], stateDirectory: String?, rebuildUncheckpointed: Bool) throws {
        for name in names {
            if case .processor(let stores)? = topology.node(named: name)?.kind, !stores.isEmpty {
                state.storesByNode[name] = Set(stores)
            }
        }
        let needed = topology.stores.map(\.builder).filter { builder in
            state.storesByNode.values.contains { $0.contains(builder.name) }
        }
        if needed.contains(where: \.persistent) {
            guard let stateDirectory else {
                throw StateStoreError(store: needed.first { $0.persistent }?.name ?? "?", message: "persistent stores need a state directory")
            }
            directory = try TaskDirectory(path: stateDirectory)
        }
        if let directory {
            do {
                checkpointed = try OffsetCheckpoint(path: directory.checkpointPath).read()
            } catch {
                // Which store is behind is unknown: start every persistent store over from its changelog.
                state.logger.warning("\(error); wiping the stores of task \(id) to restore them from their changelogs")
                OffsetCheckpoint(path: directory.checkpointPath).delete()
                for builder in needed where builder.persistent { directory.wipe(builder.name) }
            }
        }
        do {
            for builder in needed {
                builders[builder.name] = builder
                if rebuildUncheckpointed, builder.persistent && builder.loggingEnabled, let directory,
                   checkpointed[changelogPartition(builder.name).description] == nil,
                   FileManager.default.fileExists(atPath: directory.storePath(builder.name))
                {
                    // Nothing says how far the store got: rebuild it from its changelog alone.
                    state.logger.info("State store '\(builder.name)' of task \(id) has no checkpoint; wiping it to restore it")
                    directory.wipe(builder.name)
                }
                let store = try open(builder)
                state.stores[builder.name] = store
                orderedStores.append(store)
            }
        } catch {
            closeStores()
            throw error
        }
    }

    private func changelogPartition(_ store: String) -> ChangelogPartition {
        ChangelogPartition(
            store: store, topic: Topology.changelogTopic(store: store, applicationID: state.applicationID), partition: id.partition)
    }

    private func open(_ builder: any StoreBuilder) throws -> any StateStore {
        var changelog: ChangeLogger?
        if builder.loggingEnabled {
            let partition = changelogPartition(builder.name)
            if !changelogPartitions.contains(partition) { changelogPartitions.append(partition) }
            changelog = ChangeLogger(topic: partition.topic, partition: partition.partition, task: state)
        }
        let context = StoreContext(
            directory: directory?.storePath(builder.name) ?? "", changelog: changelog,
            persistentStores: persistentStores, cache: cache,
            timestamp: { [unowned(unsafe) state] in state.streamTime })
        do {
            return try builder.build(context)
        } catch where builder.persistent && builder.loggingEnabled {
            // A store that can't be opened is rebuilt from its changelog.
            state.logger.warning("State store '\(builder.name)' of task \(id) could not be opened (\(error)); wiping it to restore it")
            directory?.wipe(builder.name)
            checkpointed = checkpointed.filter { !$0.key.hasPrefix(context.changelog?.topic ?? "\u{0}") }
            return try builder.build(context)
        }
    }

    /// Wipes the persistent store behind `partition` and opens it empty, to be restored from the
    /// start of its changelog: its checkpoint does not fit the changelog (another cluster's, or one
    /// truncated past it). Only before ``initialize()``, while no node holds the store.
    package func reset(_ partition: ChangelogPartition) throws {
        guard let builder = builders[partition.store], let index = orderedStores.firstIndex(where: { $0.name == partition.store })
        else { return }
        orderedStores[index].close()
        directory?.wipe(partition.store)
        checkpointed[partition.description] = nil
        let store = try open(builder)
        state.stores[partition.store] = store
        orderedStores[index] = store
    }

    /// The changelog partitions of persistent stores: the ones a checkpoint records.
    package var checkpointedChangelogPartitions: [ChangelogPartition] {
        changelogPartitions.filter { state.stores[$0.store]?.persistent == true }
    }

    /// Where restoring `partition` starts: the checkpointed offset of a persistent store, else the beginning.
    package func restoreStartOffset(_ partition: ChangelogPartition) -> Int64? {
        guard state.stores[partition.store]?.persistent == true else { return nil }
        return checkpointed[partition.description]
    }

    /// Applies changelog records to a store, without logging them again.
    package func restore(_ partition: ChangelogPartition, _ records: [RawRecord]) throws {
        guard let store = state.stores[partition.store] as? any RestorableStore else {
            throw StateStoreError(store: partition.store, message: "it can't be restored from a changelog")
        }
        try store.restore(records.compactMap { record in record.key.map { ($0, record.value) } })
    }

    /// Records that the stores' contents are on disk up to `offsets` (after a flush and commit).
    package func writeCheckpoint(_ offsets: [ChangelogPartition: Int64]) throws {
        guard let directory else { return }
        let persistent = offsets.filter { state.stores[$0.key.store]?.persistent == true }
        guard !persistent.isEmpty else { return }
        try OffsetCheckpoint(path: directory.checkpointPath).write(persistent)
    }

    /// Writes every store's data to its storage (persistent stores to disk), caches first.
    package func flush() throws {
        for store in orderedStores { try store.flush() }
    }

    /// Writes the record caches of the task's stores through (what they hold goes to the stores,
    /// their changelogs and downstream), without flushing the stores themselves: what a commit
    /// needs before the producer is flushed and offsets are committed. Stores are taken upstream
    /// first, so what a cache forwards reaches the caches flushed after it; nodes that wait for
    /// their upstream caches (suppression) act just before their own store's turn.
    package func flushCaches() throws {
        for store in orderedStores {
            try state.beforeFlushing[store.name]?()
            if let cached = store as? any CachedStore { try cached.flushCache() }
        }
    }

    /// The task's store named `name`, for the test driver and queries.
    package func store(named name: String) -> (any StateStore)? { state.stores[name] }

    private func closeStores() {
        for store in state.stores.values { store.close() }
        state.stores = [:]
        orderedStores = []
        directory?.unlock()
        directory = nil
    }

    /// Initializes every node (user processors' `initialize(context:)`).
    package func initialize() throws {
        for node in nodes { try node.initialize() }
    }

    /// Processes one input record to completion, applying the configured handlers to failures.
    package func process(_ raw: RawRecord) throws {
        let source: Unmanaged<SourceNodeBase>
        if let last = lastSource, state.recordTopic == raw.topic {
            source = last
        } else {
            guard let found = sources[raw.topic] else {
                throw StreamsError.other("task \(id) does not read topic '\(raw.topic)'")
            }
            source = Unmanaged.passUnretained(found)
            lastSource = source
        }
        state.beginRecord(raw)  // sets state.recordTopic to the source's topic
        state.metrics.processedRecords += 1
        defer { state.endRecord() }
        do {
            try source._withUnsafeGuaranteedRef { try $0.process(raw) }
        } catch let failure as DeserializationFailure {
            try handle(failure.error, of: raw, with: state.config.deserializationExceptionHandler)
        } catch let error as TopologyError {
            throw error
        } catch let error as StreamsError where error.isProduction {
            throw error  // the production exception handler has had its say
        } catch {
            try handle(error, of: raw, with: state.config.processingExceptionHandler)
        }
    }

    private func handle(_ error: Error, of raw: RawRecord, with handling: ErrorHandling) throws {
        switch handling {
        case .fail:
            throw error
        case .logAndContinue:
            state.metrics.droppedRecords += 1
            state.logger.warning("Skipping record: \(error)", metadata: raw.logMetadata)
        case .deadLetter(let topic):
            var headers = raw.headers
            headers.add("rill.error", string: "\(error)")
            headers.add("rill.source.topic", string: raw.topic)
            headers.add("rill.source.partition", string: String(raw.partition))
            headers.add("rill.source.offset", string: String(raw.offset))
            try state.collector.send(
                topic: topic, partition: nil, key: raw.key, value: raw.value, timestamp: raw.timestamp,
                headers: headers)
            state.metrics.deadLetterRecords += 1
            state.logger.warning("Sent record to dead-letter topic '\(topic)': \(error)", metadata: raw.logMetadata)
        }
    }

    /// Fires stream-time punctuators that are due. Returns whether any fired.
    @discardableResult
    package func maybePunctuateStreamTime() throws -> Bool {
        guard state.streamTime >= 0, !state.streamTimePunctuations.isEmpty else { return false }
        return try punctuate(state.streamTimePunctuations, now: state.streamTime)
    }

    /// Fires wall-clock punctuators that are due. Returns whether any fired.
    @discardableResult
    package func maybePunctuateWallClockTime() throws -> Bool {
        guard !state.wallClockPunctuations.isEmpty else { return false }
        return try punctuate(state.wallClockPunctuations, now: state.wallClock())
    }

    private func punctuate(_ queue: PunctuationQueue, now: Int64) throws -> Bool {
        try queue.punctuate(now: now) { schedule in
            do {
                try schedule.punctuator(now)
            } catch {
                let failure = (error as? StreamsError) ?? .punctuation(node: schedule.node, reason: "\(error)")
                if state.config.processingExceptionHandler == .fail { throw failure }
                state.logger.warning("Punctuator failed, continuing: \(failure)")
            }
        }
    }

    /// Closes the task without writing anything through: what its caches hold is dropped, and its
    /// stores close as they are (after an aborted transaction, whose writes RocksDB never got).
    package func closeDirty() {
        guard !closed else { return }
        closed = true
        for node in nodes { node.close() }
        closeStores()
    }

    /// Flushes and closes the stores of a task whose processors never ran (a standby).
    package func closeStores(flushing: Bool) {
        guard !closed else { return }
        closed = true
        if flushing { try? flush() }
        closeStores()
    }

    /// Closes every node once.
    package func close() {
        guard !closed else { return }
        closed = true
        // Caches forward what they hold while the processors are still open.
        try? flushCaches()
        try? flush()
        for node in nodes { node.close() }
        closeStores()
    }
}

