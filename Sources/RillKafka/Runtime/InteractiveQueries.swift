import Rill

/// Interactive queries: read-only views of a store over every task of this instance, safe to use
/// from any thread while the application runs (Kafka Streams' `KafkaStreams.store`).
///
/// ```swift
/// let counts = try streams.store(named: "counts", type: .keyValueStore(String.self, Int64.self))
/// let clinic42 = try counts.get("clinic-42")
/// ```
///
/// Each call reads the stores of the instance's running tasks between two iterations of their
/// stream threads, so it sees every update processed so far (the record cache's too). While the
/// instance rebalances or restores, and before it runs, calls throw an ``InvalidStateStoreError``
/// whose ``InvalidStateStoreError/retryable`` is `true`: retry once the state is `running` again.
/// A thread that does not let go of its stores within 10 s (a long commit) gives the same error.
extension KafkaStreams {
    /// The view of the store `name` that `type` describes. Fails at once when the topology has no
    /// such store; a store of another kind or type fails at the first read that finds it.
    public func store<View>(named name: String, type: QueryableStoreType<View>) throws -> View {
        guard topology.stores.contains(where: { $0.builder.name == name }) else {
            throw InvalidStateStoreError(
                store: name, message: "the topology has no state store named '\(name)'", cause: .unknownStore, retryable: false)
        }
        return type.make(LocalStores(name: name, streams: self))
    }
}

/// Why a store can't be queried now, or at all.
public struct InvalidStateStoreError: Error, CustomStringConvertible, Sendable {
    /// What is wrong: the instance, or the query.
    public enum Cause: Sendable, Equatable {
        /// The instance can't answer: not running (yet, or any more), rebalancing or restoring.
        case unavailable
        /// The topology has no store of that name.
        case unknownStore
        /// The store holds other types than the query's, or the key can't be placed.
        case wrongType
        /// The instance's configuration doesn't allow the query (routing without `application.server`).
        case misconfigured
    }

    public let store: String
    public let message: String
    public let cause: Cause
    /// Whether the same query may succeed later (the instance was rebalancing, restoring or not
    /// yet running), as opposed to a query that can never succeed (no such store, wrong type, closed).
    public let retryable: Bool

    public init(store: String, message: String, cause: Cause, retryable: Bool) {
        self.store = store
        self.message = message
        self.cause = cause
        self.retryable = retryable
    }

    public var description: String {
        "state store '\(store)' can't be queried\(retryable ? " now" : ""): \(message)"
    }
}

/// What kind of store a query expects, and the view it gets (Kafka Streams' `QueryableStoreTypes`).
public struct QueryableStoreType<View>: Sendable {
    let make: @Sendable (LocalStores) -> View
}

extension QueryableStoreType {
    /// A key-value store; a DSL table's timestamped store is read without its timestamps.
    public static func keyValueStore<K, V>(_ keyType: K.Type, _ valueType: V.Type) -> QueryableStoreType<KeyValueStoreView<K, V>>
    where View == KeyValueStoreView<K, V> {
        QueryableStoreType { KeyValueStoreView(stores: $0) }
    }

    /// A window store; a DSL windowed table's timestamped store is read without its timestamps.
    public static func windowStore<K, V>(_ keyType: K.Type, _ valueType: V.Type) -> QueryableStoreType<WindowStoreView<K, V>>
    where View == WindowStoreView<K, V> {
        QueryableStoreType { WindowStoreView(stores: $0) }
    }

    /// A session store.
    public static func sessionStore<K, V>(_ keyType: K.Type, _ valueType: V.Type) -> QueryableStoreType<SessionStoreView<K, V>>
    where View == SessionStoreView<K, V> {
        QueryableStoreType { SessionStoreView(stores: $0) }
    }
}

/// One store's instances in the running tasks of a ``KafkaStreams``, read thread by thread.
public final class LocalStores: @unchecked Sendable {
    let name: String
    private weak var streams: KafkaStreams?

    init(name: String, streams: KafkaStreams) {
        self.name = name
        self.streams = streams
    }

    /// `read`'s result for each local instance of the store, each read while its thread leaves
    /// its stores alone; `read` returns `nil` for a store of another kind or type.
    func each<R>(as kind: String, _ read: (any StateStore) throws -> R?) throws -> [R] {
        guard let streams else {
            throw InvalidStateStoreError(store: name, message: "the application was released", cause: .unavailable, retryable: false)
        }
        let state = streams.state
        guard state == .running else {
            throw InvalidStateStoreError(
                store: name, message: "the application is \(state.rawValue), not running; retry once it runs",
                cause: .unavailable, retryable: state == .created || state == .rebalancing)
        }
        var results: [R] = []
        for thread in streams.streamThreads {
            let answered: Void? = try thread.withStores(named: name) { stores in
                for store in stores {
                    guard let result = try read(store) else {
                        throw InvalidStateStoreError(
                            store: name, message: "it is a \(type(of: store)), not \(kind)", cause: .wrongType, retryable: false)
                    }
                    results.append(result)
                }
            }
            guard answered != nil else {
                throw InvalidStateStoreError(
                    store: name, message: "stream thread \(thread.name) is rebalancing, restoring or stopping; retry",
                    cause: .unavailable, retryable: true)
            }
        }
        return results
    }
}

/// Reads of one key-value store over every local task. Ranges list each task's entries in key order,
/// one task after another.
public final class KeyValueStoreView<K, V>: @unchecked Sendable {
    private let stores: LocalStores
    private let kind = "a key-value store of \(K.self) to \(V.self)"

    init(stores: LocalStores) { self.stores = stores }

    /// `key`'s value, from whichever task holds it.
    public func get(_ key: K) throws -> V? {
        try stores.each(as: kind) { store in try reads(store).map { try $0.get(key) } }.lazy.compactMap { $0 }.first
    }

    /// Entries with `from <= key <= to` (by serialized key), task by task; `nil` bounds are open.
    public func range(from: K?, to: K?) throws -> [KeyValue<K, V>] {
        try stores.each(as: kind) { store in try reads(store).map { try $0.range(from, to) } }.flatMap { $0 }
    }

    /// Every entry, task by task.
    public func all() throws -> [KeyValue<K, V>] { try range(from: nil, to: nil) }

    /// The sum of the tasks' estimates.
    public func approximateNumEntries() throws -> Int64 {
        try stores.each(as: kind) { store in try reads(store).map { try $0.count() } }.reduce(0, +)
    }

    private struct Reads {
        let get: (K) throws -> V?
        let range: (K?, K?) throws -> [KeyValue<K, V>]
        let count: () throws -> Int64
    }

    /// The store's reads as `K` to `V`: directly, or without the timestamps of a DSL table.
    private func reads(_ store: any StateStore) -> Reads? {
        if let plain = store as? any ReadOnlyKeyValueStore<K, V> {
            return Reads(
                get: { try plain.get($0) }, range: { try Array(plain.range(from: $0, to: $1)) },
                count: { try plain.approximateNumEntries() })
        }
        if let timestamped = store as? any ReadOnlyKeyValueStore<K, ValueAndTimestamp<V>> {
            return Reads(
                get: { try timestamped.get($0)?.value },
                range: { try timestamped.range(from: $0, to: $1).map { KeyValue($0.key, $0.value.value) } },
                count: { try timestamped.approximateNumEntries() })
        }
        return nil
    }
}

/// Reads of one window store over every local task.
public final class WindowStoreView<K, V>: @unchecked Sendable {
    private let stores: LocalStores
    private let kind = "a window store of \(K.self) to \(V.self)"

    init(stores: LocalStores) { self.stores = stores }

    /// The value of `key`'s window starting at `windowStart`.
    public func fetch(_ key: K, windowStart: Int64) throws -> V? {
        try stores.each(as: kind) { store in try reads(store).map { try $0.fetchOne(key, windowStart) } }
            .lazy.compactMap { $0 }.first
    }

    /// `key`'s windows starting in `from...to`, as (window start, value), by start.
    public func fetch(_ key: K, from: Int64, to: Int64) throws -> [KeyValue<Int64, V>] {
        try stores.each(as: kind) { store in try reads(store).map { try $0.fetch(key, from, to) } }.flatMap { $0 }
            .sorted { $0.key < $1.key }
    }

    /// Every key's windows starting in `from...to`, by start.
    public func fetchAll(from: Int64, to: Int64) throws -> [KeyValue<Windowed<K>, V>] {
        try stores.each(as: kind) { store in try reads(store).map { try $0.fetchAll(from, to) } }.flatMap { $0 }
            .sorted { $0.key.window.start < $1.key.window.start }
    }

    private struct Reads {
        let fetchOne: (K, Int64) throws -> V?
        let fetch: (K, Int64, Int64) throws -> [KeyValue<Int64, V>]
        let fetchAll: (Int64, Int64) throws -> [KeyValue<Windowed<K>, V>]
    }

    private func reads(_ store: any StateStore) -> Reads? {
        if let plain = store as? any ReadOnlyWindowStore<K, V> {
            return Reads(
                fetchOne: { try plain.fetch($0, windowStart: $1) }, fetch: { try plain.fetch($0, from: $1, to: $2) },
                fetchAll: { try plain.fetchAll(from: $0, to: $1) })
        }
        if let timestamped = store as? any ReadOnlyWindowStore<K, ValueAndTimestamp<V>> {
            return Reads(
                fetchOne: { try timestamped.fetch($0, windowStart: $1)?.value },
                fetch: { try timestamped.fetch($0, from: $1, to: $2).map { KeyValue($0.key, $0.value.value) } },
                fetchAll: { try timestamped.fetchAll(from: $0, to: $1).map { KeyValue($0.key, $0.value.value) } })
        }
        return nil
    }
}

/// Reads of one session store over every local task.
public final class SessionStoreView<K, V>: @unchecked Sendable {
    private let stores: LocalStores
    private let kind = "a session store of \(K.self) to \(V.self)"

    init(stores: LocalStores) { self.stores = stores }

    /// Every session of `key`, by end time.
    public func fetch(_ key: K) throws -> [KeyValue<Windowed<K>, V>] {
        try stores.each(as: kind) { store in try (store as? any ReadOnlySessionStore<K, V>).map { try $0.fetch(key) } }
            .flatMap { $0 }.sorted { $0.key.window.end < $1.key.window.end }
    }

    /// `key`'s sessions that end at or after `earliestSessionEnd` and start at or before `latestSessionStart`.
    public func findSessions(_ key: K, earliestSessionEnd: Int64, latestSessionStart: Int64) throws
        -> [KeyValue<Windowed<K>, V>]
    {
        try stores.each(as: kind) { store in
            try (store as? any ReadOnlySessionStore<K, V>).map {
                try $0.findSessions(key, earliestSessionEnd: earliestSessionEnd, latestSessionStart: latestSessionStart)
            }
        }.flatMap { $0 }.sorted { $0.key.window.end < $1.key.window.end }
    }
}
