@testable import Rill
import TestSupport
import XCTest

/// The caching store in front of a byte store: what it writes through, and what its ranges see.
final class RecordCacheTests: XCTestCase {
    /// A caching store over an in-memory store whose listener checks each write-through's old value
    /// against what the inner store held; the cache holds a few entries only, so puts evict.
    final class Harness {
        let inner = InMemoryKeyValueStore(name: "s")
        let cache: RecordCache
        let store: CachingBytesStore
        /// What the inner store holds, as the write-throughs told it.
        var written: [[UInt8]: [UInt8]] = [:]
        var wrongOldValues: [String] = []
        var writeThroughs = 0

        init(cacheBytes: Int, keySuffix: Int? = nil) {
            cache = RecordCache(maxBytes: cacheBytes)
            store = CachingBytesStore(inner, cache: cache, keySuffix: keySuffix, timestamp: { 0 })
            store.flushListener = { [unowned self] key, new, old, _ in
                if old != written[key] { wrongOldValues.append("\(key): \(String(describing: old)) != \(String(describing: written[key]))") }
                written[key] = new
                writeThroughs += 1
            }
        }
    }

    func testEveryWriteThroughGivesTheValueTheInnerStoreHeldAsTheOldValue() throws {
        var random = SeededGenerator(seed: 8)
        let harness = Harness(cacheBytes: 5 * (64 + 2 + 1))
        var model: [[UInt8]: [UInt8]] = [:]
        for step in 0..<20_000 {
            let key: [UInt8] = [UInt8.random(in: 0..<12, using: &random), 0]
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<3:
                // A read-modify-write, as an aggregation does.
                let old = try harness.store.get(key)
                XCTAssertEqual(old, model[key], "step \(step)")
                let new = [UInt8((old?.first ?? 0) &+ 1)]
                try harness.store.put(key, new)
                model[key] = new
            case 3..<6:
                let new = [UInt8.random(in: 0...255, using: &random)]
                try harness.store.put(key, new)
                model[key] = new
            case 6:
                try harness.store.put(key, nil)
                model[key] = nil
            case 7:
                try harness.store.flushCache()
            default:
                XCTAssertEqual(try harness.store.get(key), model[key], "step \(step)")
            }
        }
        try harness.store.flushCache()
        XCTAssertEqual(harness.wrongOldValues, [])
        XCTAssertGreaterThan(harness.writeThroughs, 1_000)
        for (key, value) in model { XCTAssertEqual(try harness.inner.get(key), value) }
    }

    /// Counts the batches and single writes that reach the store under the cache.
    final class RecordingStore: BytesKeyValueStore {
        let inner = InMemoryKeyValueStore(name: "s")
        var batches: [[[UInt8]]] = []
        var singleWrites = 0
        var name: String { inner.name }
        var persistent: Bool { false }
        func get(_ key: [UInt8]) throws -> [UInt8]? { try inner.get(key) }
        func put(_ key: [UInt8], _ value: [UInt8]?) throws {
            singleWrites += 1
            try inner.put(key, value)
        }
        func putAll(_ entries: [(key: [UInt8], value: [UInt8]?)]) throws {
            batches.append(entries.map(\.key))
            try inner.putAll(entries)
        }
        func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator { try inner.range(from: from, to: to) }
        func approximateNumEntries() throws -> Int64 { try inner.approximateNumEntries() }
        func flush() throws {}
        func close() {}
    }

    func testEvictingADirtyEntryWritesEveryDirtyEntryThroughInOneBatch() throws {
        let inner = RecordingStore()
        // Room for three entries of a 2-byte key and a 1-byte value (64 bytes of overhead each).
        let cache = RecordCache(maxBytes: 3 * (64 + 2 + 1))
        let store = CachingBytesStore(inner, cache: cache, timestamp: { 0 })
        var told: [UInt8] = []
        store.flushListener = { key, _, _, _ in told.append(key[0]) }
        for key: UInt8 in [3, 1, 2] { try store.put([key, 0], [key]) }
        try store.put([3, 0], [30])
        // Key 1 is the least recently written: evicting it dirty writes all four dirty entries through
        // (as Kafka Streams' NamedCache), in the order they were last written, in one batch.
        try store.put([4, 0], [4])
        XCTAssertEqual(inner.batches, [[[1, 0], [2, 0], [3, 0], [4, 0]]])
        XCTAssertEqual(told, [1, 2, 3, 4])
        XCTAssertEqual(inner.singleWrites, 0)
        XCTAssertEqual(try inner.get([3, 0]), [30])
        // The next evictions drop clean entries and write nothing.
        try store.put([5, 0], [5])
        try store.put([6, 0], [6])
        XCTAssertEqual(told, [1, 2, 3, 4])
        XCTAssertEqual(try store.get([2, 0]), [2], "read from the store under the cache")
        // A flush writes the rest, in one batch too.
        try store.flushCache()
        XCTAssertEqual(inner.batches.last, [[5, 0], [6, 0]])
        XCTAssertEqual(told, [1, 2, 3, 4, 5, 6])
    }

    func testAKeyALaterBatchWroteThroughIsNotToldAgainWithItsOlderValue() throws {
        let inner = InMemoryKeyValueStore(name: "s")
        // Room for two entries of a 2-byte key and a 1-byte value (64 bytes of overhead each).
        let cache = RecordCache(maxBytes: 2 * (64 + 2 + 1))
        let store = CachingBytesStore(inner, cache: cache, timestamp: { 0 })
        var told: [String] = []
        var rewrote = false
        store.flushListener = { key, new, old, _ in
            told.append("\(key[0]): \(old.map { "\($0[0])" } ?? "nil") -> \(new.map { "\($0[0])" } ?? "nil")")
            // Told about key 1, the listener writes key 2 again, then a big key 4: the eviction that
            // follows writes the new key 2 through in a batch of its own, before the first batch has
            // told the listener about the old key 2.
            guard key == [1, 0], !rewrote else { return }
            rewrote = true
            try store.put([2, 0], [20])
            try store.put([4, 0], [UInt8](repeating: 40, count: 100))
        }
        try store.put([1, 0], [1])
        try store.put([2, 0], [2])
        try store.put([3, 0], [3])
        XCTAssertEqual(told, ["1: nil -> 1", "2: 2 -> 20", "4: nil -> 40", "3: nil -> 3"])
        XCTAssertEqual(try inner.get([2, 0]), [20])
        XCTAssertEqual(try store.get([2, 0]), [20])
    }

    func testManyKeysOfManyLengthsChurningThroughASmallCacheReadBackAsWritten() throws {
        var random = SeededGenerator(seed: 10)
        // Room for about 300 of 4,000 keys, 0 to 24 bytes long: most writes evict, and the hash
        // index removes and reinserts keys all the time.
        let harness = Harness(cacheBytes: 300 * (64 + 12 + 2))
        let keys: [[UInt8]] = (0..<4_000).map { n in
            (0..<Int.random(in: 0...24, using: &random)).map { _ in UInt8.random(in: 0...3, using: &random) } + [UInt8(n % 256)]
        }
        var model: [[UInt8]: [UInt8]] = [:]
        for step in 0..<60_000 {
            // Recent keys more often than old ones, so that keys are rewritten while cached.
            let key = keys[Int.random(in: 0..<keys.count, using: &random) / Int.random(in: 1...8, using: &random)]
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4:
                let old = try harness.store.get(key)
                XCTAssertEqual(old, model[key], "step \(step)")
                let new = [UInt8((old?.first ?? 0) &+ 1), 0]
                try harness.store.put(key, new)
                model[key] = new
            case 4..<7:
                let new = [UInt8(step % 256), 1]
                try harness.store.put(key, new)
                model[key] = new
            case 7:
                try harness.store.put(key, nil)
                model[key] = nil
            case 8 where step % 97 == 0:
                try harness.store.flushCache()
            default:
                XCTAssertEqual(try harness.store.get(key), model[key], "step \(step)")
            }
        }
        for key in keys { XCTAssertEqual(try harness.store.get(key), model[key]) }
        try harness.store.flushCache()
        XCTAssertEqual(harness.wrongOldValues, [])
        XCTAssertGreaterThan(harness.writeThroughs, 20_000)
        for key in keys { XCTAssertEqual(try harness.inner.get(key), model[key]) }
    }

    func testARangeOverOneRecordKeyOfAWindowStoreSeesTheCachedAndStoredEntriesOfThatKey() throws {
        var random = SeededGenerator(seed: 9)
        // The same writes into a store that indexes cached keys by record key and one that does not.
        let indexed = Harness(cacheBytes: 40 * 90, keySuffix: WindowKeyLayout.suffix)
        let scanned = Harness(cacheBytes: 40 * 90)
        var model: [[UInt8]: [UInt8]] = [:]
        let recordKeys: [[UInt8]] = [[1], [1, 0], [2], [3, 3, 3]]
        var rangesWithLongerKeys = 0
        for step in 0..<5_000 {
            let recordKey = recordKeys.randomElement(using: &random)!
            let storeKey = WindowKeyLayout.storeKey(recordKey, start: Int64.random(in: 0..<20, using: &random) * 1_000, sequence: 0)
            let value: [UInt8]? = Int.random(in: 0..<8, using: &random) == 0 ? nil : [UInt8(step % 256)]
            for harness in [indexed, scanned] { try harness.store.put(storeKey, value) }
            model[storeKey] = value
            if step % 500 == 0 { for harness in [indexed, scanned] { try harness.store.flushCache() } }
            if step % 7 == 0 {
                let from = Int64.random(in: 0..<20, using: &random) * 1_000
                let to = from + Int64.random(in: 0..<8, using: &random) * 1_000
                let low = WindowKeyLayout.storeKey(recordKey, start: from, sequence: 0)
                let high = WindowKeyLayout.storeKey(recordKey, start: to, sequence: .max)
                let inRange = model.filter { !$0.key.lexicographicallyPrecedes(low) && !high.lexicographicallyPrecedes($0.key) }
                    .map { [$0.key, $0.value] }.sorted { $0[0].lexicographicallyPrecedes($1[0]) }
                // The byte range also holds longer record keys that begin with this one ([1, 0] for [1]);
                // a window store's range over one record key yields its own entries only.
                let ownKey = inRange.filter { $0[0].count == recordKey.count + WindowKeyLayout.suffix }
                for (harness, expected) in [(indexed, ownKey), (scanned, inRange)] {
                    var found: [[[UInt8]]] = []
                    let iterator = try harness.store.range(from: low, to: high)
                    while let entry = try iterator.next() { found.append([entry.key, entry.value]) }
                    XCTAssertEqual(found, expected, "step \(step)")
                }
                if ownKey.count != inRange.count { rangesWithLongerKeys += 1 }
            }
        }
        XCTAssertGreaterThan(indexed.writeThroughs, 500)
        XCTAssertGreaterThan(rangesWithLongerKeys, 3)
    }

    func testAKeyTheListenerWritesAgainAndANestedEvictionDropsIsCountedOnce() throws {
        let inner = InMemoryKeyValueStore(name: "s")
        // Room for one entry of a 2-byte key and a 1-byte value (64 bytes of overhead each).
        let cache = RecordCache(maxBytes: 64 + 2 + 1)
        let store = CachingBytesStore(inner, cache: cache, timestamp: { 0 })
        var rewritten = false
        store.flushListener = { key, _, _, _ in
            // Key 1's first write-through writes it again with a value too big for the cache alone:
            // the nested eviction writes key 2 through, then the new key 1 too.
            guard key == [1, 0], !rewritten else { return }
            rewritten = true
            try store.put(key, [UInt8](repeating: 7, count: 100))
        }
        try store.put([1, 0], [1])
        try store.put([2, 0], [2])
        XCTAssertEqual(cache.sizeBytes, 0, "every entry was evicted, and each size subtracted once")
        XCTAssertNil(try store.get([3, 0]))
        XCTAssertEqual(try inner.get([1, 0]), [UInt8](repeating: 7, count: 100))
        XCTAssertEqual(try inner.get([2, 0]), [2])
        // The cache holds entries again once it has room.
        try store.put([3, 0], [3])
        XCTAssertEqual(cache.sizeBytes, 64 + 2 + 1)
        XCTAssertEqual(try store.get([3, 0]), [3])
    }

    func testAFlushWritesThroughEveryEntryWrittenByItsListenerWhileTheirWritesEvictOthers() throws {
        let inner = InMemoryKeyValueStore(name: "s")
        // Room for 2,000 entries of a 4-byte key and a 1-byte value.
        let cache = RecordCache(maxBytes: 2_000 * (64 + 4 + 1))
        let store = CachingBytesStore(inner, cache: cache, timestamp: { 0 })
        func key(_ n: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(n).bigEndian) { Array($0) } }
        var listening = false
        var written = 0
        // During the last flush, each of the first 2,500 write-throughs writes a new key, which
        // evicts the eldest (clean) entry while the flush walks the dirty ones.
        store.flushListener = { _, _, _, _ in
            guard listening, written < 2_500 else { return }
            written += 1
            try store.put(key(10_000 + written), [2])
        }
        for n in 0..<2_000 { try store.put(key(n), [1]) }
        try store.flushCache()
        for n in 5_000..<5_500 { try store.put(key(n), [1]) }  // evicts 500 clean entries
        listening = true
        try store.flushCache()
        // Every entry still cached was written through: the store holds what the cache does.
        var unflushed: [Int] = []
        for n in Array(5_000..<5_500) + Array(10_001...(10_000 + written)) {
            if try store.get(key(n)) != inner.get(key(n)) { unflushed.append(n) }
        }
        XCTAssertEqual(written, 2_500)
        XCTAssertEqual(unflushed, [])
    }

    func testAKeyTheListenerWritesAgainStaysCachedAndKnowsWhatTheStoreHolds() throws {
        let inner = InMemoryKeyValueStore(name: "s")
        // Room for three entries of a 2-byte key and a 1-byte value (64 bytes of overhead each).
        let cache = RecordCache(maxBytes: 3 * (64 + 2 + 1))
        let store = CachingBytesStore(inner, cache: cache, timestamp: { 0 })
        var told: [String] = []
        var rewrites = 0
        store.flushListener = { key, new, old, _ in
            told.append("\(key[0]): \(old?.first.map(String.init) ?? "nil") -> \(new?.first.map(String.init) ?? "nil")")
            // The first write-through of each key writes it again, as a downstream node of the same store might.
            if rewrites < 2 && new?.first.map({ $0 < 10 }) == true {
                rewrites += 1
                try store.put(key, [new![0] + 10])
            }
        }
        // The fourth put evicts key 1, whose listener writes it again, which evicts key 2 (written
        // again too) and then key 3: keys 1 and 2 stay cached with their new values.
        try store.put([1, 0], [1])
        try store.put([2, 0], [2])
        try store.put([3, 0], [3])
        try store.put([4, 0], [4])
        XCTAssertEqual(try store.get([1, 0]), [11])
        XCTAssertEqual(try inner.get([1, 0]), [1])
        try store.flushCache()
        // Flush: the rewritten values are written through with the right old values.
        XCTAssertEqual(try inner.get([1, 0]), [11])
        // The flush writes oldest first: 4 was written before the listener wrote 1 and 2 again.
        XCTAssertEqual(told, ["1: nil -> 1", "2: nil -> 2", "3: nil -> 3", "4: nil -> 4", "1: 1 -> 11", "2: 2 -> 12"])
        for key in [[UInt8]([1, 0]), [2, 0], [3, 0], [4, 0]] { XCTAssertEqual(try store.get(key), try inner.get(key)) }
    }

    func testADeletionWrittenThroughLeavesTheCacheUnlessTheListenerWritesTheKeyAgain() throws {
        let inner = InMemoryKeyValueStore(name: "s")
        let cache = RecordCache(maxBytes: 1 << 20)
        let store = CachingBytesStore(inner, cache: cache, timestamp: { 0 })
        var told: [String] = []
        store.flushListener = { key, new, _, _ in
            told.append("\(key[0]): \(new?.first.map(String.init) ?? "nil")")
            // Key 3's deletion is written again, as a downstream node of the same store might.
            if key == [3], new == nil { try store.put([3], [33]) }
        }
        for key: UInt8 in 1...3 { try store.put([key], [key]) }
        try store.flushCache()
        let entrySize = cache.sizeBytes / 3
        XCTAssertEqual(try store.approximateNumEntries(), 3 + 3)  // stored and cached
        try store.put([1], nil)
        try store.put([3], nil)
        try store.flushCache()
        XCTAssertEqual(told, ["1: 1", "2: 2", "3: 3", "1: nil", "3: nil", "3: 33"])
        // Key 1's deletion is in the inner store and no longer takes room in the cache; key 3 is
        // cached with the value the listener wrote.
        XCTAssertNil(try inner.get([1]))
        XCTAssertNil(try store.get([1]))
        XCTAssertEqual(try inner.get([3]), [33])
        XCTAssertEqual(try store.get([3]), [33])
        XCTAssertEqual(cache.sizeBytes, 2 * entrySize)
        XCTAssertEqual(try store.approximateNumEntries(), 2 + 2)
        // Nor does a deletion written through by a store without a listener.
        try store.put([2], nil)
        try store.put([3], nil)
        store.flushListener = nil
        try store.flushCache()
        XCTAssertEqual(cache.sizeBytes, 0)
        XCTAssertEqual(try store.approximateNumEntries(), 0)
    }

    func testAFlushWhoseListenerWritesTheStoreAtEveryWriteThroughFailsInsteadOfLoopingForever() throws {
        let cache = RecordCache(maxBytes: 1 << 20)
        let store = CachingBytesStore(InMemoryKeyValueStore(name: "counts"), cache: cache, timestamp: { 0 })
        var writeThroughs = 0
        store.flushListener = { key, new, _, _ in
            writeThroughs += 1
            try store.put(key, [new![0] &+ 1])
        }
        try store.put([1], [0])
        XCTAssertThrowsError(try store.flushCache()) { error in
            XCTAssertTrue("\(error)".contains("store 'counts' was written again by its flush listener"), "\(error)")
        }
        XCTAssertEqual(writeThroughs, CachingBytesStore.maxFlushPasses)
    }
}
