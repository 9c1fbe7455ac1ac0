/// Sends a DSL table's changes downstream: at once when its store has no cache, else as the cache
/// writes them through (on eviction and on commit), so that updates of a key between commits
/// collapse into one (Kafka Streams' `TimestampedTupleForwarder`).
@usableFromInline
final class ChangeForwarder<K, V> {
    @usableFromInline let downstream: Downstream<K, Change<V>>
    @usableFromInline let cached: Bool

    /// A cached entry's bytes as the table key, the value and its timestamp.
    @usableFromInline
    typealias Decode = (_ key: [UInt8], _ value: [UInt8]?) throws -> (key: K, value: V?, timestamp: Int64?)

    /// `listener` forwards what the cache writes through (see ``listener(_:decode:)``).
    init(_ downstream: Downstream<K, Change<V>>, store: any CachedStore, listener: @escaping CacheFlushListener) {
        self.downstream = downstream
        cached = store.caching != nil
        store.caching?.flushListener = listener
    }

    /// Forwards each entry the cache writes through as a change, decoded by `decode`. Made in the
    /// caller's specialization when the DSL is inlined into user code.
    @inlinable
    static func listener(_ downstream: Downstream<K, Change<V>>, decode: @escaping Decode) -> CacheFlushListener {
        { key, new, old, timestamp in
            let newer = try decode(key, new)
            let older = try decode(key, old)
            try downstream.forward(
                Record(key: newer.key, value: Change(newValue: newer.value, oldValue: older.value),
                       timestamp: newer.timestamp ?? timestamp))
        }
    }

    /// Forwards `change` unless the cache will.
    @inlinable @inline(__always)
    func maybeForward(_ key: K, _ change: Change<V>, timestamp: Int64, headers: Headers = Headers()) throws {
        guard !cached else { return }
        try downstream.forward(Record(key: key, value: change, timestamp: timestamp, headers: headers))
    }
}

/// A DSL processor that keeps a table in a store and forwards its changes through a
/// ``ChangeForwarder``: the store and forwarder are set up when the task initializes the node.
class TableNode<KIn, VIn, KOut, VA, Store: CachedStore>: InputNode<KIn, VIn> {
    typealias Decoder = (Store) -> ChangeForwarder<KOut, VA>.Decode
    /// Makes the listener that forwards the store's cached writes (``ChangeForwarder/listener(_:decode:)``).
    typealias MakeListener = (Downstream<KOut, Change<VA>>, Store) -> CacheFlushListener

    let downstream: Downstream<KOut, Change<VA>>
    let storeName: String
    private let makeListener: MakeListener
    private(set) var store: Store!
    private(set) var forwarder: ChangeForwarder<KOut, VA>!

    /// `makeListener` forwards the store's cached entries as they are written through.
    init(name: String, context: NodeContext, storeName: String, makeListener: @escaping MakeListener) throws {
        downstream = try Downstream(context.children, parent: name)
        self.storeName = storeName
        self.makeListener = makeListener
        super.init(name: name, task: context.task)
    }

    /// `decoder` decodes the store's cached entries, which are forwarded as changes.
    init(name: String, context: NodeContext, storeName: String, decoder: @escaping Decoder) throws {
        downstream = try Downstream(context.children, parent: name)
        self.storeName = storeName
        makeListener = { ChangeForwarder.listener($0, decode: decoder($1)) }
        super.init(name: name, task: context.task)
    }

    override func initialize() throws {
        store = try task.store(storeName, as: Store.self)
        forwarder = ChangeForwarder(downstream, store: store, listener: makeListener(downstream, store))
    }
}

extension TypedKeyValueStore {
    /// Decodes cached entries of a table kept as values with timestamps.
    func changeDecoder<VA>() -> ([UInt8], [UInt8]?) throws -> (key: K, value: VA?, timestamp: Int64?)
    where V == ValueAndTimestamp<VA> {
        timestampedChangeDecoder(codec)
    }
}

/// Decodes cached entries of a table kept as values with timestamps, in the caller's specialization.
@inlinable
func timestampedChangeDecoder<K, VA>(_ codec: StoreCodec<K, ValueAndTimestamp<VA>>) -> ChangeForwarder<K, VA>.Decode {
    { key, value in
        let stored = try codec.value(value)
        return (try codec.key(key), stored?.value, stored?.timestamp)
    }
}

extension TypedWindowStore {
    /// Decodes cached entries of a windowed table kept as values with timestamps.
    func changeDecoder<VA>() -> ([UInt8], [UInt8]?) throws -> (key: Windowed<K>, value: VA?, timestamp: Int64?)
    where V == ValueAndTimestamp<VA> {
        windowedChangeDecoder(codec, windowSize: windowSize)
    }
}

/// Decodes cached entries of a windowed table kept as values with timestamps, in the caller's
/// specialization.
@inlinable
func windowedChangeDecoder<K, VA>(_ codec: StoreCodec<K, ValueAndTimestamp<VA>>, windowSize: Int64)
    -> ChangeForwarder<Windowed<K>, VA>.Decode
{
    { key, value in
        let (keyBytes, start) = WindowKeyLayout.split(key)
        let stored = try codec.value(value)
        return (Windowed(try codec.key(keyBytes), Window(start: start, end: start + windowSize)), stored?.value,
                stored?.timestamp)
    }
}

extension TypedSessionStore {
    /// Decodes cached entries of a session table: a session's timestamp is its end.
    func changeDecoder() -> ([UInt8], [UInt8]?) throws -> (key: Windowed<K>, value: V?, timestamp: Int64?) {
        { [codec] key, value in
            let (keyBytes, window) = SessionKeyLayout.split(key)
            return (Windowed(try codec.key(keyBytes), window), try codec.value(value), window.end)
        }
    }
}

extension TaskState {
    /// The store `name` of this task as `Store`, or an error naming it.
    func store<Store>(_ name: String, as type: Store.Type) throws -> Store {
        guard let store = stores[name] as? Store else {
            throw StateStoreError(store: name, message: "missing from task \(taskID), or not a \(Store.self)")
        }
        return store
    }

    /// Counts and logs a record an operator skips for a closed window.
    @usableFromInline
    func skipRecordForClosedWindow(node: String, window: Window, closeTime: Int64) {
        metrics.droppedRecords += 1
        logger.debug(
            "Skipping record for expired window \(window) in \(node): window end + grace <= stream time (close time \(closeTime), stream time \(streamTime))\(recordMetadata.map { " from \($0)" } ?? "")")
    }
}
