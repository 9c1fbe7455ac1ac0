/// Makes the byte stores that a window or session store keeps its time segments in.
public protocol SegmentedBytesStoreSupplier: Sendable {
    var name: String { get }
    var persistent: Bool { get }
    /// How long data is kept, in ms of stream time; older segments are dropped whole.
    var retentionPeriod: Int64 { get }
    /// The time span of one segment, in ms.
    var segmentInterval: Int64 { get }
    /// Opens the store's segments: in `directory` (`<task directory>/<store name>`) for persistent stores.
    func openSegments(directory: String) throws -> any SegmentSpace
}

/// Where a segmented store keeps its segments: byte stores by segment id (its start time divided by
/// the segment interval), made and dropped whole. For RocksDB, key ranges of the store's one database,
/// each under its id as a prefix.
public protocol SegmentSpace: AnyObject {
    /// The ids of the segments that exist already (after a restart), in ascending order.
    func existingSegments() throws -> [Int64]
    /// The segment `id`, made if missing.
    func segment(_ id: Int64) throws -> any BytesKeyValueStore
    /// Drops the segment `id` and its data.
    func drop(_ id: Int64) throws
    /// About how many entries all segments hold.
    func approximateNumEntries() throws -> Int64
    /// Makes every segment's writes durable.
    func flush() throws
    /// Closes every segment.
    func close()
}

/// Segments kept in memory.
final class InMemorySegmentSpace: SegmentSpace {
    private var segments: [Int64: InMemoryKeyValueStore] = [:]
    private let name: String

    init(name: String) { self.name = name }

    func existingSegments() -> [Int64] { segments.keys.sorted() }

    func segment(_ id: Int64) throws -> any BytesKeyValueStore {
        if let segment = segments[id] { return segment }
        let segment = InMemoryKeyValueStore(name: "\(name).\(id)")
        segments[id] = segment
        return segment
    }

    func drop(_ id: Int64) throws { segments[id] = nil }

    func approximateNumEntries() throws -> Int64 {
        try segments.values.reduce(0) { $0 + (try $1.approximateNumEntries()) }
    }

    func flush() throws {}

    func close() { segments = [:] }
}

/// Makes window stores' bytes (Kafka Streams' `WindowBytesStoreSupplier`).
public protocol WindowBytesStoreSupplier: SegmentedBytesStoreSupplier {
    /// The size of the windows stored, in ms (to give read windows their end).
    var windowSize: Int64 { get }
    /// Whether every put is kept, even for the same key and window (as stream–stream joins need).
    var retainDuplicates: Bool { get }
}

/// Makes session stores' bytes (Kafka Streams' `SessionBytesStoreSupplier`).
public protocol SessionBytesStoreSupplier: SegmentedBytesStoreSupplier {}

/// A byte store split into segments by a time read from each key, so that expiry drops whole
/// segments. Keys are laid out by ``WindowKeyLayout`` or ``SessionKeyLayout``.
///
/// Ranges visit the segments in time order, each in key order.
final class SegmentedBytesStore: BytesKeyValueStore {
    let name: String
    let persistent: Bool
    let retentionPeriod: Int64
    let segmentInterval: Int64
    private let space: any SegmentSpace
    private let time: ([UInt8]) -> Int64
    private let minimumKeyLength: Int
    /// Live segments in ascending id order.
    private var segments: [(id: Int64, store: any BytesKeyValueStore)] = []
    /// The largest time seen in a key; segments older than it by more than the retention are dropped.
    private(set) var observedStreamTime: Int64 = -1
    /// Writes skipped because their segment had already expired.
    private(set) var expiredWrites: Int64 = 0

    init(
        supplier: any SegmentedBytesStoreSupplier, directory: String, minimumKeyLength: Int,
        time: @escaping ([UInt8]) -> Int64
    ) throws {
        name = supplier.name
        persistent = supplier.persistent
        retentionPeriod = supplier.retentionPeriod
        segmentInterval = max(supplier.segmentInterval, 1)
        self.time = time
        self.minimumKeyLength = minimumKeyLength
        space = try supplier.openSegments(directory: directory)
        for id in try space.existingSegments() { segments.append((id, try space.segment(id))) }
        // The newest segment's start is a safe lower bound of the stream time the store had seen.
        if let last = segments.last { observedStreamTime = last.id * segmentInterval }
    }

    @inline(__always)
    private func segmentID(_ time: Int64) -> Int64 {
        time >= 0 ? time / segmentInterval : -((-time - 1) / segmentInterval) - 1
    }

    private var minimumLiveSegment: Int64 { segmentID(observedStreamTime - retentionPeriod) }

    private func index(of id: Int64) -> Int? {
        // Few segments are live at a time (retention / interval + 1); the newest are hit most.
        var position = segments.count - 1
        while position >= 0 {
            if segments[position].id == id { return position }
            if segments[position].id < id { return nil }
            position -= 1
        }
        return nil
    }

    private func segment(for id: Int64, create: Bool) throws -> (any BytesKeyValueStore)? {
        if let position = index(of: id) { return segments[position].store }
        guard create else { return nil }
        let store = try space.segment(id)
        let position = segments.firstIndex { $0.id > id } ?? segments.count
        segments.insert((id, store), at: position)
        return store
    }

    private func dropExpiredSegments() {
        let minimum = minimumLiveSegment
        while let first = segments.first, first.id < minimum {
            segments.removeFirst()
            first.store.close()
            try? space.drop(first.id)
        }
    }

    private func checkKey(_ key: [UInt8]) throws {
        guard key.count >= minimumKeyLength else {
            throw StateStoreError(store: name, message: "a key of \(key.count) bytes is shorter than a segmented key")
        }
    }

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        try checkKey(key)
        return try segment(for: segmentID(time(key)), create: false)?.get(key)
    }

    func put(_ key: [UInt8], _ value: [UInt8]?) throws {
        try checkKey(key)
        let keyTime = time(key)
        if keyTime > observedStreamTime {
            observedStreamTime = keyTime
            dropExpiredSegments()
        }
        let id = segmentID(keyTime)
        guard id >= minimumLiveSegment else {
            expiredWrites += 1
            return
        }
        try segment(for: id, create: value != nil)?.put(key, value)
    }

    /// Writes the entries of each segment in one batch, leaving what ``put`` of each in turn leaves:
    /// an entry whose segment had expired when its turn came is skipped, one whose segment a later
    /// entry expires is not written at all, and deletes make no segment.
    func putAll(_ entries: [(key: [UInt8], value: [UInt8]?)]) throws {
        guard entries.count > 1 else { return try entries.first.map { try put($0.key, $0.value) } ?? () }
        for entry in entries { try checkKey(entry.key) }
        var bySegment: [Int64: [(key: [UInt8], value: [UInt8]?)]] = [:]
        for entry in entries {
            let keyTime = time(entry.key)
            observedStreamTime = max(observedStreamTime, keyTime)
            let id = segmentID(keyTime)
            guard id >= minimumLiveSegment else {
                expiredWrites += 1
                continue
            }
            bySegment[id, default: []].append(entry)
        }
        dropExpiredSegments()
        let minimum = minimumLiveSegment
        for (id, writes) in bySegment.sorted(by: { $0.key < $1.key }) where id >= minimum {
            try segment(for: id, create: writes.contains { $0.value != nil })?.putAll(writes)
        }
    }

    /// Entries with `from <= key <= to`, from the segments whose times the bounds' times span.
    func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator {
        let lowest = try from.map { try checkKey($0); return segmentID(time($0)) } ?? .min
        let highest = try to.map { try checkKey($0); return segmentID(time($0)) } ?? .max
        let chosen = segments.filter { $0.id >= lowest && $0.id <= highest }
        return ConcatenatedIterator(try chosen.map { try $0.store.range(from: from, to: to) })
    }

    func approximateNumEntries() throws -> Int64 { try space.approximateNumEntries() }

    func flush() throws { try space.flush() }

    func close() {
        for segment in segments { segment.store.close() }
        segments = []
        space.close()
    }
}

/// The entries of several iterators, one after the other.
final class ConcatenatedIterator: BytesKeyValueIterator {
    private var iterators: [any BytesKeyValueIterator]
    private var position = 0

    init(_ iterators: [any BytesKeyValueIterator]) { self.iterators = iterators }

    func next() throws -> (key: [UInt8], value: [UInt8])? {
        while position < iterators.count {
            if let entry = try iterators[position].next() { return entry }
            position += 1
        }
        return nil
    }
}

/// Entries already read, as an iterator.
final class ArrayBytesIterator: BytesKeyValueIterator {
    private var entries: [(key: [UInt8], value: [UInt8])]
    private var position = 0

    init(_ entries: [(key: [UInt8], value: [UInt8])]) { self.entries = entries }

    func next() throws -> (key: [UInt8], value: [UInt8])? {
        guard position < entries.count else { return nil }
        defer { position += 1 }
        return entries[position]
    }
}
