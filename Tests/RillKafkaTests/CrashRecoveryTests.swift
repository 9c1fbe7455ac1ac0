import Foundation
import Rill
import RillKafka
import XCTest

/// A windowed count on RocksDB in a worker process, against a `rill dev-broker` process: killed with
/// SIGKILL mid-stream and restarted, or stopped with its state directory wiped, it ends with the
/// counts computed here.
final class CrashRecoveryTests: XCTestCase {
    var harness: WindowedCountHarness!

    override func setUpWithError() throws { harness = try WindowedCountHarness() }
    override func tearDown() { harness?.tearDown() }

    func testAWorkerKilledMidStreamIsReplacedWithNoWindowUndercounted() throws {
        let stateDir = harness.makeStateDir()
        try harness.produce(100_000)
        let first = try harness.startWorker("crash", stateDir: stateDir)
        try harness.waitForACommit("crash")
        harness.kill(first)
        XCTAssertEqual(first.terminationReason, .uncaughtSignal)
        try harness.produce(100_000)
        let second = try harness.startWorker("crash", stateDir: stateDir)
        defer { harness.stop(second) }
        let counts = try harness.readUntilNoneUndercounted()
        XCTAssertEqual(Set(counts.keys), Set(harness.truth.keys))
        let under = harness.undercounted(counts)
        XCTAssertTrue(under.isEmpty, "undercounted windows: \(under.prefix(5)) of \(under.count)")
    }

    func testAWipedStateDirectoryIsRestoredFromTheChangelogToTheExactCounts() throws {
        let stateDir = harness.makeStateDir()
        try harness.produce(100_000)
        let first = try harness.startWorker("wiped", stateDir: stateDir)
        var truth = harness.truth
        let half = try harness.readCounts { $0 == truth }
        XCTAssertEqual(half, truth)
        harness.stop(first)
        XCTAssertEqual(first.terminationStatus, 0)
        try FileManager.default.removeItem(atPath: stateDir)
        try harness.produce(100_000)
        let second = try harness.startWorker("wiped", stateDir: stateDir)
        defer { harness.stop(second) }
        truth = harness.truth
        let counts = try harness.readCounts { $0 == truth }
        XCTAssertEqual(counts.count, truth.count)
        XCTAssertEqual(counts.filter { truth[$0.key] != $0.value }.count, 0, "no window differs after a full restore")
        XCTAssertTrue(FileManager.default.fileExists(atPath: stateDir), "the successor rebuilt its state directory")
    }
}
