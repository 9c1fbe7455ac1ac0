/// A grouped stream cut into time windows (tumbling, hopping or sliding), ready to aggregate into a
/// table keyed by ``Windowed`` keys (Kafka Streams' `TimeWindowedKStream`).
///
/// ```swift
/// let perMinute = calls.groupByKey()
///     .windowedBy(try TimeWindows.ofSizeAndGrace(.seconds(60), grace: .seconds(10)))
///     .count(materialized: .as("calls-per-minute"))
/// ```
public struct TimeWindowedKStream<K, V> {
    enum Kind {
        case time(TimeWindows)
        case sliding(SlidingWindows)
    }

    @usableFromInline let grouped: KGroupedStream<K, V>
    let kind: Kind

    /// The length of every window, in ms (a sliding window spans its time difference).
    var windowSize: Int64 {
        switch kind {
        case .time(let windows): windows.sizeMs
        case .sliding(let windows): windows.timeDifferenceMs
        }
    }

    /// Retention by default: what the windows need to stay open (Kafka Streams' defaults).
    private var defaultRetention: Int64 {
        switch kind {
        case .time(let windows): windows.sizeMs + windows.graceMs
        case .sliding(let windows): 2 * windows.timeDifferenceMs + windows.graceMs
        }
    }

    private var minimumRetention: Int64 {
        switch kind {
        case .time(let windows): windows.sizeMs + windows.graceMs
        case .sliding(let windows): windows.timeDifferenceMs + windows.graceMs
        }
    }

    /// The number of records per key and window.
    @inlinable @discardableResult
    public func count(named: Named? = nil, materialized: Materialized<K, Int64> = Materialized())
        -> KTable<Windowed<K>, Int64>
    {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? .int64
        let step: @Sendable (K, V, Int64?) throws -> Int64 = { _, _, count in (count ?? 0) + 1 }
        return doAggregate(
            named: named, materialized: materialized, initializer: { nil }, step: step,
            timestamped: { .timestamped($0) }, specialized: { TimeWindowAggregation.make(windows: $0, step: step) })
    }

    /// Combines each key's values per window with `reducer`.
    @inlinable @discardableResult
    public func reduce(
        named: Named? = nil, materialized: Materialized<K, V> = Materialized(),
        _ reducer: @escaping @Sendable (V, V) throws -> V
    ) -> KTable<Windowed<K>, V> {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? grouped.valueSerde
        let step: @Sendable (K, V, V?) throws -> V = { _, value, old in try old.map { try reducer($0, value) } ?? value }
        return doAggregate(
            named: named, materialized: materialized, initializer: { nil }, step: step, timestamped: { .timestamped($0) },
            specialized: { TimeWindowAggregation.make(windows: $0, step: step) })
    }

    /// Folds each key's values per window into an aggregate, starting from `initializer()`.
    @inlinable @discardableResult
    public func aggregate<VA>(
        named: Named? = nil, materialized: Materialized<K, VA> = Materialized(),
        initializer: @escaping @Sendable () throws -> VA, aggregator: @escaping @Sendable (K, V, VA) throws -> VA
    ) -> KTable<Windowed<K>, VA> {
        let step: @Sendable (K, V, VA?) throws -> VA = { key, value, old in try aggregator(key, value, try old ?? initializer()) }
        return doAggregate(
            named: named, materialized: materialized, initializer: { try initializer() }, step: step,
            timestamped: { .timestamped($0) }, specialized: { TimeWindowAggregation.make(windows: $0, step: step) })
    }

    /// `timestamped` makes the store's value serde and `specialized` the time-window aggregation's
    /// per-record work (see ``TimeWindowAggregation``), both in the caller's specialization.
    @usableFromInline
    func doAggregate<VA>(
        named: Named?, materialized: Materialized<K, VA>, initializer: @escaping @Sendable () throws -> VA?,
        step: @escaping @Sendable (K, V, VA?) throws -> VA,
        timestamped: @escaping @Sendable (Serde<VA>) -> Serde<ValueAndTimestamp<VA>>,
        specialized: @escaping @Sendable (TimeWindows) -> TimeWindowAggregation<K, V, VA>
    ) -> KTable<Windowed<K>, VA> {
        let keySerde = materialized.keySerde ?? grouped.keySerde
        let windowSize = windowSize
        let retention = materialized.retentionMs ?? defaultRetention
        let minimumRetention = minimumRetention
        let kind = kind
        let builder = grouped.builder
        let grace: Int64
        switch kind {
        case .time(let windows): grace = windows.graceMs
        case .sliding(let windows): grace = windows.graceMs
        }
        var table = grouped.addAggregation(
            named: named, storeName: materialized.storeName, keySerde: keySerde.map { .timeWindowed($0, windowSize: windowSize) },
            valueSerde: materialized.valueSerde,
            store: { storeName in
                builder.checkRetention(retention, atLeast: minimumRetention, "the window size plus grace", store: storeName)
                let supplier = materialized.windowStoreSupplier
                    ?? DefaultDSLSegmentedSupplier(name: storeName, retentionPeriod: retention, windowSize: windowSize)
                var store = Stores.windowStoreBuilder(
                    supplier, keySerde: TableSerde(keySerde, storeName, "key"),
                    valueSerde: timestamped(TableSerde(materialized.valueSerde, storeName, "value")))
                store.options = materialized.storeOptions
                return store
            },
            node: { processorName, storeName, context in
                switch kind {
                case .time(let windows):
                    try TimeWindowAggregateNode<K, V, VA>(
                        name: processorName, context: context, storeName: storeName, aggregation: specialized(windows))
                case .sliding(let windows):
                    try SlidingWindowAggregateNode<K, V, VA>(
                        name: processorName, context: context, storeName: storeName, windows: windows,
                        initializer: initializer, step: step)
                }
            })
        table.windowGraceMs = grace
        return table
    }
}

/// A grouped stream cut into sessions of activity, ready to aggregate into a table keyed by
/// ``Windowed`` keys (Kafka Streams' `SessionWindowedKStream`). When a record merges sessions, the
/// merged-away sessions are deleted (a tombstone downstream) and the merged one is emitted.
public struct SessionWindowedKStream<K, V> {
    let grouped: KGroupedStream<K, V>
    let windows: SessionWindows

    /// The number of records per key and session.
    @discardableResult
    public func count(named: Named? = nil, materialized: Materialized<K, Int64> = Materialized())
        -> KTable<Windowed<K>, Int64>
    {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? .int64
        return doAggregate(
            named: named, materialized: materialized, initializer: { nil }, step: { _, _, count in (count ?? 0) + 1 },
            merger: { _, left, right in (left ?? 0) + right })
    }

    /// Combines each key's values per session with `reducer` (also used to merge sessions).
    @discardableResult
    public func reduce(
        named: Named? = nil, materialized: Materialized<K, V> = Materialized(),
        _ reducer: @escaping @Sendable (V, V) throws -> V
    ) -> KTable<Windowed<K>, V> {
        var materialized = materialized
        materialized.valueSerde = materialized.valueSerde ?? grouped.valueSerde
        return doAggregate(
            named: named, materialized: materialized, initializer: { nil },
            step: { _, value, old in try old.map { try reducer($0, value) } ?? value },
            merger: { _, left, right in try left.map { try reducer($0, right) } ?? right })
    }

    /// Folds each key's values per session into an aggregate; `merger` combines the aggregates of
    /// two sessions that a record bridges.
    @discardableResult
    public func aggregate<VA>(
        named: Named? = nil, materialized: Materialized<K, VA> = Materialized(),
        initializer: @escaping @Sendable () throws -> VA, aggregator: @escaping @Sendable (K, V, VA) throws -> VA,
        merger: @escaping @Sendable (K, VA, VA) throws -> VA
    ) -> KTable<Windowed<K>, VA> {
        doAggregate(
            named: named, materialized: materialized, initializer: { try initializer() },
            step: { key, value, old in try aggregator(key, value, try old ?? initializer()) },
            merger: { key, left, right in try merger(key, try left ?? initializer(), right) })
    }

    private func doAggregate<VA>(
        named: Named?, materialized: Materialized<K, VA>, initializer: @escaping @Sendable () throws -> VA?,
        step: @escaping @Sendable (K, V, VA?) throws -> VA, merger: @escaping @Sendable (K, VA?, VA) throws -> VA
    ) -> KTable<Windowed<K>, VA> {
        let keySerde = materialized.keySerde ?? grouped.keySerde
        let windows = windows
        let minimumRetention = windows.inactivityGapMs + windows.graceMs
        let retention = materialized.retentionMs ?? minimumRetention
        let builder = grouped.builder
        var table = grouped.addAggregation(
            named: named, storeName: materialized.storeName, keySerde: keySerde.map { .sessionWindowed($0) },
            valueSerde: materialized.valueSerde,
            store: { storeName in
                builder.checkRetention(retention, atLeast: minimumRetention, "the inactivity gap plus grace", store: storeName)
                let supplier = materialized.sessionStoreSupplier
                    ?? DefaultDSLSegmentedSupplier(name: storeName, retentionPeriod: retention, windowSize: 0)
                var store = Stores.sessionStoreBuilder(
                    supplier, keySerde: TableSerde(keySerde, storeName, "key"),
                    valueSerde: TableSerde(materialized.valueSerde, storeName, "value"))
                store.options = materialized.storeOptions
                return store
            },
            node: { processorName, storeName, context in
                try SessionWindowAggregateNode<K, V, VA>(
                    name: processorName, context: context, storeName: storeName, windows: windows,
                    initializer: initializer, step: step, merger: merger)
            })
        // A session closes once stream time passes its end by the gap plus the grace.
        table.windowGraceMs = windows.inactivityGapMs + windows.graceMs
        return table
    }
}

/// Aggregates into tumbling or hopping windows; records for closed windows are dropped and counted.
/// Its per-record work is a ``TimeWindowAggregation``'s.
final class TimeWindowAggregateNode<K, V, VA>: TableNode<K, V, Windowed<K>, VA, TypedWindowStore<K, ValueAndTimestamp<VA>>> {
    let aggregation: TimeWindowAggregation<K, V, VA>

    init(name: String, context: NodeContext, storeName: String, aggregation: TimeWindowAggregation<K, V, VA>) throws {
        self.aggregation = aggregation
        try super.init(name: name, context: context, storeName: storeName) { downstream, store in
            aggregation.listen(downstream, store.codec, store.windowSize)
        }
    }

    override func initialize() throws {
        try super.initialize()
        aggregation.attach(store: store.inner, codec: store.codec, forwarder: forwarder)
    }

    override func process(_ record: Record<K, V>) throws { try aggregation.process(aggregation, self, record) }
}

/// A tumbling or hopping window aggregation's per-record work and cache listener, made by
/// ``make(windows:step:)`` in the caller's specialization when the DSL is inlined into user code, so
/// that no generic type is looked up per record. Its store and forwarder are set when its node initializes.
@usableFromInline
final class TimeWindowAggregation<K, V, VA>: AggregationState<K, VA, Windowed<K>> {
    @usableFromInline typealias Process = (TimeWindowAggregation<K, V, VA>, InputNode<K, V>, Record<K, V>) throws -> Void
    @usableFromInline typealias Listen =
        (Downstream<Windowed<K>, Change<VA>>, StoreCodec<K, ValueAndTimestamp<VA>>, _ windowSize: Int64) -> CacheFlushListener

    @usableFromInline let windows: TimeWindows
    @usableFromInline let step: @Sendable (K, V, VA?) throws -> VA
    @usableFromInline let process: Process
    let listen: Listen

    @usableFromInline
    init(windows: TimeWindows, step: @escaping @Sendable (K, V, VA?) throws -> VA, process: @escaping Process, listen: @escaping Listen) {
        self.windows = windows
        self.step = step
        self.process = process
        self.listen = listen
    }

    @inlinable
    static func make(windows: TimeWindows, step: @escaping @Sendable (K, V, VA?) throws -> VA) -> TimeWindowAggregation {
        TimeWindowAggregation(
            windows: windows, step: step,
            process: { aggregation, node, record in
                guard !node.skipsNull(record) else { return }
                let windows = aggregation.windows
                let closeTime = node.withTask { $0.streamTime } - windows.graceMs
                let codec = aggregation.codec!
                let forwarder = aggregation.forwarder!
                // The key's bytes once per record, its store key once per window (read, then written).
                var keyBytes: [UInt8]?
                for start in windows.windowStarts(for: record.timestamp) {
                    let window = Window(start: start, end: start + windows.sizeMs)
                    guard window.end > closeTime else {
                        node.task.skipRecordForClosedWindow(node: node.name, window: window, closeTime: closeTime)
                        continue
                    }
                    if keyBytes == nil { keyBytes = try codec.keyBytes(record.key) }
                    let storeKey = WindowKeyLayout.storeKey(keyBytes!, start: start, sequence: 0)
                    let old = try codec.value(aggregation.store.get(storeKey))
                    let new = try userCode(node) { try aggregation.step(record.key, record.value, old?.value) }
                    let timestamp = max(record.timestamp, old?.timestamp ?? record.timestamp)
                    try aggregation.store.put(storeKey, codec.valueBytes(ValueAndTimestamp(new, timestamp: timestamp)))
                    // With a cache, the cache forwards at write-through.
                    guard !forwarder.cached else { continue }
                    try forwarder.maybeForward(
                        Windowed(record.key, window), Change(newValue: new, oldValue: old?.value), timestamp: timestamp,
                        headers: record.headers)
                }
            },
            listen: { downstream, codec, windowSize in
                ChangeForwarder.listener(downstream, decode: windowedChangeDecoder(codec, windowSize: windowSize))
            })
    }
}

/// Aggregates into sliding windows, as Kafka Streams' `KStreamSlidingWindowAggregate`: each record
/// has a left window `[t - d, t]` and, when later records fall within `d` after it, a right window
/// `[t + 1, t + 1 + d]`; existing windows that contain the record are updated.
final class SlidingWindowAggregateNode<K, V, VA>: TableNode<K, V, Windowed<K>, VA, TypedWindowStore<K, ValueAndTimestamp<VA>>> {
    typealias Aggregate = ValueAndTimestamp<VA>

    let windows: SlidingWindows
    let initializer: @Sendable () throws -> VA?
    let step: @Sendable (K, V, VA?) throws -> VA

    init(
        name: String, context: NodeContext, storeName: String, windows: SlidingWindows,
        initializer: @escaping @Sendable () throws -> VA?, step: @escaping @Sendable (K, V, VA?) throws -> VA
    ) throws {
        self.windows = windows
        self.initializer = initializer
        self.step = step
        try super.init(name: name, context: context, storeName: storeName) { $0.changeDecoder() }
    }

    private var difference: Int64 { windows.timeDifferenceMs }

    override func process(_ record: Record<K, V>) throws {
        guard !skipsNull(record) else { return }
        let timestamp = record.timestamp
        let closeTime = task.streamTime - windows.graceMs
        if timestamp + 1 + difference <= closeTime {
            task.skipRecordForClosedWindow(
                node: name, window: Window(start: timestamp - difference, end: timestamp), closeTime: closeTime)
            return
        }
        if timestamp < difference {
            try processEarly(record, closeTime: closeTime)
        } else {
            try processInOrder(record, closeTime: closeTime)
        }
    }

    private func processInOrder(_ record: Record<K, V>, closeTime: Int64) throws {
        let timestamp = record.timestamp
        var starts = Set<Int64>()
        var leftAggregate: Aggregate?
        var rightAggregate: Aggregate?
        var leftExists = false
        var rightExists = false
        var previousTimestamp: Int64?
        for entry in try store.fetch(record.key, from: max(0, timestamp - 2 * difference), to: timestamp + 1) {
            let start = entry.key
            let end = start + difference
            starts.insert(start)
            if end < timestamp {
                leftAggregate = entry.value
                previousTimestamp = entry.value.timestamp
            } else if end == timestamp {
                leftExists = true
                if entry.value.timestamp < timestamp { previousTimestamp = entry.value.timestamp }
                try update(Window(start: start, end: end), entry.value, existing: true, record, closeTime: closeTime)
            } else if start <= timestamp {
                rightAggregate = entry.value
                try update(Window(start: start, end: end), entry.value, existing: true, record, closeTime: closeTime)
            } else if start == timestamp + 1 {
                rightExists = true
            }
        }
        if let previous = previousTimestamp {
            let previousRightStart = previous + 1
            if !starts.contains(previousRightStart) && previousRightStart + difference >= timestamp {
                try createPreviousRecordRightWindow(start: previousRightStart, record, closeTime: closeTime)
            }
        }
        if !leftExists {
            let aggregate: Aggregate?
            if let previous = previousTimestamp, timestamp - difference <= previous, let left = leftAggregate {
                aggregate = ValueAndTimestamp(left.value, timestamp: timestamp)
            } else {
                aggregate = nil
            }
            try update(
                Window(start: timestamp - difference, end: timestamp), aggregate, existing: false, record, closeTime: closeTime)
        }
        if !rightExists, let right = rightAggregate, right.timestamp > timestamp {
            try createCurrentRecordRightWindow(timestamp, right, key: record.key)
        }
    }

    /// Records with `t < d` would have windows starting before 0: they share the window `[0, d]`.
    private func processEarly(_ record: Record<K, V>, closeTime: Int64) throws {
        let timestamp = record.timestamp
        var combined: (start: Int64, aggregate: Aggregate)?
        var rightAggregate: Aggregate?
        var rightExists = false
        var starts = Set<Int64>()
        var previousTimestamp: Int64?
        for entry in try store.fetch(record.key, from: 0, to: timestamp + 1) {
            let start = entry.key
            starts.insert(start)
            if start == 0 {
                combined = (start, entry.value)
                if entry.value.timestamp < timestamp { previousTimestamp = entry.value.timestamp }
            } else if start <= timestamp {
                rightAggregate = entry.value
                try update(Window(start: start, end: start + difference), entry.value, existing: true, record, closeTime: closeTime)
            } else if start == timestamp + 1 {
                rightExists = true
            }
        }
        if rightAggregate == nil, let combined, combined.aggregate.timestamp > timestamp {
            rightAggregate = combined.aggregate
        }
        if !rightExists, let right = rightAggregate, right.timestamp > timestamp {
            try createCurrentRecordRightWindow(timestamp, right, key: record.key)
        }
        if let previous = previousTimestamp, !starts.contains(previous + 1) {
            try createPreviousRecordRightWindow(start: previous + 1, record, closeTime: closeTime)
        }
        try update(
            Window(start: 0, end: difference), combined?.aggregate, existing: combined != nil, record, closeTime: closeTime)
    }

    private func createCurrentRecordRightWindow(_ timestamp: Int64, _ aggregate: Aggregate, key: K) throws {
        let window = Window(start: timestamp + 1, end: timestamp + 1 + difference)
        try store.put(key, aggregate, windowStart: window.start)
        try forwarder.maybeForward(
            Windowed(key, window), Change(newValue: aggregate.value, oldValue: nil), timestamp: aggregate.timestamp)
    }

    private func createPreviousRecordRightWindow(start: Int64, _ record: Record<K, V>, closeTime: Int64) throws {
        try update(Window(start: start, end: start + difference), nil, existing: false, record, closeTime: closeTime)
    }

    /// Adds the record to `window`, whose aggregate so far is `aggregate` (a new window starts
    /// from the initializer), if the window is still open.
    private func update(
        _ window: Window, _ aggregate: Aggregate?, existing: Bool, _ record: Record<K, V>, closeTime: Int64
    ) throws {
        guard window.end >= closeTime else {
            task.skipRecordForClosedWindow(node: name, window: window, closeTime: closeTime)
            return
        }
        let old = try aggregate?.value ?? userCode(self) { try initializer() }
        let new = try userCode(self) { try step(record.key, record.value, old) }
        let timestamp = existing ? max(record.timestamp, aggregate?.timestamp ?? record.timestamp) : record.timestamp
        try store.put(record.key, ValueAndTimestamp(new, timestamp: timestamp), windowStart: window.start)
        try forwarder.maybeForward(
            Windowed(record.key, window), Change(newValue: new, oldValue: existing ? aggregate?.value : nil),
            timestamp: timestamp, headers: record.headers)
    }
}

/// Aggregates into sessions, merging the sessions a record bridges, as Kafka Streams'
/// `KStreamSessionWindowAggregate`.
final class SessionWindowAggregateNode<K, V, VA>: TableNode<K, V, Windowed<K>, VA, TypedSessionStore<K, VA>> {
    let windows: SessionWindows
    let initializer: @Sendable () throws -> VA?
    let step: @Sendable (K, V, VA?) throws -> VA
    let merger: @Sendable (K, VA?, VA) throws -> VA

    init(
        name: String, context: NodeContext, storeName: String, windows: SessionWindows,
        initializer: @escaping @Sendable () throws -> VA?, step: @escaping @Sendable (K, V, VA?) throws -> VA,
        merger: @escaping @Sendable (K, VA?, VA) throws -> VA
    ) throws {
        self.windows = windows
        self.initializer = initializer
        self.step = step
        self.merger = merger
        try super.init(name: name, context: context, storeName: storeName) { $0.changeDecoder() }
    }

    override func process(_ record: Record<K, V>) throws {
        guard !skipsNull(record) else { return }
        let timestamp = record.timestamp
        // As Kafka Streams: a session can still grow until stream time passes its end by gap + grace.
        let closeTime = task.streamTime - windows.graceMs - windows.inactivityGapMs
        let own = Window(start: timestamp, end: timestamp)
        var merged = own
        var aggregate = try userCode(self) { try initializer() }
        let overlapping = try store.findSessions(
            record.key, earliestSessionEnd: timestamp - windows.inactivityGapMs,
            latestSessionStart: timestamp + windows.inactivityGapMs)
        for session in overlapping {
            let current = aggregate
            aggregate = try userCode(self) { try merger(record.key, current, session.value) }
            merged = Window(start: min(merged.start, session.key.window.start), end: max(merged.end, session.key.window.end))
        }
        guard merged.end >= closeTime else {
            task.skipRecordForClosedWindow(node: name, window: merged, closeTime: closeTime)
            return
        }
        var previous: VA?
        for session in overlapping {
            if session.key.window == merged {
                previous = session.value
                continue
            }
            try store.remove(session.key)
            try forwarder.maybeForward(
                session.key, Change(newValue: nil, oldValue: session.value), timestamp: session.key.window.end)
        }
        let current = aggregate
        let new = try userCode(self) { try step(record.key, record.value, current) }
        try store.put(Windowed(record.key, merged), new)
        try forwarder.maybeForward(
            Windowed(record.key, merged), Change(newValue: new, oldValue: previous), timestamp: merged.end,
            headers: record.headers)
    }
}

extension StreamsBuilder {
    /// Records a build error naming `store` when its retention is shorter than its windows need.
    func checkRetention(_ retention: Int64, atLeast minimum: Int64, _ what: String, store: String) {
        guard retention < minimum else { return }
        attempt {
            throw StateStoreError(
                store: store, message: "retention period (\(retention) ms) must be at least \(what) (\(minimum) ms)")
        }
    }
}
