import Foundation

/// Makes the byte stores that a window or session store keeps its time segments in.
public protocol SegmentedBytesStoreSupplier: Sendable {
    var name: String { get }
    var persistent: Bool { get }
    /// How long data is kept, in ms of stream time; older segments are dropped whole.
    var retentionPeriod: Int64 { get }
    /// The time span of one segment, in ms.
    var segmentInterval: Int64 { get }
    /// The byte store of one segment, named `segmentName`; `directory` is
    /// `<task directory>/<store name>/<segment name>` for persistent stores.
    func makeSegment(segmentName: String, directory: String) throws -> any BytesKeyValueStore
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
    private let directory: String
    private let supplier: any SegmentedBytesStoreSupplier
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
        self.supplier = supplier
        self.directory = directory
        self.time = time
        self.minimumKeyLength = minimumKeyLength
        if persistent {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StateStoreError(store: name, message: "could not create \(directory): \(error)")
            }
            try openExistingSegments()
        }
    }

    private func segmentName(_ id: Int64) -> String { "\(name).\(id * segmentInterval)" }

    private func openExistingSegments() throws {
        let prefix = "\(name)."
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let ids = entries.compactMap { entry -> Int64? in
            guard entry.hasPrefix(prefix), let start = Int64(entry.dropFirst(prefix.count)) else { return nil }
            return start / segmentInterval
        }.sorted()
        for id in ids {
            segments.append((id, try supplier.makeSegment(segmentName: segmentName(id), directory: "\(directory)/\(segmentName(id))")))
        }
        // The newest segment's start is a safe lower bound of the stream time the store had seen.
        if let last = ids.last { observedStreamTime = last * segmentInterval }
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
        let store = try supplier.makeSegment(segmentName: segmentName(id), directory: "\(directory)/\(segmentName(id))")
        let position = segments.firstIndex { $0.id > id } ?? segments.count
        segments.insert((id, store), at: position)
        return store
    }

    private func dropExpiredSegments() {
        let minimum = minimumLiveSegment
        while let first = segments.first, first.id < minimum {
            segments.removeFirst()
            first.store.close()
            if persistent { try? FileManager.default.removeItem(atPath: "\(directory)/\(segmentName(first.id))") }
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

    func putAll(_ entries: [(key: [UInt8], value: [UInt8]?)]) throws {
        for entry in entries { try put(entry.key, entry.value) }
    }

    /// Entries with `from <= key <= to`, from the segments whose times the bounds' times span.
    func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator {
        let lowest = try from.map { try checkKey($0); return segmentID(time($0)) } ?? .min
        let highest = try to.map { try checkKey($0); return segmentID(time($0)) } ?? .max
        let chosen = segments.filter { $0.id >= lowest && $0.id <= highest }
        return ConcatenatedIterator(try chosen.map { try $0.store.range(from: from, to: to) })
    }

    func approximateNumEntries() throws -> Int64 {
        try segments.reduce(0) { $0 + (try $1.store.approximateNumEntries()) }
    }

    func flush() throws {
        for segment in segments { try segment.store.flush() }
    }

    func close() {
        for segment in segments { segment.store.close() }
        segments = []
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
