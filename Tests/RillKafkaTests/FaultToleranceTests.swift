import Foundation
import Rill
import RillKafka
import TestSupport
import XCTest

/// Faults with several worker processes against a `rill dev-broker` process: repeated kills, a worker
/// that stays dead, a stalled broker, and a clean SIGTERM. Each test is bounded in time and prints
/// what it measured (duplicates, takeover time).
final class FaultToleranceTests: XCTestCase {
    var harness: WindowedCountHarness!

    override func setUpWithError() throws { harness = try WindowedCountHarness() }
    override func tearDown() { harness?.tearDown() }

    /// Counted clicks beyond the truth: work redone after a kill (at least once).
    func duplicates(_ counts: [String: Int64]) -> Int64 {
        harness.truth.reduce(0) { $0 + max(0, counts[$1.key, default: 0] - $1.value) }
    }

    func testTwentyKillsOfOneOfTwoWorkersUndercountNoWindow() throws {
        var random = SeededGenerator(seed: 7)
        let survivorDir = harness.makeStateDir()
        let victimDir = harness.makeStateDir()
        let survivor = try harness.startWorker("kill-loop", stateDir: survivorDir, threads: 2)
        defer { harness.stop(survivor) }
        var victim = try harness.startWorker("kill-loop", stateDir: victimDir, threads: 2)
        let kills = 20
        for _ in 0..<kills {
            // Killed while it processes: once it has tasks, within half a second of new input.
            try harness.waitUntilRunning(victim)
            try harness.produce(10_000)
            Thread.sleep(forTimeInterval: Double.random(in: 0...0.5, using: &random))
            harness.kill(victim)
            victim = try harness.startWorker("kill-loop", stateDir: victimDir, threads: 2)
        }
        defer { harness.stop(victim) }
        XCTAssertEqual(harness.produced, 200_000)
        let counts = try harness.readUntilNoneUndercounted()
        let under = harness.undercounted(counts)
        XCTAssertTrue(under.isEmpty, "undercounted windows: \(under.prefix(5)) of \(under.count)")
        XCTAssertTrue(survivor.isRunning, "the other worker rode out every rebalance")
        let extra = duplicates(counts)
        XCTAssertLessThanOrEqual(extra, Int64(kills) * 10_000, "only work in flight at a kill is redone")
        print("kill loop: \(kills) kills, \(extra) clicks counted twice (\(extra / Int64(kills)) per kill) of \(harness.produced)")
    }

    func testTheSurvivorTakesOverEveryTaskOfAWorkerThatStaysDead() throws {
        let first = try harness.startWorker("dead-worker", stateDir: harness.makeStateDir())
        defer { harness.stop(first) }
        let second = try harness.startWorker("dead-worker", stateDir: harness.makeStateDir())
        try harness.produce(100_000)
        var truth = harness.truth
        _ = try harness.readCounts { $0 == truth }
        harness.kill(second)
        let killed = Date()
        try harness.produce(100_000)
        truth = harness.truth
        let counts = try harness.readUntilNoneUndercounted()
        let takeover = Date().timeIntervalSince(killed)
        let under = harness.undercounted(counts)
        XCTAssertTrue(under.isEmpty, "undercounted windows: \(under.prefix(5)) of \(under.count)")
        XCTAssertEqual(Set(counts.keys), Set(truth.keys))
        XCTAssertTrue(first.isRunning)
        print("dead worker: complete results \(String(format: "%.1f", takeover)) s after the kill; \(duplicates(counts)) clicks counted twice")
    }

    func testABrokerStalledForTenSecondsLosesNothing() throws {
        let worker = try harness.startWorker("stall", stateDir: harness.makeStateDir())
        defer { harness.stop(worker) }
        try harness.produce(100_000)
        try harness.waitForACommit("stall")
        kill(harness.broker.process.processIdentifier, SIGSTOP)
        Thread.sleep(forTimeInterval: 10)  // the fault under test is a 10 s stall
        kill(harness.broker.process.processIdentifier, SIGCONT)
        try harness.produce(100_000)
        let counts = try harness.readUntilNoneUndercounted()
        let under = harness.undercounted(counts)
        XCTAssertTrue(under.isEmpty, "undercounted windows: \(under.prefix(5)) of \(under.count)")
        XCTAssertTrue(worker.isRunning, "the worker rode out the stall")
        print("broker stall: \(duplicates(counts)) clicks counted twice")
    }

    func testSIGTERMCommitsEverythingSoARestartReprocessesNothing() throws {
        let stateDir = harness.makeStateDir()
        let first = try harness.startWorker("sigterm", stateDir: stateDir)
        try harness.produce(100_000)
        let truth = harness.truth
        _ = try harness.readCounts { $0 == truth }
        let signalled = Date()
        harness.stop(first)
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertLessThan(Date().timeIntervalSince(signalled), 5, "exit within 5 s of SIGTERM")
        XCTAssertEqual(try harness.committedOffsets("sigterm"), try harness.endOffsets("clicks"), "every processed offset committed")

        // A restart reads on from the committed offsets: its only output is for one new click.
        let outputEnds = try harness.endOffsets("window-counts")
        let second = try harness.startWorker("sigterm", stateDir: stateDir)
        defer { harness.stop(second) }
        try harness.produce(1)
        let consumer = try harness.outputConsumer(from: outputEnds)
        defer { consumer.close() }
        var after: [ConsumedRecord] = []
        let deadline = Date().addingTimeInterval(60)
        while after.isEmpty && Date() < deadline { after += try consumer.poll(max: 100, timeoutMs: 100) }
        after += try consumer.poll(max: 100, timeoutMs: 1_000)  // anything that came with it
        XCTAssertEqual(after.count, 1, "one update, for the new click")
        let window = "user-0@\((harness.base + 600_000) / harness.windowSize * harness.windowSize)"
        let key = try after.first.map { try harness.keySerde.deserialize($0.key) }
        XCTAssertEqual(key.map { "\($0.key)@\($0.window.start)" }, window)
        XCTAssertEqual(
            try after.first.map { try Serde<Int64>.int64.deserialize($0.value) }, harness.truth[window],
            "the window's count goes on from the committed state, exactly")
    }

    func testUnderExactlyOnceAKilledWorkerRestoresOnlyFromItsLastCheckpoint() throws {
        let stateDir = harness.makeStateDir()
        let first = try harness.startWorker("eos-kill", stateDir: stateDir, exactlyOnce: true)
        try harness.produce(100_000)
        let truth = harness.truth
        _ = try harness.readCounts { latest in truth.allSatisfy { latest[$0.key, default: 0] >= $0.value } }
        harness.kill(first)
        let changelog = try harness.endOffsets("eos-kill-click-counts-changelog").values.reduce(0, +)
        XCTAssertGreaterThanOrEqual(changelog, 100_000, "one changelog record per click")

        let second = try harness.startWorker("eos-kill", stateDir: stateDir, exactlyOnce: true)
        defer { harness.stop(second) }
        try harness.waitUntilRunning(second)
        let restored = harness.restoredRecords(second)
        print("exactly-once kill: restored \(restored) of \(changelog) changelog records")
        XCTAssertLessThan(restored, changelog / 2, "RocksDB held only committed writes, so the checkpoints stayed valid")
        try harness.produce(1_000)
        let counts = try harness.readUntilNoneUndercounted()
        let under = harness.undercounted(counts)
        XCTAssertTrue(under.isEmpty, "undercounted windows: \(under.prefix(5)) of \(under.count)")
    }
}
