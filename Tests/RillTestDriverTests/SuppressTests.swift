import Rill
import RillTestDriver
import XCTest

/// suppress: one final result per window, time limits, bounded buffers, and the wall-clock option.
final class SuppressTests: XCTestCase {
    func finalCounts(_ suppressed: Suppressed, windows: TimeWindows) throws -> TopologyTestDriver {
        let builder = StreamsBuilder()
        builder.stream("events", Consumed(.string, .string))
            .groupByKey()
            .windowedBy(windows)
            .count(materialized: .as("counts"))
            .suppress(suppressed)
            .toStream()
            .to("final", Produced(.timeWindowed(.string, windowSize: windows.sizeMs), Serde<Int64>.int64.optional))
        return try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "suppress"))
    }

    func read(_ driver: TopologyTestDriver, size: Int64) throws -> [String] {
        try driver.createOutputTopic(
            "final", keySerde: .timeWindowed(.string, windowSize: size), valueSerde: Serde<Int64>.int64.optional
        ).readKeyValuesToList().map { "\($0.key.key)@\($0.key.window.start)=\($0.value.map(String.init) ?? "null")" }
    }

    func testUntilWindowClosesEmitsExactlyOneFinalResultPerWindowWhenItCloses() throws {
        let windows = try TimeWindows.ofSizeAndGrace(.seconds(10), grace: .seconds(5))
        let driver = try finalCounts(.untilWindowCloses(.unbounded), windows: windows)
        defer { driver.close() }
        var events = try driver.createInputTopic("events", keySerde: .string, valueSerde: .string)
        for (key, time) in [("a", 1_000), ("a", 2_000), ("b", 3_000), ("a", 12_000), ("a", 9_000)] {
            try events.pipeInput(key: key, value: "x", timestamp: Int64(time))
        }
        XCTAssertEqual(try read(driver, size: 10_000), [], "window [0, 10 s) is open until stream time 15 s")
        try events.pipeInput(key: "c", value: "x", timestamp: 15_000)
        XCTAssertEqual(try read(driver, size: 10_000), ["a@0=3", "b@0=1"])
        // A late record for the closed window changes nothing downstream.
        try events.pipeInput(key: "a", value: "x", timestamp: 4_000)
        try events.pipeInput(key: "a", value: "x", timestamp: 31_000)
        XCTAssertEqual(try read(driver, size: 10_000), ["a@10000=1", "c@10000=1"])
        XCTAssertEqual(driver.metrics.dropped, 1)
    }

    func testUntilWindowClosesDropsTheTombstonesOfMergedSessions() throws {
        let builder = StreamsBuilder()
        builder.stream("clicks", Consumed(.string, .string))
            .groupByKey()
            .windowedBy(try SessionWindows.ofInactivityGapWithNoGrace(.milliseconds(100)))
            .count()
            .suppress(.untilWindowCloses(.unbounded))
            .toStream()
            .to("sessions", Produced(.sessionWindowed(.string), Serde<Int64>.int64.optional))
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        var clicks = try driver.createInputTopic("clicks", keySerde: .string, valueSerde: .string)
        for time in [0, 50, 120, 1_000] { try clicks.pipeInput(key: "u", value: "x", timestamp: Int64(time)) }
        let sessions = try driver.createOutputTopic(
            "sessions", keySerde: .sessionWindowed(.string), valueSerde: Serde<Int64>.int64.optional)
        XCTAssertEqual(try sessions.readKeyValuesToList().map { "\($0.key.window)=\($0.value ?? -1)" }, ["[0@120]=3"])
    }

    func testUntilTimeLimitEmitsEachKeysLatestUpdateOnceTheLimitHasPassed() throws {
        let builder = StreamsBuilder()
        builder.stream("events", Consumed(.string, .string))
            .groupByKey()
            .count(materialized: Materialized<String, Int64>.as("counts").withCachingDisabled())
            .suppress(.untilTimeLimit(.seconds(10), .unbounded).withName("rate-limit"))
            .toStream()
            .to("limited", Produced(.string, Serde<Int64>.int64.optional))
        let topology = try builder.build()
        XCTAssertTrue("\(topology.describe())".contains("Processor: rate-limit (stores: [rate-limit-store])"))
        let driver = try TopologyTestDriver(topology)
        defer { driver.close() }
        var events = try driver.createInputTopic("events", keySerde: .string, valueSerde: .string)
        for time in [0, 1_000, 2_000] { try events.pipeInput(key: "k", value: "x", timestamp: Int64(time)) }
        try events.pipeInput(key: "other", value: "x", timestamp: 11_000)
        // k's latest update (3, at 2 s) is held until stream time 12 s.
        let limited = try driver.createOutputTopic("limited", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        XCTAssertEqual(try limited.readKeyValuesToList(), [])
        try events.pipeInput(key: "other", value: "x", timestamp: 12_000)
        XCTAssertEqual(try limited.readKeyValuesToList(), [KeyValue("k", 3)])
    }

    func testAFullBufferEmitsEarlyOrShutsDownAsConfigured() throws {
        let windows = try TimeWindows.ofSizeWithNoGrace(.seconds(10))
        let early = try finalCountsByTimeLimit(.untilTimeLimit(.seconds(60), BufferConfig.maxRecords(1).emitEarlyWhenFull()))
        defer { early.close() }
        var events = try early.createInputTopic("events", keySerde: .string, valueSerde: .string)
        try events.pipeInput(key: "a", value: "x", timestamp: 0)
        try events.pipeInput(key: "b", value: "x", timestamp: 1)
        XCTAssertEqual(try early.createOutputTopic("limited", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
            .readKeyValuesToList(), [KeyValue("a", 1)])

        let strict = try finalCounts(.untilWindowCloses(.maxRecords(1)), windows: windows)
        defer { strict.close() }
        var more = try strict.createInputTopic("events", keySerde: .string, valueSerde: .string)
        try more.pipeInput(key: "a", value: "x", timestamp: 0)
        XCTAssertThrowsError(try more.pipeInput(key: "b", value: "x", timestamp: 1)) { error in
            XCTAssertTrue("\(error)".contains("suppression buffer 'KTABLE-SUPPRESS-STATE-STORE-") && "\(error)".contains("full"), "\(error)")
        }
    }

    func finalCountsByTimeLimit(_ suppressed: Suppressed) throws -> TopologyTestDriver {
        let builder = StreamsBuilder()
        builder.stream("events", Consumed(.string, .string)).groupByKey().count()
            .suppress(suppressed).toStream().to("limited", Produced(.string, Serde<Int64>.int64.optional))
        return try TopologyTestDriver(try builder.build())
    }

    func testWallClockClosingEmitsTheFinalsOfAQuietPartition() throws {
        let windows = try TimeWindows.ofSizeAndGrace(.seconds(10), grace: .seconds(2))
        let driver = try finalCounts(.untilWindowCloses(.unbounded).closingOnWallClockTime(every: .seconds(1)), windows: windows)
        defer { driver.close() }
        var events = try driver.createInputTopic("events", keySerde: .string, valueSerde: .string)
        try events.pipeInput(key: "a", value: "x", timestamp: 3_000)
        try events.pipeInput(key: "a", value: "x", timestamp: 4_000)
        try driver.advanceWallClockTime(.seconds(11))
        XCTAssertEqual(try read(driver, size: 10_000), [], "the clock (11 s) has not passed end + grace (12 s)")
        try driver.advanceWallClockTime(.seconds(1))
        XCTAssertEqual(try read(driver, size: 10_000), ["a@0=2"])
    }

    func testSuppressionsThatCantWorkAreBuildErrors() throws {
        let builder = StreamsBuilder()
        builder.stream("events", Consumed(.string, .string)).groupByKey().count().suppress(.untilWindowCloses(.unbounded))
        XCTAssertThrowsError(try builder.build()) { error in
            XCTAssertTrue("\(error)".contains("untilWindowCloses needs a windowed table"), "\(error)")
        }
        let other = StreamsBuilder()
        other.stream("events", Consumed(.string, .string)).groupByKey()
            .windowedBy(try TimeWindows.ofSizeWithNoGrace(.seconds(1))).count()
            .suppress(.untilWindowCloses(BufferConfig.maxRecords(10).emitEarlyWhenFull()))
        XCTAssertThrowsError(try other.build()) { error in
            XCTAssertTrue("\(error)".contains("shuts down when full"), "\(error)")
        }
    }
}
