import Logging
@testable import Rill
import XCTest

/// Suppression behind a cached window store, driven task by task so that the cache is written
/// through only at the commits the test chooses (the test driver commits after every record).
final class SuppressionAndCacheTests: XCTestCase {
    final class Collected: RecordCollector {
        var finals: [String] = []
        func send(topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers) throws {
            guard topic == "finals" else { return }  // not the changelogs
            let count = try Serde<Int64>.int64.deserialize(value)
            finals.append("\(String(decoding: key ?? [], as: UTF8.self))=\(count)")
        }
        func partitionCount(topic: String) throws -> Int32 { 1 }
    }

    let second: Int64 = 1_000
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-suppress-\(UUID().uuidString)").path

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func makeTask(_ collected: Collected) throws -> StreamTask {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string))
            .filter { _, value in value != "skip" }
            .groupByKey()
            .windowedBy(try TimeWindows.ofSizeAndGrace(.seconds(60), grace: .seconds(30)))
            .count(materialized: Materialized.as("counts").withSerdes(.string, .int64))
            .suppress(.untilWindowCloses(.unbounded))
            .toStream()
            .map { window, count in KeyValue("\(window.key)@\(window.window.start)", count ?? -1) }
            .to("finals", Produced(.string, .int64))
        let task = try StreamTask(
            topology: try builder.build(), subtopology: 0, partition: 0, config: StreamsConfig(applicationID: "suppress-cache"),
            collector: collected, wallClock: { 0 }, logger: Logger(label: "test"), stateDirectory: directory,
            cache: RecordCache(maxBytes: 1 << 20))
        try task.initialize()
        return task
    }

    var offset: Int64 = 0
    func pipe(_ task: StreamTask, _ key: String, at seconds: Int64, value: String = "x") throws {
        try task.process(RawRecord(
            topic: "in", partition: 0, offset: offset, timestamp: seconds * second, key: Array(key.utf8), value: Array(value.utf8),
            headers: Headers()))
        offset += 1
    }

    /// A window's buffered result must not go out while the cache upstream still holds a newer one:
    /// here the commit writes C's older entry through before A's newer one, after stream time has
    /// passed the window's close.
    func testAWindowIsEmittedOnceWithItsLastCountWhenTheCacheFlushesAnOlderEntryFirst() throws {
        let collected = Collected()
        let task = try makeTask(collected)
        try pipe(task, "A", at: 10)
        try task.flushCaches()  // a commit: A@0 = 1 waits in the buffer
        XCTAssertEqual(collected.finals, [])
        try pipe(task, "C", at: 20)
        try pipe(task, "A", at: 50)
        try pipe(task, "B", at: 95)  // stream time 95 s: the window [0, 60) closed at 90 s
        try task.flushCaches()  // a commit
        XCTAssertEqual(collected.finals.sorted(), ["A@0=2", "C@0=1"])
        task.close()
    }

    /// Records that never reach the buffer (filtered out before the count) still move stream time;
    /// the windows they close are released at the next commit.
    func testStreamTimeFromRecordsThatDoNotReachTheBufferClosesWindowsAtTheNextCommit() throws {
        let collected = Collected()
        let task = try makeTask(collected)
        try pipe(task, "A", at: 10)
        try task.flushCaches()  // a commit
        try pipe(task, "A", at: 89, value: "skip")
        try task.flushCaches()  // a commit
        XCTAssertEqual(collected.finals, [], "[0, 60) closes at 90 s")
        try pipe(task, "A", at: 90, value: "skip")
        XCTAssertEqual(collected.finals, [], "released at the commit")
        try task.flushCaches()  // a commit
        XCTAssertEqual(collected.finals, ["A@0=1"])
        task.close()
    }
}
