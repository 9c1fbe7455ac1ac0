@testable import Rill
import TestSupport
import XCTest

/// The segmented byte store under window and session stores.
final class SegmentedBytesStoreTests: XCTestCase {
    func store() throws -> SegmentedBytesStore {
        // Segments of 60 s (at least a minute), kept for 120 s of stream time.
        try SegmentedBytesStore(
            supplier: Stores.inMemoryWindowStore("w", retentionPeriod: 120_000, windowSize: 1_000), directory: "",
            minimumKeyLength: WindowKeyLayout.suffix, time: WindowKeyLayout.time)
    }

    func contents(_ store: SegmentedBytesStore) throws -> [[[UInt8]]] {
        var found: [[[UInt8]]] = []
        let iterator = try store.range(from: nil, to: nil)
        while let entry = try iterator.next() { found.append([entry.key, entry.value]) }
        return found
    }

    func testABatchLeavesWhatItsWritesOneByOneLeave() throws {
        var random = SeededGenerator(seed: 11)
        let single = try store()
        let batched = try store()
        for round in 0..<40 {
            // Batches that span segments, go back in time past the retention, rewrite and delete keys.
            var batch: [(key: [UInt8], value: [UInt8]?)] = []
            for _ in 0..<Int.random(in: 1..<30, using: &random) {
                let time = Int64(round) * 20_000 + Int64.random(in: -150_000..<60_000, using: &random)
                let key = WindowKeyLayout.storeKey([UInt8.random(in: 0..<4, using: &random)], start: time, sequence: 0)
                batch.append((key, Bool.random(using: &random) ? nil : [UInt8(round)]))
            }
            for entry in batch { try single.put(entry.key, entry.value) }
            try batched.putAll(batch)
            XCTAssertEqual(try contents(batched), try contents(single), "round \(round)")
            XCTAssertEqual(batched.expiredWrites, single.expiredWrites, "round \(round)")
        }
        XCTAssertGreaterThan(single.expiredWrites, 10)
        XCTAssertGreaterThan(try contents(single).count, 10)
    }
}
