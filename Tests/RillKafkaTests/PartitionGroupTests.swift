import Rill
import XCTest

@testable import RillKafka

/// When a task reading several partitions may process (`max.task.idle.ms`), as a pure decision.
final class PartitionGroupTests: XCTestCase {
    let start = ContinuousClock.now
    var group = PartitionGroup()
    var left: PartitionQueue!
    var right: PartitionQueue!

    override func setUp() {
        left = group.add(TopicPartition(topic: "left", partition: 0))
        right = group.add(TopicPartition(topic: "right", partition: 0))
        group.append(RawRecord(topic: "left", partition: 0, offset: 7, timestamp: 10, key: nil, value: nil, headers: Headers()), to: left)
    }

    func processable(after ms: Int, idle: Int64, unfetched: Bool?) -> Bool {
        group.isProcessable(now: start + .milliseconds(ms), maxTaskIdleMs: idle) { _ in unfetched }
    }

    func testAnEmptyPartitionWithRecordsOnTheBrokerIsWaitedForUpToTheFetchBound() {
        XCTAssertFalse(processable(after: 0, idle: 0, unfetched: true))
        XCTAssertFalse(processable(after: 9_999, idle: 0, unfetched: true))
        XCTAssertTrue(processable(after: 10_000, idle: 0, unfetched: true), "enforced after the bound")
        XCTAssertTrue(processable(after: 10_001, idle: 0, unfetched: true), "and from then on while it stays empty")
    }

    func testAPartitionWhosePositionIsNotKnownYetIsWaitedForAsWell() {
        XCTAssertFalse(processable(after: 0, idle: 0, unfetched: nil))
        XCTAssertTrue(processable(after: 10_000, idle: 0, unfetched: nil))
    }

    func testACaughtUpPartitionIsWaitedForMaxTaskIdleMsOnly() {
        XCTAssertTrue(processable(after: 0, idle: 0, unfetched: false), "0: no wait for records not on the broker")
        XCTAssertFalse(processable(after: 0, idle: 200, unfetched: false), "the wait started at 0 ms")
        XCTAssertFalse(processable(after: 199, idle: 200, unfetched: false))
        XCTAssertTrue(processable(after: 200, idle: 200, unfetched: false))
    }

    func testMinusOneNeverWaits() {
        XCTAssertTrue(processable(after: 0, idle: -1, unfetched: true))
    }

    func testARecordForTheEmptyPartitionStartsTheWaitAfresh() {
        XCTAssertFalse(processable(after: 0, idle: 0, unfetched: true))
        XCTAssertTrue(processable(after: 10_000, idle: 0, unfetched: true))
        group.append(RawRecord(topic: "right", partition: 0, offset: 3, timestamp: 20, key: nil, value: nil, headers: Headers()), to: right)
        XCTAssertTrue(processable(after: 10_001, idle: 0, unfetched: true), "both partitions have records")
        XCTAssertEqual(group.next()?.record.timestamp, 10, "the smaller timestamp first")
        XCTAssertEqual(left.nextFetchOffset, 8)
        XCTAssertFalse(processable(after: 10_002, idle: 0, unfetched: true), "the left partition is empty now: a new wait")
    }

    func testATaskWithOnePartitionNeverWaits() {
        var single = PartitionGroup()
        let queue = single.add(TopicPartition(topic: "in", partition: 0))
        single.append(RawRecord(topic: "in", partition: 0, offset: 0, timestamp: 1, key: nil, value: nil, headers: Headers()), to: queue)
        XCTAssertTrue(single.isProcessable(now: start, maxTaskIdleMs: 0) { _ in true })
    }
}
