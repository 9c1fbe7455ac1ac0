/// A byte store in front of another that keeps writes in the thread's ``RecordCache`` until they are
/// evicted or flushed; reads see the cached writes.
///
/// As Kafka Streams' `NamedCache`, eviction takes the least recently written entry, and writing
/// through (at a commit, or when the entry evicted is dirty) writes every dirty entry: to the inner
/// store in one batch, then to the flush listener in the order they were last written. A listener
/// may write this store again: an entry it writes is dirty anew, and a flush writes it through too.
/// A deletion, once written through, leaves the cache: it would only take the room of live entries.
///
/// Only its stream thread uses it (interactive queries take the thread's store lock), and no access
/// to its fields spans a call that could reach them again, so the fields skip the runtime's
/// exclusivity checks.
final class CachingBytesStore: BytesKeyValueStore {
    let inner: any BytesKeyValueStore
    private unowned let cache: RecordCache
    private let timestamp: () -> Int64
    @exclusivity(unchecked) private var entries = CacheEntries()
    @exclusivity(unchecked) private var bytes = 0
    /// The last key `get` looked up, with its hash and its slot (`nil`: not cached, and then what the
    /// inner store held): the `put` of a read-modify-write (an aggregation's) then neither hashes the
    /// key again nor, at write-through, reads the inner store for the old value. Any other write,
    /// eviction or write-through forgets it.
    @exclusivity(unchecked) private var lastKey: [UInt8]?
    @exclusivity(unchecked) private var lastHash = 0
    @exclusivity(unchecked) private var lastSlot: Int?
    @exclusivity(unchecked) private var lastStored: [UInt8]?
    /// How many batches are telling the listener (which may write this store again, and so write
    /// another batch through), and which nested batch (by serial number) last wrote each key.
    @exclusivity(unchecked) private var writingThrough = 0
    @exclusivity(unchecked) private var batches = 0
    @exclusivity(unchecked) private var writtenByNestedBatches: [[UInt8]: Int] = [:]
    /// Told about every entry written through; set by the DSL processor that owns the store.
    var flushListener: CacheFlushListener?
    /// For a window or session store, the length of its keys' time suffix: what comes before it is
    /// the record key, which its range queries share at both ends.
    private let keySuffix: Int?
    /// The cached keys by record key, built at the first range query of a window or session store
    /// and kept from then on: such a range reads one record key's entries, not the whole cache.
    @exclusivity(unchecked) private var byRecordKey: [CacheKey: [[UInt8]]]?

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
        let hash = entries.hash(key)
        if let slot = entries.find(key, hash: hash) {
            (lastKey, lastHash, lastSlot, lastStored) = (key, hash, slot, nil)
            return entries.slots[slot].value
        }
        let value = try inner.get(key)
        (lastKey, lastHash, lastSlot, lastStored) = (key, hash, nil, value)
        return value
    }

    func put(_ key: [UInt8], _ value: [UInt8]?) throws {
        let hash: Int
        let slot: Int?
        /// What the inner store holds for the key, when known.
        var stored: [UInt8]??
        if let lastKey, lastKey == key {
            hash = lastHash
            slot = lastSlot
            if slot == nil { stored = .some(lastStored) }
        } else {
            hash = entries.hash(key)
            slot = entries.find(key, hash: hash)
        }
        forgetLastRead()
        var delta = Self.size(key, value)
        if let slot {
            delta -= Self.size(key, entries.slots[slot].value)
            entries.setValue(slot, value, timestamp: timestamp())
            entries.touch(slot)
        } else {
            _ = entries.insert(
                CacheEntries.Slot(
                    key: key, value: value, stored: stored ?? nil, hash: hash, timestamp: timestamp(),
                    storedKnown: stored != nil, dirty: true))
            if byRecordKey != nil, let recordKey = recordKey(of: key) { byRecordKey![recordKey, default: []].append(key) }
        }
        bytes += delta
        cache.resize(by: delta)
        try cache.evictIfFull(from: self)
    }

    func putAll(_ batch: [(key: [UInt8], value: [UInt8]?)]) throws {
        for entry in batch { try put(entry.key, entry.value) }
    }

    private func forgetLastRead() {
        lastKey = nil
        lastSlot = nil
        lastStored = nil
    }

    /// Drops the least recently written entry; `false` when the store has none. As Kafka Streams'
    /// `NamedCache`, an entry evicted dirty is written through with every other dirty entry, in one
    /// batch.
    func evictEldest() throws -> Bool {
        let eldest = entries.written.eldest
        guard eldest >= 0 else { return false }
        let entry = remove(eldest)
        if entry.dirty { try writeDirtyEntries(evicted: entry) }
        return true
    }

    private func remove(_ slot: Int) -> CacheEntries.Slot {
        forgetLastRead()
        let entry = entries.remove(slot)
        if byRecordKey != nil { unindex(entry.key) }
        let size = Self.size(entry.key, entry.value)
        bytes -= size
        cache.resize(by: -size)
        return entry
    }

    /// Removes the deletions of `batch`, just written through, that are still cached clean (the
    /// listener may have written their keys again).
    private func removeWrittenDeletions(_ batch: [(key: [UInt8], value: [UInt8]?)]) {
        for written in batch where written.value == nil {
            guard let slot = entries.find(written.key, hash: entries.hash(written.key)) else { continue }
            let entry = entries.slots[slot]
            if !entry.dirty && entry.value == nil { _ = remove(slot) }
        }
    }

    /// Writes every dirty entry through, least recently written first; entries stay cached, clean,
    /// but for deletions.
    /// Entries the listener writes meanwhile are written through too, up to ``maxFlushPasses``
    /// rounds: a listener that writes the store again at every write-through would never let a
    /// flush end, and fails it instead.
    func flushCache() throws {
        var passes = 0
        while !entries.dirty.isEmpty {
            guard passes < Self.maxFlushPasses else {
                throw StreamsError.other(
                    "store '\(name)' was written again by its flush listener at each of \(passes) write-throughs of one "
                        + "flush: a processor downstream of the store writes it for every update it receives, which never ends")
            }
            passes += 1
            try writeDirtyEntries(evicted: nil)
        }
    }

    /// How many rounds of write-through one flush takes at most (see ``flushCache()``).
    static let maxFlushPasses = 1_000

    /// Writes `evicted` (out of the cache already) and the dirty entries through: to the inner store
    /// in one batch, then to the listener one by one, least recently written first, each with what the
    /// inner store held before. The listener may write this store again; what it writes is dirty anew.
    private func writeDirtyEntries(evicted: CacheEntries.Slot?) throws {
        let listener = flushListener
        var batch: [(key: [UInt8], value: [UInt8]?)] = []
        /// Per entry of `batch`: what the inner store held (read before the batch overwrites it, when
        /// the cache does not know it and a listener is told), and the timestamp of its last write.
        var told: [(old: [UInt8]?, timestamp: Int64)] = []
        func add(_ entry: CacheEntries.Slot) throws {
            batch.append((entry.key, entry.value))
            let old = listener == nil ? nil : entry.storedKnown ? entry.stored : try inner.get(entry.key)
            told.append((old, entry.timestamp))
        }
        if let evicted { try add(evicted) }
        while entries.dirty.eldest >= 0 {
            let slot = entries.dirty.eldest
            let entry = entries.slots[slot]
            entries.clean(slot)
            entries.setStored(slot, entry.value)
            try add(entry)
        }
        forgetLastRead()
        try inner.putAll(batch)
        guard let listener else { return removeWrittenDeletions(batch) }
        batches += 1
        let serial = batches
        writingThrough += 1
        defer {
            writingThrough -= 1
            if writingThrough == 0 { writtenByNestedBatches = [:] }
        }
        if writingThrough > 1 { for entry in batch { writtenByNestedBatches[entry.key] = serial } }
        for index in batch.indices {
            // The listener wrote this key again and a batch nested in this one has already written
            // it through and told the listener: the newer value stands, and telling this one now
            // would put the key's updates out of order downstream.
            if !writtenByNestedBatches.isEmpty, let nested = writtenByNestedBatches[batch[index].key], nested > serial {
                continue
            }
            try listener(batch[index].key, batch[index].value, told[index].old, told[index].timestamp)
        }
        removeWrittenDeletions(batch)
    }

    /// The stored entries in the range, overlaid with the cached ones. In a window or session store,
    /// a range whose bounds have the same record key yields that record key's entries only (longer
    /// record keys that begin with it fall in the byte range too; the typed stores skip them).
    func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator {
        var merged: [[UInt8]: [UInt8]] = [:]
        func overlay(_ key: [UInt8], _ value: [UInt8]?) {
            if let from, key.lexicographicallyPrecedes(from) { return }
            if let to, to.lexicographicallyPrecedes(key) { return }
            merged[key] = value
        }
        let stored = try inner.range(from: from, to: to)
        if let from, let to, let recordKey = recordKey(of: from), recordKey == self.recordKey(of: to) {
            let recordKeyLength = recordKey.bytes.count
            while let entry = try stored.next() {
                guard entry.key.count - keySuffix! == recordKeyLength else { continue }
                merged[entry.key] = entry.value
            }
            if byRecordKey == nil { indexByRecordKey() }
            for key in byRecordKey![recordKey] ?? [] {
                if let slot = entries.find(key, hash: entries.hash(key)) { overlay(key, entries.slots[slot].value) }
            }
        } else {
            while let entry = try stored.next() { merged[entry.key] = entry.value }
            var slot = entries.written.eldest
            while slot >= 0 {
                overlay(entries.slots[slot].key, entries.slots[slot].value)
                slot = entries.written.newer(than: slot)
            }
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
        var slot = entries.written.eldest
        while slot >= 0 {
            let key = entries.slots[slot].key
            if let recordKey = recordKey(of: key) { index[recordKey, default: []].append(key) }
            slot = entries.written.newer(than: slot)
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
        entries = CacheEntries()
        forgetLastRead()
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
