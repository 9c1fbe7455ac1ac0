import Foundation
import Rill
import RillKafka
import XCTest

/// A windowed count on RocksDB in a worker process, against a `rill dev-broker` process: killed with
/// SIGKILL mid-stream and restarted, or stopped with its state directory wiped, it ends with the
/// counts computed here.
final class CrashRecoveryTests: XCTestCase {
    var broker: DevBrokerProcess!
    var stateDir = ""
    /// The true count per (key, window start) of what was produced.
    var truth: [String: Int64] = [:]
    let base: Int64 = 1_700_000_000_000
    let windowSize: Int64 = 60_000

    override func setUpWithError() throws {
        broker = try DevBrokerProcess(topics: ["clicks:4", "window-counts:4"])
        stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-crash-\(UUID().uuidString)").path
    }

    override func tearDown() {
        broker?.stop()
        try? FileManager.default.removeItem(atPath: stateDir)
    }

    /// Produces clicks `range` (50 users, a click every 6 ms: 100,000 clicks span 10 windows).
    func produce(_ range: Range<Int>) throws {
        let producer = try KafkaProducer(config: KafkaClientConfig([
            "bootstrap.servers": broker.bootstrapServers, "linger.ms": "20", "batch.num.messages": "5000",
        ]))
        for index in range {
            let key = "user-\(index % 50)"
            let timestamp = base + Int64(index) * 6
            try producer.send(
                topic: "clicks", partition: nil, key: Array(key.utf8), value: Array("click".utf8), timestamp: timestamp,
                headers: Headers())
            truth["\(key)@\(timestamp / windowSize * windowSize)", default: 0] += 1
        }
        try producer.flush(timeoutMs: 60_000)
    }

    func startWorker(_ app: String) throws -> Process {
        let worker = Process()
        worker.executableURL = try DevBrokerProcess.builtExecutable("WindowedCountWorker")
        worker.arguments = [broker.bootstrapServers, stateDir, app]
        worker.standardOutput = FileHandle.nullDevice
        try worker.run()
        return worker
    }

    /// The latest count per (key, window) in "window-counts", read until `done` holds or 120 s pass.
    func readCounts(until done: ([String: Int64]) -> Bool) throws -> [String: Int64] {
        let consumer = try KafkaConsumer(config: KafkaClientConfig([
            "bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)",
        ]))
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<4).map { (TopicPartition(topic: "window-counts", partition: $0), Int64(-2)) }))
        let keySerde = Serde<Windowed<String>>.timeWindowed(.string, windowSize: windowSize)
        var latest: [String: Int64] = [:]
        let deadline = Date().addingTimeInterval(120)
        while !done(latest) && Date() < deadline {
            for record in try consumer.poll(max: 1_000, timeoutMs: 100) {
                let key = try keySerde.deserialize(record.key)
                latest["\(key.key)@\(key.window.start)"] = try Serde<Int64>.int64.deserialize(record.value)
            }
        }
        return latest
    }

    /// Waits for the worker's first commit: an offset committed for its group.
    func waitForACommit(_ app: String) throws {
        let consumer = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": app]))
        defer { consumer.close() }
        let partitions = (0..<4).map { TopicPartition(topic: "clicks", partition: $0) }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if try consumer.committed(partitions, timeoutMs: 5_000).values.contains(where: { $0.offset >= 0 }) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestSetupError("the worker committed nothing in 60 s")
    }

    func stop(_ worker: Process) {
        worker.terminate()
        worker.waitUntilExit()
    }

    func testAWorkerKilledMidStreamIsReplacedWithNoWindowUndercounted() throws {
        try produce(0..<100_000)
        let first = try startWorker("crash")
        try waitForACommit("crash")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationReason, .uncaughtSignal)
        try produce(100_000..<200_000)
        let second = try startWorker("crash")
        defer { stop(second) }
        let truth = truth
        let counts = try readCounts { latest in truth.allSatisfy { latest[$0.key, default: 0] >= $0.value } }
        XCTAssertEqual(Set(counts.keys), Set(truth.keys))
        let under = truth.filter { counts[$0.key, default: 0] < $0.value }
        XCTAssertTrue(under.isEmpty, "undercounted windows: \(under.prefix(5)) of \(under.count)")
    }

    func testAWipedStateDirectoryIsRestoredFromTheChangelogToTheExactCounts() throws {
        try produce(0..<100_000)
        let first = try startWorker("wiped")
        var truth = truth
        let half = try readCounts { $0 == truth }
        XCTAssertEqual(half, truth)
        stop(first)
        XCTAssertEqual(first.terminationStatus, 0)
        try FileManager.default.removeItem(atPath: stateDir)
        try produce(100_000..<200_000)
        let second = try startWorker("wiped")
        defer { stop(second) }
        truth = self.truth
        let counts = try readCounts { $0 == truth }
        XCTAssertEqual(counts.count, truth.count)
        XCTAssertEqual(counts.filter { truth[$0.key] != $0.value }.count, 0, "no window differs after a full restore")
        XCTAssertTrue(FileManager.default.fileExists(atPath: stateDir), "the successor rebuilt its state directory")
    }
}
