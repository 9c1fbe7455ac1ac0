/// How close in time two records must be to join (Kafka Streams' `JoinWindows`): a left record at
/// `t` joins right records in `[t - before, t + after]`. Records arriving after a window has closed
/// (its end plus the grace period) find nothing more to join.
public struct JoinWindows: Sendable, Equatable {
    public let beforeMs: Int64
    public let afterMs: Int64
    public let graceMs: Int64

    /// Records up to `difference` apart, either way; windows close as soon as stream time passes them.
    public static func ofTimeDifferenceWithNoGrace(_ difference: Duration) throws -> JoinWindows {
        try ofTimeDifferenceAndGrace(difference, grace: .zero)
    }

    /// Records up to `difference` apart, either way, accepting out-of-order records for `grace`.
    public static func ofTimeDifferenceAndGrace(_ difference: Duration, grace: Duration) throws -> JoinWindows {
        let ms = try milliseconds(difference, "time difference", of: "JoinWindows", positive: false)
        let graceMs = try milliseconds(grace, "grace period", of: "JoinWindows", positive: false)
        return JoinWindows(beforeMs: ms, afterMs: ms, graceMs: graceMs)
    }

    /// Right records up to `before` earlier than the left record.
    public func before(_ before: Duration) throws -> JoinWindows {
        try checked(JoinWindows(beforeMs: before.wholeMilliseconds, afterMs: afterMs, graceMs: graceMs))
    }

    /// Right records up to `after` later than the left record.
    public func after(_ after: Duration) throws -> JoinWindows {
        try checked(JoinWindows(beforeMs: beforeMs, afterMs: after.wholeMilliseconds, graceMs: graceMs))
    }

    private func checked(_ windows: JoinWindows) throws -> JoinWindows {
        guard windows.beforeMs + windows.afterMs >= 0 else {
            throw WindowDefinitionError(
                "JoinWindows: before (\(windows.beforeMs) ms) plus after (\(windows.afterMs) ms) must not be negative")
        }
        return windows
    }
}

/// Serdes and store names for a stream–stream join (Kafka Streams' `StreamJoined`).
public struct StreamJoined<K, V, VO>: Sendable {
    public var keySerde: Serde<K>?
    public var valueSerde: Serde<V>?
    public var otherValueSerde: Serde<VO>?
    /// Names the processors (`<name>-join-this`, …) and repartition topics.
    public var name: String?
    /// Names the stores: `<storeName>-this-join-store`, `-other-join-store`, `-outer-shared-join-store`.
    public var storeName: String?

    public init(
        keySerde: Serde<K>? = nil, valueSerde: Serde<V>? = nil, otherValueSerde: Serde<VO>? = nil, name: String? = nil,
        storeName: String? = nil
    ) {
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.otherValueSerde = otherValueSerde
        self.name = name
        self.storeName = storeName
    }

    public static func with(_ keySerde: Serde<K>, _ valueSerde: Serde<V>, _ otherValueSerde: Serde<VO>) -> StreamJoined<K, V, VO> {
        StreamJoined(keySerde: keySerde, valueSerde: valueSerde, otherValueSerde: otherValueSerde)
    }
}

extension KStream {
    /// Joins records of the two streams with the same key whose timestamps are within `windows`.
    public func join<VO, VR>(
        _ other: KStream<K, VO>, windows: JoinWindows, _ streamJoined: StreamJoined<K, V, VO> = StreamJoined(),
        joiner: @escaping @Sendable (V, VO) throws -> VR
    ) -> KStream<K, VR> {
        joinStreams(other, windows: windows, streamJoined, leftOuter: false, rightOuter: false) { value, other in
            try joiner(value!, other!)
        }
    }

    /// As ``join(_:windows:_:joiner:)``, and a record of this stream that found nothing to join by the
    /// time its window closed is joined with `nil` (once, when the window closes).
    public func leftJoin<VO, VR>(
        _ other: KStream<K, VO>, windows: JoinWindows, _ streamJoined: StreamJoined<K, V, VO> = StreamJoined(),
        joiner: @escaping @Sendable (V, VO?) throws -> VR
    ) -> KStream<K, VR> {
        joinStreams(other, windows: windows, streamJoined, leftOuter: true, rightOuter: false) { value, other in
            try joiner(value!, other)
        }
    }

    /// As ``leftJoin(_:windows:_:joiner:)``, for the records of both streams.
    public func outerJoin<VO, VR>(
        _ other: KStream<K, VO>, windows: JoinWindows, _ streamJoined: StreamJoined<K, V, VO> = StreamJoined(),
        joiner: @escaping @Sendable (V?, VO?) throws -> VR
    ) -> KStream<K, VR> {
        joinStreams(other, windows: windows, streamJoined, leftOuter: true, rightOuter: true, joiner: joiner)
    }

    private func joinStreams<VO, VR>(
        _ other: KStream<K, VO>, windows: JoinWindows, _ joined: StreamJoined<K, V, VO>, leftOuter: Bool, rightOuter: Bool,
        joiner: @escaping @Sendable (V?, VO?) throws -> VR
    ) -> KStream<K, VR> {
        let keySerde = joined.keySerde ?? keySerde ?? other.keySerde
        let valueSerde = joined.valueSerde ?? self.valueSerde
        let otherSerde = joined.otherValueSerde ?? other.valueSerde
        let base = joined.name
        let left = repartitionRequired
            ? repartitioned(through: "\(base ?? builder.newName("KSTREAM-JOIN-"))-left", keySerde: keySerde, valueSerde: valueSerde) : self
        let right = other.repartitionRequired
            ? other.repartitioned(through: "\(base ?? builder.newName("KSTREAM-JOIN-"))-right", keySerde: keySerde, valueSerde: otherSerde)
            : other
        let leftWindowName = base.map { "\($0)-this-windowed" } ?? builder.newName("KSTREAM-WINDOWED-")
        let rightWindowName = base.map { "\($0)-other-windowed" } ?? builder.newName("KSTREAM-WINDOWED-")
        let thisName = base.map { "\($0)-join-this" } ?? builder.newName(leftOuter ? "KSTREAM-OUTERTHIS-" : "KSTREAM-JOINTHIS-")
        let otherName = base.map { "\($0)-join-other" } ?? builder.newName(rightOuter ? "KSTREAM-OUTEROTHER-" : "KSTREAM-JOINOTHER-")
        let mergeName = base.map { "\($0)-merge" } ?? builder.newName("KSTREAM-MERGE-")
        let thisStore = joined.storeName.map { "\($0)-this-join-store" } ?? "\(thisName)-store"
        let otherStore = joined.storeName.map { "\($0)-other-join-store" } ?? "\(otherName)-store"
        let outerStore = leftOuter || rightOuter
            ? (joined.storeName.map { "\($0)-outer-shared-join-store" } ?? "\(builder.newName("KSTREAM-OUTERSHARED-"))-store") : nil

        // Each side's records are kept for the other side's lookups: duplicates retained, for the
        // windows' whole span plus grace.
        let retention = windows.beforeMs + windows.afterMs + windows.graceMs
        let size = max(windows.beforeMs + windows.afterMs, 1)
        func addWindowStore<T>(_ store: String, _ serde: Serde<T>?) {
            var supplier = DefaultDSLSegmentedSupplier(name: store, retentionPeriod: retention, windowSize: size)
            supplier.retainDuplicates = true
            builder.addStateStore(
                Stores.windowStoreBuilder(
                    supplier, keySerde: TableSerde(keySerde, store, "key"), valueSerde: TableSerde(serde, store, "value")))
        }
        addWindowStore(thisStore, valueSerde)
        addWindowStore(otherStore, otherSerde)
        if let outerStore {
            builder.addStateStore(
                Stores.keyValueStoreBuilder(DefaultDSLStoreSupplier(name: outerStore), keySerde: .bytes, valueSerde: .bytes))
        }
        let spec = StreamJoinSpec<K, V, VO, VR>(
            windows: windows, leftOuter: leftOuter, rightOuter: rightOuter, outerStore: outerStore,
            keySerde: TableSerde(keySerde, outerStore ?? thisStore, "key"),
            valueSerde: TableSerde(valueSerde, outerStore ?? thisStore, "value"),
            otherValueSerde: TableSerde(otherSerde, outerStore ?? otherStore, "value"), joiner: joiner)
        let outerStores = outerStore.map { [$0] } ?? []

        left.add(leftWindowName, stores: [thisStore], output: Record<K, V>.self) { context in
            try JoinWindowNode<K, V>(name: leftWindowName, context: context, storeName: thisStore)
        }
        right.add(rightWindowName, stores: [otherStore], output: Record<K, VO>.self) { context in
            try JoinWindowNode<K, VO>(name: rightWindowName, context: context, storeName: otherStore)
        }
        builder.attempt {
            try builder.topology.add(
                Topology.Node(
                    name: thisName, kind: .processor(stores: [otherStore] + outerStores), parents: [leftWindowName],
                    inputType: Record<K, V>.self, outputType: Record<K, VR>.self,
                    make: { context in
                        try StreamStreamJoinNode<K, V, VO, VR>(
                            name: thisName, context: context, otherStore: otherStore, side: spec.leftSide)
                    }))
            try builder.topology.add(
                Topology.Node(
                    name: otherName, kind: .processor(stores: [thisStore] + outerStores), parents: [rightWindowName],
                    inputType: Record<K, VO>.self, outputType: Record<K, VR>.self,
                    make: { context in
                        try StreamStreamJoinNode<K, VO, V, VR>(
                            name: otherName, context: context, otherStore: thisStore, side: spec.rightSide)
                    }))
        }
        let merged = KStream<K, VR>(builder: builder, name: thisName, keySerde: keySerde, valueSerde: nil, repartitionRequired: false)
        merged.add(mergeName, parents: [thisName, otherName], output: Record<K, VR>.self) { context in
            try StatelessNode<K, VR, K, VR>(name: mergeName, context: context) { node, record in try node.downstream.forward(record) }
        }
        builder.topology.requireCopartitioning(join: mergeName, sides: [leftWindowName, rightWindowName])
        return KStream<K, VR>(builder: builder, name: mergeName, keySerde: keySerde, valueSerde: nil, repartitionRequired: false)
    }
}

/// What both sides of a stream–stream join share: the windows, the joiner over optional values,
/// which sides emit unmatched records, and the serdes of the shared store of unmatched records.
final class StreamJoinSpec<K, V, VO, VR>: Sendable {
    let windows: JoinWindows
    let leftOuter: Bool
    let rightOuter: Bool
    let outerStore: String?
    let keySerde: Serde<K>
    let valueSerde: Serde<V>
    let otherValueSerde: Serde<VO>
    let joiner: @Sendable (V?, VO?) throws -> VR

    init(
        windows: JoinWindows, leftOuter: Bool, rightOuter: Bool, outerStore: String?, keySerde: Serde<K>,
        valueSerde: Serde<V>, otherValueSerde: Serde<VO>, joiner: @escaping @Sendable (V?, VO?) throws -> VR
    ) {
        self.windows = windows
        self.leftOuter = leftOuter
        self.rightOuter = rightOuter
        self.outerStore = outerStore
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.otherValueSerde = otherValueSerde
        self.joiner = joiner
    }

    /// Joins a waiting record of either side with `nil`: its bytes start with the side (0 = left).
    private func joinUnmatched(_ key: [UInt8], _ value: [UInt8]) throws -> (K, VR)? {
        guard let side = value.first else { return nil }
        let payload = Array(value.dropFirst())
        let recordKey = try keySerde.deserialize(key)
        return side == 0
            ? (recordKey, try joiner(try valueSerde.deserialize(payload), nil))
            : (recordKey, try joiner(nil, try otherValueSerde.deserialize(payload)))
    }

    /// The left side's view: its records are `V`, the other side's `VO`.
    var leftSide: StreamJoinSide<K, V, VO, VR> {
        StreamJoinSide(
            isLeft: true, isOuter: leftOuter, windows: windows, outerStore: outerStore, join: joiner,
            encodeThis: { [valueSerde] in try valueSerde.serialize($0) ?? [] },
            encodeKey: { [keySerde] in try keyBytes(keySerde, $0) }, joinUnmatched: joinUnmatched)
    }

    /// The right side's view: its records are `VO`, the other side's `V`.
    var rightSide: StreamJoinSide<K, VO, V, VR> {
        StreamJoinSide(
            isLeft: false, isOuter: rightOuter, windows: windows, outerStore: outerStore,
            join: { [joiner] this, other in try joiner(other, this) },
            encodeThis: { [otherValueSerde] in try otherValueSerde.serialize($0) ?? [] },
            encodeKey: { [keySerde] in try keyBytes(keySerde, $0) }, joinUnmatched: joinUnmatched)
    }
}

/// One side of a stream–stream join, in its own types: this side's records against the other's.
struct StreamJoinSide<K, VThis, VOther, VR> {
    let isLeft: Bool
    let isOuter: Bool
    let windows: JoinWindows
    let outerStore: String?
    let join: (VThis?, VOther?) throws -> VR
    let encodeThis: (VThis) throws -> [UInt8]
    let encodeKey: (K) throws -> [UInt8]
    let joinUnmatched: ([UInt8], [UInt8]) throws -> (K, VR)?
}

/// Keeps each record of one side in that side's window store, for the other side's lookups.
final class JoinWindowNode<K, V>: InputNode<K, V> {
    let downstream: Downstream<K, V>
    let storeName: String
    private var store: TypedWindowStore<K, V>!

    init(name: String, context: NodeContext, storeName: String) throws {
        downstream = try Downstream(context.children, parent: name)
        self.storeName = storeName
        super.init(name: name, task: context.task)
    }

    override func initialize() throws { store = try task.store(storeName, as: TypedWindowStore<K, V>.self) }

    override func process(_ record: Record<K, V>) throws {
        if !isNull(record.key) { try store.put(record.key, record.value, windowStart: record.timestamp) }
        try downstream.forward(record)
    }
}

/// The earliest time of a record waiting in a join's store of unmatched records (shared by both sides).
final class OuterJoinTime {
    var minTime = Int64.max
}

/// One side of a stream–stream join: looks up the other side's records within the window, joins
/// each match, and for an outer side keeps an unmatched record until its window closes, then
/// joins it with `nil` (Kafka Streams 3.1+: no early `nil` results).
final class StreamStreamJoinNode<K, VThis, VOther, VR>: InputNode<K, VThis> {
    let downstream: Downstream<K, VR>
    let otherStoreName: String
    let isLeft: Bool
    private let windows: JoinWindows
    private let isOuter: Bool
    private let outerStoreName: String?
    private let join: (VThis?, VOther?) throws -> VR
    private let emitUnmatched: ([UInt8], [UInt8]) throws -> (K, VR)?
    private let encodeThis: (VThis) throws -> [UInt8]
    private let encodeKey: (K) throws -> [UInt8]
    private var otherStore: TypedWindowStore<K, VOther>!
    private var outerStore: TypedKeyValueStore<[UInt8], [UInt8]>?
    private var time: OuterJoinTime!

    init(name: String, context: NodeContext, otherStore: String, side: StreamJoinSide<K, VThis, VOther, VR>) throws {
        downstream = try Downstream(context.children, parent: name)
        otherStoreName = otherStore
        isLeft = side.isLeft
        windows = side.windows
        isOuter = side.isOuter
        outerStoreName = side.outerStore
        join = side.join
        encodeThis = side.encodeThis
        encodeKey = side.encodeKey
        emitUnmatched = side.joinUnmatched
        super.init(name: name, task: context.task)
    }

    override func initialize() throws {
        otherStore = try task.store(otherStoreName, as: TypedWindowStore<K, VOther>.self)
        if let outerStoreName {
            outerStore = try task.store(outerStoreName, as: TypedKeyValueStore<[UInt8], [UInt8]>.self)
            if let shared = task.shared[outerStoreName] as? OuterJoinTime {
                time = shared
            } else {
                time = OuterJoinTime()
                // After a restart, what waits in the store sets the earliest time.
                if let first = try outerStore?.range(from: nil, to: nil).next() { time.minTime = readBigEndian(first.key, at: 0) }
                task.shared[outerStoreName] = time
            }
        }
    }

    /// The span of the other side's timestamps this side's record at `t` joins: `[t - before, t + after]`
    /// for the left side, mirrored for the right.
    private var before: Int64 { isLeft ? windows.beforeMs : windows.afterMs }
    private var after: Int64 { isLeft ? windows.afterMs : windows.beforeMs }

    override func process(_ record: Record<K, VThis>) throws {
        guard !skipsNull(record) else { return }
        let timestamp = record.timestamp
        let streamTime = task.streamTime
        if timestamp == streamTime, outerStore != nil { try emitClosedUnmatched(streamTime: streamTime) }
        let from = max(0, timestamp - before)
        let to = max(0, timestamp + after)
        let matches = try otherStore.fetch(record.key, from: from, to: to)
        for match in matches {
            if let outerStore {
                // The other side's record is matched now: it no longer waits for a `nil` result.
                try outerStore.delete(unmatchedKey(time: match.key, left: !isLeft, key: encodeKey(record.key)))
            }
            let joined = try userCode(self) { try join(record.value, match.value) }
            try downstream.forward(
                Record(key: record.key, value: joined, timestamp: max(timestamp, match.key), headers: record.headers))
        }
        guard matches.isEmpty, isOuter else { return }
        if let outerStore, to >= streamTime {
            try outerStore.put(
                unmatchedKey(time: timestamp, left: isLeft, key: encodeKey(record.key)),
                [isLeft ? 0 : 1] + (try encodeThis(record.value)))
            time.minTime = min(time.minTime, timestamp)
        } else {
            // Its window closed before it arrived: nothing can join it any more.
            let joined = try userCode(self) { try join(record.value, nil) }
            try downstream.forward(Record(key: record.key, value: joined, timestamp: timestamp, headers: record.headers))
        }
    }

    /// Keys of the unmatched-records store: time, side, key, so that they iterate in time order.
    private func unmatchedKey(time: Int64, left: Bool, key: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(9 + key.count)
        appendBigEndian(time, to: &bytes)
        bytes.append(left ? 0 : 1)
        bytes += key
        return bytes
    }

    /// Emits, in time order, the unmatched records whose windows have closed.
    private func emitClosedUnmatched(streamTime: Int64) throws {
        guard let outerStore else { return }
        // Nothing can have closed yet unless the earliest waiting record's shortest window has.
        guard time.minTime != .max, time.minTime + min(windows.afterMs, windows.beforeMs) + windows.graceMs <= streamTime
        else { return }
        var leftOpen = false
        var rightOpen = false
        var emitted: [[UInt8]] = []
        var earliestOpen = Int64.max
        for entry in try outerStore.all().collect() {
            let entryTime = readBigEndian(entry.key, at: 0)
            let isLeftEntry = entry.key[8] == 0
            // A left record's window ends `after` past it, a right record's `before` past it; like
            // every window, it has closed once its end plus the grace is at most stream time.
            let closes = entryTime + (isLeftEntry ? windows.afterMs : windows.beforeMs) + windows.graceMs
            if closes > streamTime {
                if isLeftEntry { leftOpen = true } else { rightOpen = true }
                earliestOpen = min(earliestOpen, entryTime)
                if leftOpen && rightOpen { break }
                continue
            }
            if let (key, joined) = try userCode(self, { try emitUnmatched(Array(entry.key[9...]), entry.value) }) {
                try downstream.forward(Record(key: key, value: joined, timestamp: entryTime))
            }
            emitted.append(entry.key)
        }
        for key in emitted { try outerStore.delete(key) }
        time.minTime = earliestOpen
    }
}
