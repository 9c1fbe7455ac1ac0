/// The record cache of one stream thread (`statestore.cache.max.bytes`, 10 MiB by default, split
/// between threads), shared by the caching stores of the thread's tasks.
///
/// A caching store keeps the latest value of each key it is written, and writes it through (to
/// the store, its changelog and, for DSL tables, downstream) only when the entry is evicted or the
/// task commits: updates of a key between commits collapse into one.
package final class RecordCache {
    package let maxBytes: Int
    @exclusivity(unchecked) package private(set) var sizeBytes = 0

    package init(maxBytes: Int) { self.maxBytes = maxBytes }

    func resize(by delta: Int) { sizeBytes += delta }

    /// Evicts from `store` (the one just written) until the cache fits.
    func evictIfFull(from store: CachingBytesStore) throws {
        while sizeBytes > maxBytes, try store.evictEldest() {}
    }
}

/// What a caching store calls when it writes an entry through: the key, the new value (`nil` =
/// deleted), the value the store held before, and the timestamp of the record that wrote it.
@usableFromInline
typealias CacheFlushListener = (_ key: [UInt8], _ newValue: [UInt8]?, _ oldValue: [UInt8]?, _ timestamp: Int64) throws -> Void

/// A byte store in front of another that keeps writes in the thread's ``RecordCache`` until they are
/// evicted or flushed; reads see the cached writes.
///
/// Only its stream thread uses it (interactive queries take the thread's store lock), and no access
/// to its fields spans a call that could reach them again, so the fields skip the runtime's
/// exclusivity checks: six of them per write cost 3 % of a windowed count.
final class CachingBytesStore: BytesKeyValueStore {
    private struct Entry {
        var value: [UInt8]?
        var dirty: Bool
        /// Whether `stored` is what the inner store holds for the key (else it is read at write-through).
        var storedKnown: Bool
        var stored: [UInt8]?
        var timestamp: Int64
        /// Matches the entry's latest position in `order`; older positions are stale.
        var generation: Int
    }

    let inner: any BytesKeyValueStore
    private unowned let cache: RecordCache
    private let timestamp: () -> Int64
    @exclusivity(unchecked) private var entries: [CacheKey: Entry] = [:]
    /// Keys in least-recently-written order, with the generation they were written at; positions
    /// before `head` are consumed, and stale positions are skipped.
    @exclusivity(unchecked) private var order: [(key: [UInt8], generation: Int)] = []
    @exclusivity(unchecked) private var head = 0
    @exclusivity(unchecked) private var nextGeneration = 0
    @exclusivity(unchecked) private var bytes = 0
    /// The last key read from the inner store and what it held, until the next write: a read-modify-
    /// write (an aggregation's) then needs no second read of the inner store for the old value.
    @exclusivity(unchecked) private var lastRead: (key: [UInt8], value: [UInt8]?)?
    /// Told about every entry written through; set by the DSL processor that owns the store.
    var flushListener: CacheFlushListener?
    /// For a window or session store, the length of its keys' time suffix: what comes before it is
    /// the record key, which its range queries share at both ends.
    private let keySuffix: Int?
    /// The cached keys by record key, built at the first range query of a window or session store
    /// and kept from then on: such a range reads one record key's entries, not the whole cache.
    @exclusivity(unchecked) private var byRecordKey: [CacheKey: [[UInt8]]]?
    /// How many evictions and flushes are under way: a listener may write this store again, and
    /// the nested eviction must not compact `order` under the outer one's positions.
    @exclusivity(unchecked) private var writingThrough = 0

    /// `timestamp` gives the timestamp of the record being processed.
    init(_ inner: any BytesKeyValueStore, cache: RecordCache, keySuffix: Int? = nil, timestamp: @escaping () -> Int64) {
        self.inner = inner
        self.cache = cache
        self.keySuffix = keySuffix
        self.timestamp = timestamp
    }

    var name: String { inner.name }
    var persistent: Bool { inner.persistent }

    private static func size(_ key: [UInt8], _ value: [UInt8]?) -> Int { key.count + (value?.count ?? 0) + 64 }

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        if let entry = entries[CacheKey(key)] { return entry.value }
        let value = try inner.get(key)
        lastRead = (key, value)
        return value
    }

    func put(_ key: [UInt8], _ value: [UInt8]?) throws {
        let generation = nextGeneration
        nextGeneration += 1
        let read = lastRead
        lastRead = nil
        var delta = Self.size(key, value)
        let cacheKey = CacheKey(key)
        if let index = entries.index(forKey: cacheKey) {
            delta -= Self.size(key, entries.values[index].value)
            entries.values[index].value = value
            entries.values[index].dirty = true
            entries.values[index].timestamp = timestamp()
            entries.values[index].generation = generation
        } else {
            let known = read.map { $0.key == key } ?? false
            entries[cacheKey] = Entry(
                value: value, dirty: true, storedKnown: known, stored: known ? read!.value : nil, timestamp: timestamp(),
                generation: generation)
            if byRecordKey != nil, let recordKey = recordKey(of: key) { byRecordKey![recordKey, default: []].append(key) }
        }
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
        writingThrough += 1
        defer {
            writingThrough -= 1
            compactOrder()
        }
        while head < order.count {
            let (key, generation) = order[head]
            head += 1
            guard let index = entries.index(forKey: CacheKey(key)), entries.values[index].generation == generation else {
                continue
            }
            let entry = entries.values[index]
            if entry.dirty { try writeThrough(key, entry) }
            if let after = entries.index(forKey: CacheKey(key)) {
                if entries.values[after].generation == generation {
                    entries.remove(at: after)
                    if byRecordKey != nil { unindex(key) }
                    let size = Self.size(key, entry.value)
                    bytes -= size
                    cache.resize(by: -size)
                } else {
                    // The listener wrote the key again: its newer entry stays (dirty, at a later
                    // position), knowing what the store now holds.
                    entries.values[after].storedKnown = true
                    entries.values[after].stored = entry.value
                }
            }
            // Else the listener wrote the key again and a nested eviction dropped that newer entry,
            // whose put and eviction have already accounted for its size.
            return true
        }
        return false
    }

    private func writeThrough(_ key: [UInt8], _ entry: Entry) throws {
        let old = flushListener == nil ? nil : entry.storedKnown ? entry.stored : try inner.get(key)
        lastRead = nil
        try inner.put(key, entry.value)
        try flushListener?(key, entry.value, old, entry.timestamp)
    }

    private func compactOrder() {
        if writingThrough == 0 && head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    /// Writes every dirty entry through, oldest first; entries stay cached, clean.
    func flushCache() throws {
        writingThrough += 1
        defer { writingThrough -= 1 }
        var position = head
        while position < order.count {
            let (key, generation) = order[position]
            position += 1
            guard let index = entries.index(forKey: CacheKey(key)) else { continue }
            let entry = entries.values[index]
            guard entry.generation == generation, entry.dirty else { continue }
            try writeThrough(key, entry)
            // The listener may have written the key again: its newer entry stays dirty.
            guard let after = entries.index(forKey: CacheKey(key)) else { continue }
            if entries.values[after].generation == generation { entries.values[after].dirty = false }
            entries.values[after].storedKnown = true
            entries.values[after].stored = entry.value
        }
        // Only the latest position of each key is live; drop the rest.
        order = order[head...].filter { entries[CacheKey($0.key)]?.generation == $0.generation }
        head = 0
    }

    /// The stored entries in the range, overlaid with the cached ones. In a window or session store,
    /// a range whose bounds have the same record key yields that record key's entries only (longer
    /// record keys that begin with it fall in the byte range too; the typed stores skip them).
    func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator {
        var merged: [[UInt8]: [UInt8]] = [:]
        func overlay(_ key: [UInt8], _ entry: Entry) {
            if let from, key.lexicographicallyPrecedes(from) { return }
            if let to, to.lexicographicallyPrecedes(key) { return }
            merged[key] = entry.value
        }
        let stored = try inner.range(from: from, to: to)
        if let from, let to, let recordKey = recordKey(of: from), recordKey == self.recordKey(of: to) {
            let recordKeyLength = recordKey.bytes.count
            while let entry = try stored.next() {
                guard entry.key.count - keySuffix! == recordKeyLength else { continue }
                merged[entry.key] = entry.value
            }
            if byRecordKey == nil { indexByRecordKey() }
            for key in byRecordKey![recordKey] ?? [] { if let entry = entries[CacheKey(key)] { overlay(key, entry) } }
        } else {
            while let entry = try stored.next() { merged[entry.key] = entry.value }
            for (cacheKey, entry) in entries { overlay(cacheKey.bytes, entry) }
        }
        return ArrayBytesIterator(
            merged.map { (key: $0.key, value: $0.value) }.sorted { $0.key.lexicographicallyPrecedes($1.key) })
    }

    /// The record key part of a window or session store's key.
    private func recordKey(of key: [UInt8]) -> CacheKey? {
        guard let keySuffix, key.count >= keySuffix else { return nil }
        return CacheKey(Array(key[..<(key.count - keySuffix)]))
    }

    private func indexByRecordKey() {
        var index: [CacheKey: [[UInt8]]] = [:]
        for cacheKey in entries.keys {
            if let recordKey = recordKey(of: cacheKey.bytes) { index[recordKey, default: []].append(cacheKey.bytes) }
        }
        byRecordKey = index
    }

    private func unindex(_ key: [UInt8]) {
        guard let recordKey = recordKey(of: key), var keys = byRecordKey![recordKey] else { return }
        keys.removeAll { $0 == key }
        byRecordKey![recordKey] = keys.isEmpty ? nil : keys
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
        byRecordKey = nil
        inner.close()
    }
}

/// Key bytes, hashed once in one pass (an array of bytes hashes byte by byte); the hash is kept, so
/// that a hash-table probe compares it before touching the bytes.
struct CacheKey: Hashable {
    let bytes: [UInt8]
    let hash: Int

    @inline(__always)
    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var hasher = Hasher()
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        hash = hasher.finalize()
    }

    func hash(into hasher: inout Hasher) { hasher.combine(hash) }

    static func == (a: CacheKey, b: CacheKey) -> Bool { a.hash == b.hash && a.bytes == b.bytes }
}
