/// The record cache of one stream thread (`statestore.cache.max.bytes`, 10 MiB by default, split
/// between threads), shared by the caching stores of the thread's tasks.
///
/// A caching store keeps the latest value of each key it is written, and writes it through (to
/// the store, its changelog and, for DSL tables, downstream) only when the entry is evicted or the
/// task commits: updates of a key between commits collapse into one.
package final class RecordCache {
    package let maxBytes: Int
    package private(set) var sizeBytes = 0

    package init(maxBytes: Int) { self.maxBytes = maxBytes }

    func resize(by delta: Int) { sizeBytes += delta }

    /// Evicts from `store` (the one just written) until the cache fits.
    func evictIfFull(from store: CachingBytesStore) throws {
        while sizeBytes > maxBytes, try store.evictEldest() {}
    }
}

/// What a caching store calls when it writes an entry through: the key, the new value (`nil` =
/// deleted), the value the store held before, and the timestamp of the record that wrote it.
typealias CacheFlushListener = (_ key: [UInt8], _ newValue: [UInt8]?, _ oldValue: [UInt8]?, _ timestamp: Int64) throws -> Void

/// A byte store in front of another that keeps writes in the thread's ``RecordCache`` until they are
/// evicted or flushed; reads see the cached writes.
final class CachingBytesStore: BytesKeyValueStore {
    private struct Entry {
        var value: [UInt8]?
        var dirty: Bool
        var timestamp: Int64
        /// Matches the entry's latest position in `order`; older positions are stale.
        var generation: Int
    }

    let inner: any BytesKeyValueStore
    private unowned let cache: RecordCache
    private let timestamp: () -> Int64
    private var entries: [CacheKey: Entry] = [:]
    /// Keys in least-recently-written order, with the generation they were written at; positions
    /// before `head` are consumed, and stale positions are skipped.
    private var order: [(key: [UInt8], generation: Int)] = []
    private var head = 0
    private var nextGeneration = 0
    private var bytes = 0
    /// Told about every entry written through; set by the DSL processor that owns the store.
    var flushListener: CacheFlushListener?

    /// `timestamp` gives the timestamp of the record being processed.
    init(_ inner: any BytesKeyValueStore, cache: RecordCache, timestamp: @escaping () -> Int64) {
        self.inner = inner
        self.cache = cache
        self.timestamp = timestamp
    }

    var name: String { inner.name }
    var persistent: Bool { inner.persistent }

    private static func size(_ key: [UInt8], _ value: [UInt8]?) -> Int { key.count + (value?.count ?? 0) + 64 }

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        if let entry = entries[CacheKey(key)] { return entry.value }
        return try inner.get(key)
    }

    func put(_ key: [UInt8], _ value: [UInt8]?) throws {
        let generation = nextGeneration
        nextGeneration += 1
        let entry = Entry(value: value, dirty: true, timestamp: timestamp(), generation: generation)
        var delta = Self.size(key, value)
        if let old = entries.updateValue(entry, forKey: CacheKey(key)) { delta -= Self.size(key, old.value) }
        bytes += delta
        cache.resize(by: delta)
        order.append((key, generation))
        try cache.evictIfFull(from: self)
    }

    func putAll(_ batch: [(key: [UInt8], value: [UInt8]?)]) throws {
        for entry in batch { try put(entry.key, entry.value) }
    }

    /// Writes the least recently written entry through and drops it; `false` when the store has none.
    func evictEldest() throws -> Bool {
        while head < order.count {
            let (key, generation) = order[head]
            head += 1
            guard let entry = entries[CacheKey(key)], entry.generation == generation else { continue }
            if entry.dirty { try writeThrough(key, entry) }
            entries[CacheKey(key)] = nil
            let size = Self.size(key, entry.value)
            bytes -= size
            cache.resize(by: -size)
            compactOrder()
            return true
        }
        return false
    }

    private func writeThrough(_ key: [UInt8], _ entry: Entry) throws {
        let old = flushListener != nil ? try inner.get(key) : nil
        try inner.put(key, entry.value)
        try flushListener?(key, entry.value, old, entry.timestamp)
    }

    private func compactOrder() {
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    /// Writes every dirty entry through, oldest first; entries stay cached, clean.
    func flushCache() throws {
        var position = head
        while position < order.count {
            let (key, generation) = order[position]
            position += 1
            guard var entry = entries[CacheKey(key)], entry.generation == generation, entry.dirty else { continue }
            try writeThrough(key, entry)
            entry.dirty = false
            entries[CacheKey(key)] = entry
        }
        // Only the latest position of each key is live; drop the rest.
        order = order[head...].filter { entries[CacheKey($0.key)]?.generation == $0.generation }
        head = 0
    }

    func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator {
        var merged: [[UInt8]: [UInt8]] = [:]
        let stored = try inner.range(from: from, to: to)
        while let entry = try stored.next() { merged[entry.key] = entry.value }
        for (cacheKey, entry) in entries {
            let key = cacheKey.bytes
            if let from, key.lexicographicallyPrecedes(from) { continue }
            if let to, to.lexicographicallyPrecedes(key) { continue }
            merged[key] = entry.value
        }
        return ArrayBytesIterator(
            merged.map { (key: $0.key, value: $0.value) }.sorted { $0.key.lexicographicallyPrecedes($1.key) })
    }

    func approximateNumEntries() throws -> Int64 { try inner.approximateNumEntries() + Int64(entries.count) }

    func flush() throws {
        try flushCache()
        try inner.flush()
    }

    func close() {
        cache.resize(by: -bytes)
        bytes = 0
        entries = [:]
        inner.close()
    }
}

/// Key bytes hashed in one pass (an array of bytes hashes byte by byte).
struct CacheKey: Hashable {
    let bytes: [UInt8]

    @inline(__always)
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func == (a: CacheKey, b: CacheKey) -> Bool { a.bytes == b.bytes }
}
