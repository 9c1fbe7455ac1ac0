/// The entries of one caching store: each in a slot of one array, found by an open-addressing hash
/// index over the slots, and threaded on two lists: every entry from the least to the most recently
/// written (what eviction takes from), and the dirty entries in the same order (what a flush walks).
///
/// A write moves its entry to the end of both lists, so neither a write nor an eviction nor a flush
/// meets stale positions, and the hash index hashes a key's bytes once per lookup with a seeded
/// word-at-a-time hash: the standard library's SipHash cost a windowed count about 470 instructions
/// a key, with three or four lookups per record.
struct CacheEntries {
    struct Slot {
        var key: [UInt8]
        var value: [UInt8]?
        /// What the inner store holds for the key, when `storedKnown`; else it is read at write-through.
        var stored: [UInt8]?
        var hash: Int
        /// The timestamp of the record that last wrote the entry.
        var timestamp: Int64
        var storedKnown: Bool
        var dirty: Bool

        static let free = Slot(key: [], value: nil, stored: nil, hash: 0, timestamp: 0, storedKnown: false, dirty: false)
    }

    private(set) var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    /// Slot numbers by hash, `-1` where empty; linear probing, at most half full.
    private var buckets = [Int32](repeating: -1, count: 16)
    /// Every entry, least recently written first.
    private(set) var written = SlotList()
    /// The dirty entries, least recently written first.
    private(set) var dirty = SlotList()
    private let seed: UInt64

    var count: Int { slots.count - freeSlots.count }

    init() {
        var generator = SystemRandomNumberGenerator()
        seed = generator.next()
    }

    /// A key's hash: 8 bytes at a time, multiplied and rotated, then the MurmurHash3 finalizer, so
    /// that the low bits the index uses depend on every byte.
    @inline(__always)
    func hash(_ key: [UInt8]) -> Int {
        key.withUnsafeBytes { raw in
            var h = seed ^ (UInt64(truncatingIfNeeded: raw.count) &* 0x9E37_79B9_7F4A_7C15)
            var offset = 0
            while offset + 8 <= raw.count {
                h = (h ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
                h = h << 31 | h >> 33
                offset += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while offset < raw.count {
                tail |= UInt64(raw[offset]) << shift
                shift += 8
                offset += 1
            }
            h ^= tail
            h ^= h >> 33
            h = h &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 33
            h = h &* 0xC4CE_B9FE_1A85_EC53
            h ^= h >> 33
            return Int(truncatingIfNeeded: h)
        }
    }

    /// The slot holding `key` (whose hash is `hash`), or `nil`.
    @inline(__always)
    func find(_ key: [UInt8], hash: Int) -> Int? {
        let mask = buckets.count - 1
        var bucket = hash & mask
        while true {
            let slot = Int(buckets[bucket])
            if slot < 0 { return nil }
            if slots[slot].hash == hash && slots[slot].key == key { return slot }
            bucket = (bucket + 1) & mask
        }
    }

    /// Adds an entry for a key the cache does not hold; returns its slot, newest on both lists (it
    /// is dirty).
    mutating func insert(_ slot: Slot) -> Int {
        if (count + 1) * 2 > buckets.count { rehash(capacity: buckets.count * 2) }
        let index: Int
        if let free = freeSlots.popLast() {
            index = Int(free)
            slots[index] = slot
        } else {
            index = slots.count
            slots.append(slot)
            written.grow(to: slots.count)
            dirty.grow(to: slots.count)
        }
        let mask = buckets.count - 1
        var bucket = slot.hash & mask
        while buckets[bucket] >= 0 { bucket = (bucket + 1) & mask }
        buckets[bucket] = Int32(index)
        written.append(index)
        if slot.dirty { dirty.append(index) }
        return index
    }

    /// Marks a slot just written: newest on both lists.
    mutating func touch(_ slot: Int) {
        written.remove(slot)
        written.append(slot)
        if slots[slot].dirty { dirty.remove(slot) } else { slots[slot].dirty = true }
        dirty.append(slot)
    }

    /// Marks a slot clean, off the dirty list.
    mutating func clean(_ slot: Int) {
        guard slots[slot].dirty else { return }
        slots[slot].dirty = false
        dirty.remove(slot)
    }

    /// Takes a slot's entry out of the cache.
    mutating func remove(_ slot: Int) -> Slot {
        written.remove(slot)
        if slots[slot].dirty { dirty.remove(slot) }
        let mask = buckets.count - 1
        var hole = slots[slot].hash & mask
        while Int(buckets[hole]) != slot { hole = (hole + 1) & mask }
        // Backward-shift deletion: move later entries of the probe run into the hole when their
        // home bucket is not after it, so that every probe still meets its key before an empty bucket.
        var next = (hole + 1) & mask
        while buckets[next] >= 0 {
            let home = slots[Int(buckets[next])].hash & mask
            if (next - home) & mask >= (next - hole) & mask {
                buckets[hole] = buckets[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        buckets[hole] = -1
        var entry = Slot.free
        swap(&entry, &slots[slot])
        freeSlots.append(Int32(slot))
        return entry
    }

    mutating func setValue(_ slot: Int, _ value: [UInt8]?, timestamp: Int64) {
        slots[slot].value = value
        slots[slot].timestamp = timestamp
    }

    mutating func setStored(_ slot: Int, _ stored: [UInt8]?) {
        slots[slot].storedKnown = true
        slots[slot].stored = stored
    }

    private mutating func rehash(capacity: Int) {
        buckets = [Int32](repeating: -1, count: capacity)
        let mask = capacity - 1
        var slot = written.eldest
        while slot >= 0 {
            var bucket = slots[slot].hash & mask
            while buckets[bucket] >= 0 { bucket = (bucket + 1) & mask }
            buckets[bucket] = Int32(slot)
            slot = written.newer(than: slot)
        }
    }
}

/// A doubly linked list threaded through slot numbers, oldest first; `-1` ends it.
struct SlotList {
    private(set) var eldest = -1
    private var newest = -1
    private var older: [Int32] = []
    private var newerLinks: [Int32] = []

    var isEmpty: Bool { eldest < 0 }

    mutating func grow(to count: Int) {
        older.append(contentsOf: repeatElement(-1, count: count - older.count))
        newerLinks.append(contentsOf: repeatElement(-1, count: count - newerLinks.count))
    }

    func newer(than slot: Int) -> Int { Int(newerLinks[slot]) }

    mutating func append(_ slot: Int) {
        older[slot] = Int32(newest)
        newerLinks[slot] = -1
        if newest >= 0 { newerLinks[newest] = Int32(slot) } else { eldest = slot }
        newest = slot
    }

    mutating func remove(_ slot: Int) {
        let before = Int(older[slot])
        let after = Int(newerLinks[slot])
        if before >= 0 { newerLinks[before] = Int32(after) } else { eldest = after }
        if after >= 0 { older[after] = Int32(before) } else { newest = before }
    }
}
