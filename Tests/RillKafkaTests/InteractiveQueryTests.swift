import Foundation
import Rill
import RillKafka
import Synchronization
import XCTest

/// `KafkaStreams.store(named:type:)`: reads of the local tasks' stores from other threads while the
/// application runs, and retryable errors while it can't answer.
final class InteractiveQueryTests: XCTestCase {
    var broker: EmbeddedKafka!
    var stateDir = ""

    override func setUpWithError() throws {
        broker = try EmbeddedKafka()
        try broker.createTopic("iq-in", partitions: 2)
        for topic in ["iq-counts-out", "iq-windows-out", "iq-sessions-out"] { try broker.createTopic(topic, partitions: 2) }
        stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-iq-\(UUID().uuidString)").path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: stateDir)
        broker = nil
    }

    /// Counts per key, per key and minute, and per key and session, in stores a query can name.
    func streams(_ app: String, stateDir: String) throws -> KafkaStreams {
        let builder = StreamsBuilder()
        let grouped = builder.stream("iq-in", Consumed(.string, .string)).groupByKey()
        grouped.count(materialized: .as("iq-counts")).toStream().to("iq-counts-out", Produced(.string, Serde<Int64>.int64.optional))
        grouped.windowedBy(try TimeWindows.ofSizeWithNoGrace(.seconds(60))).count(materialized: .as("iq-windows"))
            .toStream().to("iq-windows-out", Produced(.timeWindowed(.string, windowSize: 60_000), Serde<Int64>.int64.optional))
        grouped.windowedBy(try SessionWindows.ofInactivityGapWithNoGrace(.seconds(30))).count(materialized: .as("iq-sessions"))
            .toStream().to("iq-sessions-out", Produced(.sessionWindowed(.string), Serde<Int64>.int64.optional))
        var config = testConfig(app, broker.bootstrapServers, commitIntervalMs: 200)
        config.stateDir = stateDir
        return try KafkaStreams(try builder.build(), config: config)
    }

    func testQueriesFromAnotherThreadSeeEveryLocalTaskWhileProcessingRuns() throws {
        let streams = try streams("iq-app", stateDir: stateDir)
        let counts = try streams.store(named: "iq-counts", type: .keyValueStore(String.self, Int64.self))
        XCTAssertThrowsError(try streams.store(named: "nope", type: .keyValueStore(String.self, Int64.self))) { error in
            XCTAssertEqual((error as? InvalidStateStoreError)?.retryable, false)
            XCTAssertTrue("\(error)".contains("'nope'"), "\(error)")
        }
        // Not running yet: retry later.
        XCTAssertThrowsError(try counts.get("k1")) { error in
            XCTAssertEqual((error as? InvalidStateStoreError)?.retryable, true, "\(error)")
        }
        try streams.start()
        defer { _ = streams.close() }
        XCTAssertTrue(eventually { streams.state == .running })

        // A reader on another thread while 2,000 records are processed: totals never go back.
        let stop = Atomic(false)
        let reads = Atomic(0)
        let problems = Mutex<[String]>([])
        let reader = Thread {
            var last: Int64 = 0
            while !stop.load(ordering: .relaxed) {
                do {
                    let total = try counts.all().reduce(0) { $0 + $1.value }
                    if total < last { problems.withLock { $0.append("total went from \(last) to \(total)") } }
                    last = total
                    reads.add(1, ordering: .relaxed)
                } catch let error as InvalidStateStoreError where error.retryable {
                    continue
                } catch {
                    problems.withLock { $0.append("\(error)") }
                }
            }
        }
        reader.start()
        try produceIndexed(broker.bootstrapServers, "iq-in", 0..<2_000, keys: 10)
        let done = eventually { (try? counts.all().reduce(0) { $0 + $1.value }) == 2_000 }
        stop.store(true, ordering: .relaxed)
        while !reader.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertTrue(done, "counts: \(String(describing: try? counts.all()))")
        XCTAssertEqual(problems.withLock { $0 }, [])
        XCTAssertGreaterThan(reads.load(ordering: .relaxed), 0)

        // Each key is in one of the two tasks; the views read both.
        XCTAssertEqual(Set(try counts.all().map(\.key)), Set((0..<10).map { "k\($0)" }))
        for key in 0..<10 { XCTAssertEqual(try counts.get("k\(key)"), 200) }
        XCTAssertNil(try counts.get("k10"))
        XCTAssertEqual(Set(try counts.range(from: "k1", to: "k3").map(\.key)), ["k1", "k2", "k3"])
        XCTAssertGreaterThanOrEqual(try counts.approximateNumEntries(), 10)
        // Timestamps 1,000 to 2,999 ms: one window, one session per key.
        let windows = try streams.store(named: "iq-windows", type: .windowStore(String.self, Int64.self))
        XCTAssertEqual(try windows.fetch("k3", windowStart: 0), 200)
        XCTAssertEqual(try windows.fetch("k3", from: 0, to: 120_000).map(\.value), [200])
        XCTAssertEqual(try windows.fetchAll(from: 0, to: 0).count, 10)
        let sessions = try streams.store(named: "iq-sessions", type: .sessionStore(String.self, Int64.self))
        let session = try sessions.fetch("k3")
        XCTAssertEqual(session.map(\.value), [200])
        XCTAssertEqual(session.first?.key.window, Window(start: 1_003, end: 2_993))
        XCTAssertEqual(try sessions.findSessions("k3", earliestSessionEnd: 2_000, latestSessionStart: 2_000).count, 1)

        // A store of another type is an error naming it, which no retry mends.
        let wrong = try streams.store(named: "iq-counts", type: .keyValueStore(Int64.self, String.self))
        XCTAssertThrowsError(try wrong.get(1)) { error in
            XCTAssertEqual((error as? InvalidStateStoreError)?.retryable, false)
            XCTAssertTrue("\(error)".contains("iq-counts") && "\(error)".contains("Int64"), "\(error)")
        }
        _ = streams.close()
        XCTAssertThrowsError(try counts.get("k1")) { error in
            XCTAssertEqual((error as? InvalidStateStoreError)?.retryable, false, "\(error)")
        }
    }

    func testAQueryDuringARebalanceIsARetryableError() throws {
        let first = try streams("iq-rebalance", stateDir: stateDir + "/first")
        let counts = try first.store(named: "iq-counts", type: .keyValueStore(String.self, Int64.self))
        let seen = Mutex<[Bool]>([])
        let wasRunning = Atomic(false)
        first.setStateListener { new, _ in
            if new == .running { wasRunning.store(true, ordering: .relaxed) }
            // A query when the running instance starts to rebalance, from the listener.
            guard new == .rebalancing, wasRunning.load(ordering: .relaxed) else { return }
            do {
                _ = try counts.get("k1")
                seen.withLock { $0.append(false) }
            } catch {
                seen.withLock { $0.append((error as? InvalidStateStoreError)?.retryable == true) }
            }
        }
        try first.start()
        defer { _ = first.close() }
        XCTAssertTrue(eventually { first.state == .running })
        try produceIndexed(broker.bootstrapServers, "iq-in", 0..<100, keys: 10)
        XCTAssertTrue(eventually { (try? counts.all().count) == 10 })
        // A second instance joins: the first rebalances.
        let second = try streams("iq-rebalance", stateDir: stateDir + "/second")
        try second.start()
        defer { _ = second.close() }
        XCTAssertTrue(eventually { !seen.withLock { $0 }.isEmpty })
        XCTAssertEqual(seen.withLock { $0 }.first, true)
        // Once both run again, each answers for its own tasks: together, every key.
        XCTAssertTrue(eventually { first.state == .running && second.state == .running })
        let both = try second.store(named: "iq-counts", type: .keyValueStore(String.self, Int64.self))
        XCTAssertTrue(eventually {
            let keys = ((try? counts.all()) ?? []) + ((try? both.all()) ?? [])
            return Set(keys.map(\.key)).count == 10
        })
    }

    func testAStateListenerMayQueryWhileSeveralThreadsRebalance() throws {
        var config = testConfig("iq-threads", broker.bootstrapServers, commitIntervalMs: 200)
        config.stateDir = stateDir
        config.numStreamThreads = 2
        let builder = StreamsBuilder()
        builder.stream("iq-in", Consumed(.string, .string)).groupByKey().count(materialized: .as("iq-counts"))
        let streams = try KafkaStreams(try builder.build(), config: config)
        let counts = try streams.store(named: "iq-counts", type: .keyValueStore(String.self, Int64.self))
        let answers = Atomic(0)
        // Listeners run on the stream threads; a query there must not wait for a thread that waits for it.
        streams.setStateListener { new, _ in
            guard new == .running else { return }
            if (try? counts.all()) != nil { answers.add(1, ordering: .relaxed) }
        }
        try streams.start()
        defer { _ = streams.close() }
        try produceIndexed(broker.bootstrapServers, "iq-in", 0..<100, keys: 10)
        XCTAssertTrue(eventually { streams.state == .running && (try? counts.all().count) == 10 })
        XCTAssertGreaterThan(answers.load(ordering: .relaxed), 0)
    }
}
