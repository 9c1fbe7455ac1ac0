/// How much a suppression buffer holds, and what happens when it is full (Kafka Streams' `BufferConfig`).
public struct BufferConfig: Sendable, Equatable {
    /// What a full buffer does.
    public enum WhenFull: Sendable, Equatable {
        /// Emits its oldest records before their time (results are then not final).
        case emitEarly
        /// Fails the task with an error naming the buffer.
        case shutDown
    }

    public var maxRecords: Int?
    public var maxBytes: Int?
    public var whenFull: WhenFull

    /// No limit (memory grows with the open windows).
    public static let unbounded = BufferConfig(maxRecords: nil, maxBytes: nil, whenFull: .shutDown)

    /// At most `records` keys; a full buffer shuts down unless ``emitEarlyWhenFull()``.
    public static func maxRecords(_ records: Int) -> BufferConfig {
        BufferConfig(maxRecords: records, maxBytes: nil, whenFull: .shutDown)
    }

    /// At most `bytes` of keys and values; a full buffer shuts down unless ``emitEarlyWhenFull()``.
    public static func maxBytes(_ bytes: Int) -> BufferConfig {
        BufferConfig(maxRecords: nil, maxBytes: bytes, whenFull: .shutDown)
    }

    /// A full buffer emits its oldest records early.
    public func emitEarlyWhenFull() -> BufferConfig {
        var copy = self
        copy.whenFull = .emitEarly
        return copy
    }

    /// A full buffer fails the task.
    public func shutDownWhenFull() -> BufferConfig {
        var copy = self
        copy.whenFull = .shutDown
        return copy
    }
}

/// Holds back a table's updates: until its windows close (one final result per window), or for a
/// time limit (rate-limiting updates per key), as Kafka Streams' `Suppressed`.
///
/// ```swift
/// counts.suppress(.untilWindowCloses(.unbounded)).toStream().to("final-counts", …)
/// ```
public struct Suppressed: Sendable {
    enum Until: Sendable {
        case windowCloses
        case timeLimit(Int64)
    }

    let until: Until
    public let buffer: BufferConfig
    public private(set) var name: String?
    /// Checks for closed windows (or expired time limits) on wall-clock time too, every this many ms.
    public private(set) var wallClockIntervalMs: Int64?

    /// Only each window's final result, once stream time passes the window's end plus its grace.
    /// Needs a windowed table and a buffer that shuts down when full (early results would not be final).
    public static func untilWindowCloses(_ buffer: BufferConfig) -> Suppressed {
        Suppressed(until: .windowCloses, buffer: buffer)
    }

    /// A key's latest update once stream time has moved `limit` past the update's timestamp.
    public static func untilTimeLimit(_ limit: Duration, _ buffer: BufferConfig) -> Suppressed {
        Suppressed(until: .timeLimit(max(limit.wholeMilliseconds, 0)), buffer: buffer)
    }

    /// Names the processor (and its buffer store, `<name>-store`).
    public func withName(_ name: String) -> Suppressed {
        var copy = self
        copy.name = name
        return copy
    }

    /// Also treats wall-clock time as stream time, checked every `interval`: a partition that goes
    /// quiet still emits the results of windows whose end plus grace has passed on the clock. Only
    /// for data whose timestamps follow the wall clock.
    public func closingOnWallClockTime(every interval: Duration) -> Suppressed {
        var copy = self
        copy.wallClockIntervalMs = max(interval.wholeMilliseconds, 1)
        return copy
    }
}

/// A key of a windowed table: suppression reads its window's end.
protocol WindowedKey {
    var windowEnd: Int64 { get }
}

extension Windowed: WindowedKey {
    var windowEnd: Int64 { window.end }
}

extension KTable {
    /// The table's updates held back as `suppressed` says; the buffer is a logged store, so what
    /// it holds survives a restart.
    @discardableResult
    public func suppress(_ suppressed: Suppressed) -> KTable<K, V> {
        let name = suppressed.name ?? builder.newName("KTABLE-SUPPRESS-")
        let storeName = suppressed.name.map { "\($0)-store" } ?? builder.newName("KTABLE-SUPPRESS-STATE-STORE-")
        let duration: Int64
        switch suppressed.until {
        case .windowCloses:
            guard K.self is any WindowedKey.Type, let grace = windowGraceMs else {
                builder.attempt { throw TopologyError("suppress '\(name)': untilWindowCloses needs a windowed table (from windowedBy)") }
                return self
            }
            guard suppressed.buffer.whenFull == .shutDown else {
                builder.attempt {
                    throw TopologyError(
                        "suppress '\(name)': untilWindowCloses needs a buffer that shuts down when full; emitting early would not give final results")
                }
                return self
            }
            duration = grace
        case .timeLimit(let limit):
            duration = limit
        }
        builder.addStateStore(
            Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(storeName), keySerde: .bytes, valueSerde: .bytes))
        let keySerde = TableSerde(keySerde, name, "key")
        let valueSerde = TableSerde(valueSerde, name, "value")
        builder.attempt {
            try builder.topology.add(
                Topology.Node(
                    name: name, kind: .processor(stores: [storeName]), parents: [self.name],
                    inputType: Record<K, Change<V>>.self, outputType: Record<K, Change<V>>.self,
                    make: { context in
                        try SuppressNode<K, V>(
                            name: name, context: context, storeName: storeName, suppressed: suppressed, durationMs: duration,
                            keySerde: keySerde, valueSerde: valueSerde)
                    }))
        }
        return KTable(builder: builder, name: name, keySerde: self.keySerde, valueSerde: self.valueSerde, storeName: nil)
    }
}

/// Buffers a table's latest update per key and emits it when its time has expired.
///
/// Two clocks release entries, both safe from the record cache upstream, which may still hold a
/// newer value of a buffered key:
/// - on each update, the largest timestamp of the updates this node has received (Kafka Streams'
///   rule): an update is written to the cache after every update flushed before it, so no newer
///   value of a key can be waiting upstream once an update that late has arrived;
/// - when the task commits, the task's stream time (and the wall clock, if asked for): the buffer's
///   store is flushed after every store upstream, so their caches have written everything through.
final class SuppressNode<K, V>: InputNode<K, Change<V>> {
    private struct Entry {
        var key: K
        var value: V?
        /// When the entry expires: its window's end, or its record's timestamp.
        var time: Int64
        var timestamp: Int64
        var sequence: Int
        var bytes: Int
    }

    let downstream: Downstream<K, Change<V>>
    let storeName: String
    let suppressed: Suppressed
    let durationMs: Int64
    let keySerde: Serde<K>
    let valueSerde: Serde<V>
    /// The buffer's key serialization, naming the store in its errors.
    private let codec: StoreCodec<K, V>
    private var store: TypedKeyValueStore<[UInt8], [UInt8]>!
    private var entries: [[UInt8]: Entry] = [:]
    /// Entries by time, then key bytes, as Kafka Streams' buffer orders them (stale ones, replaced
    /// since, are skipped).
    private var queue = MinHeap<(time: Int64, sequence: Int, key: [UInt8])> {
        $0.time != $1.time ? $0.time < $1.time : $0.key.lexicographicallyPrecedes($1.key)
    }
    private var nextSequence = 0
    private var bufferedBytes = 0
    /// The largest timestamp among the updates received.
    private var observedTime: Int64 = -1
    /// The wall clock at the last wall-clock check (`closingOnWallClockTime`), -1 before any.
    private var wallClockTime: Int64 = -1

    init(
        name: String, context: NodeContext, storeName: String, suppressed: Suppressed, durationMs: Int64,
        keySerde: Serde<K>, valueSerde: Serde<V>
    ) throws {
        downstream = try Downstream(context.children, parent: name)
        self.storeName = storeName
        self.suppressed = suppressed
        self.durationMs = durationMs
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        codec = StoreCodec(store: storeName, keySerde: keySerde, valueSerde: valueSerde)
        super.init(name: name, task: context.task)
    }

    /// Final results drop tombstones: a window that never had a result needs no deletion.
    private var dropsTombstones: Bool {
        if case .windowCloses = suppressed.until { return true }
        return false
    }

    override func initialize() throws {
        store = try task.store(storeName, as: TypedKeyValueStore<[UInt8], [UInt8]>.self)
        // The buffer restored from its changelog.
        for entry in try store.all().collect() {
            let bytes = entry.value
            guard bytes.count >= 17 else { continue }
            let time = readBigEndian(bytes, at: 0)
            let timestamp = readBigEndian(bytes, at: 8)
            let value = bytes[16] == 1 ? try valueSerde.deserialize(Array(bytes[17...])) : nil
            insert(entry.key, Entry(key: try keySerde.deserialize(entry.key), value: value, time: time, timestamp: timestamp,
                                    sequence: 0, bytes: entry.key.count + bytes.count))
        }
        // Nothing upstream is cached yet: what stream time has closed (before a restart) can go.
        observedTime = task.streamTime
        task.beforeFlushing[storeName] = { [unowned self] in
            try self.evictExpired(now: max(self.task.streamTime, self.wallClockTime))
        }
        if let interval = suppressed.wallClockIntervalMs {
            _ = task.schedule(node: name, intervalMs: interval, type: .wallClockTime) { [unowned self] now in
                // Released at the commit this asks for, once the caches upstream are written through.
                self.wallClockTime = now
                self.task.commitRequested = true
            }
        }
    }

    private func insert(_ keyBytes: [UInt8], _ entry: Entry) {
        var entry = entry
        entry.sequence = nextSequence
        nextSequence += 1
        if let old = entries.updateValue(entry, forKey: keyBytes) { bufferedBytes -= old.bytes }
        bufferedBytes += entry.bytes
        queue.push((entry.time, entry.sequence, keyBytes))
    }

    override func process(_ record: Record<K, Change<V>>) throws {
        let time: Int64
        switch suppressed.until {
        case .windowCloses: time = (record.key as? any WindowedKey)?.windowEnd ?? record.timestamp
        case .timeLimit: time = record.timestamp
        }
        let keyBytes = try codec.keyBytes(record.key)
        let valueBytes = try record.value.newValue.map { try valueSerde.serialize($0) ?? [] }
        var stored: [UInt8] = []
        stored.reserveCapacity(17 + (valueBytes?.count ?? 0))
        appendBigEndian(time, to: &stored)
        appendBigEndian(record.timestamp, to: &stored)
        stored.append(valueBytes == nil ? 0 : 1)
        stored += valueBytes ?? []
        try store.put(keyBytes, stored)
        insert(keyBytes, Entry(key: record.key, value: record.value.newValue, time: time, timestamp: record.timestamp,
                               sequence: 0, bytes: keyBytes.count + stored.count))
        observedTime = max(observedTime, record.timestamp)
        try evictExpired(now: observedTime)
        try enforceCapacity()
    }

    private var overCapacity: Bool {
        if let maxRecords = suppressed.buffer.maxRecords, entries.count > maxRecords { return true }
        if let maxBytes = suppressed.buffer.maxBytes, bufferedBytes > maxBytes { return true }
        return false
    }

    private func enforceCapacity() throws {
        guard overCapacity else { return }
        switch suppressed.buffer.whenFull {
        case .emitEarly:
            while overCapacity, try emitOldest() {}
        case .shutDown:
            throw StreamsError.processing(
                node: name, source: task.recordMetadata,
                reason: "suppression buffer '\(storeName)' is full (\(entries.count) records, \(bufferedBytes) bytes; limits: "
                    + "\(suppressed.buffer.maxRecords.map(String.init) ?? "none") records, "
                    + "\(suppressed.buffer.maxBytes.map(String.init) ?? "none") bytes) and is set to shut down when full")
        }
    }

    /// Emits every entry whose time is at most `now` minus the suppression duration.
    private func evictExpired(now: Int64) throws {
        let expiry = now - durationMs
        while let first = oldestLive(), first.time <= expiry { _ = try emitOldest() }
    }

    /// The queue's first live entry, dropping stale ones on the way.
    private func oldestLive() -> (time: Int64, sequence: Int, key: [UInt8])? {
        while let first = queue.peek() {
            if entries[first.key]?.sequence == first.sequence { return first }
            _ = queue.pop()
        }
        return nil
    }

    /// Emits the entry with the smallest time; `false` when the buffer is empty.
    private func emitOldest() throws -> Bool {
        if let (_, _, keyBytes) = oldestLive(), let entry = entries[keyBytes] {
            _ = queue.pop()
            entries[keyBytes] = nil
            bufferedBytes -= entry.bytes
            try store.delete(keyBytes)
            if entry.value != nil || !dropsTombstones {
                try downstream.forward(
                    Record(key: entry.key, value: Change(newValue: entry.value, oldValue: nil), timestamp: entry.timestamp))
            }
            return true
        }
        return false
    }
}

/// A binary min-heap ordered by `less`.
struct MinHeap<Element> {
    private var elements: [Element] = []
    private let less: (Element, Element) -> Bool

    init(less: @escaping (Element, Element) -> Bool) { self.less = less }

    var count: Int { elements.count }
    func peek() -> Element? { elements.first }

    mutating func push(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(elements[child], elements[parent]) else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !elements.isEmpty else { return nil }
        elements.swapAt(0, elements.count - 1)
        let top = elements.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < elements.count, less(elements[left], elements[smallest]) { smallest = left }
            if right < elements.count, less(elements[right], elements[smallest]) { smallest = right }
            guard smallest != parent else { break }
            elements.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
