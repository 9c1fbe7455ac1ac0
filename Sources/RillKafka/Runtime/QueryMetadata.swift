import Rill

/// Where a key of a store lives: the instance to ask (Kafka Streams' `KeyQueryMetadata`).
public struct KeyQueryMetadata: Sendable, Equatable {
    /// The `application.server` of the instance whose task holds the key.
    public let activeHost: HostInfo
    /// The key's partition (of the store's input topics and changelog).
    public let partition: Int32
    /// The task holding the key.
    public let task: TaskID
}

/// One instance of the application as the others know it (Kafka Streams' `StreamsMetadata`).
public struct StreamsMetadata: Sendable, Equatable {
    public let host: HostInfo
    /// The tasks its stream threads run.
    public let tasks: Set<TaskID>
    /// The stores of those tasks.
    public let stores: Set<String>
}

/// Routing queries: which instance holds a key, when every instance sets `application.server`.
///
/// ```swift
/// config.applicationServer = HostInfo(host: "worker-2.internal", port: 8080)
/// // ...
/// if let where = try streams.metadata(forKey: "clinic-42", store: "call-counts"), where.activeHost != config.applicationServer {
///     // ask http://\(where.activeHost)/stores/call-counts/clinic-42
/// }
/// ```
///
/// The stream threads publish their tasks after each rebalance; the others learn them within a
/// moment (see ``InstanceDirectory``). Until then, and for a task nobody has claimed yet, the answer
/// is `nil`: retry.
extension KafkaStreams {
    /// The instance that holds `key` of the store `store`, with `keySerde` (by default the store's own)
    /// placing it on a partition as Kafka's default partitioner does. `nil` while no instance is known
    /// to run its task (a rebalance is under way). Global stores are held by every instance: this one.
    public func metadata<K>(forKey key: K, store: String, keySerde: Serde<K>? = nil) throws -> KeyQueryMetadata? {
        guard let server = config.applicationServer else {
            throw InvalidStateStoreError(
                store: store, message: "routing needs application.server (this instance's host:port) set on every instance",
                cause: .misconfigured, retryable: false)
        }
        if topology.globalTables.contains(where: { $0.storeBuilder.name == store }) {
            return KeyQueryMetadata(activeHost: server, partition: -1, task: TaskID(subtopology: -1, partition: -1))
        }
        guard let builder = topology.stores.first(where: { $0.builder.name == store })?.builder,
            let subtopology = topology.subtopology(ofStore: store)
        else {
            throw InvalidStateStoreError(store: store, message: "the topology has no state store named '\(store)'", cause: .unknownStore, retryable: false)
        }
        guard let serde = keySerde ?? ((builder as? any KeyedStoreBuilder)?.anyKeySerde as? Serde<K>) else {
            throw InvalidStateStoreError(
                store: store, message: "its keys are not \(K.self); pass the keySerde the store's input is keyed with",
                cause: .wrongType, retryable: false)
        }
        let (counts, directory, threads) = routing
        guard let count = counts[subtopology], count > 0 else {
            throw InvalidStateStoreError(store: store, message: "the application has not started; retry once it runs", cause: .unavailable, retryable: true)
        }
        let bytes: [UInt8]
        do {
            guard let serialized = try serde.serialize(key) else {
                throw InvalidStateStoreError(store: store, message: "a nil key has no partition", cause: .wrongType, retryable: false)
            }
            bytes = serialized
        } catch let error as InvalidStateStoreError { throw error } catch {
            throw InvalidStateStoreError(store: store, message: "its key serde can't serialize \(key): \(error)", cause: .wrongType, retryable: false)
        }
        let task = TaskID(subtopology: subtopology, partition: DefaultPartitioner.partition(key: bytes, count: count))
        if threads.contains(where: { $0.activeTasks.contains(task) }) {
            return KeyQueryMetadata(activeHost: server, partition: task.partition, task: task)
        }
        // A claim of this instance that none of its threads backs is stale (a revoke not read back
        // yet, or an earlier run's): the task's owner is not known yet.
        guard let owner = directory?.server(of: task), owner != server else { return nil }
        return KeyQueryMetadata(activeHost: owner, partition: task.partition, task: task)
    }

    /// Every instance known to run tasks (this one included, as of its threads' last rebalance),
    /// by host. Empty unless `application.server` is set.
    public var allMetadata: [StreamsMetadata] {
        let (_, directory, threads) = routing
        guard let directory else { return [] }
        var servers = directory.servers()
        servers[directory.server] = threads.reduce(into: Set<TaskID>()) { $0.formUnion($1.activeTasks) }
        return servers.map { host, tasks in
            let stores = Set(tasks.flatMap { task in
                topology.stores.map(\.builder.name).filter { topology.subtopology(ofStore: $0) == task.subtopology }
            })
            return StreamsMetadata(host: host, tasks: tasks, stores: stores)
        }.sorted { $0.host.description < $1.host.description }
    }
}
