import Rill
import RillTestDriver
import TestSupport
import XCTest

/// Windowed aggregations: the examples of Kafka Streams' documentation for tumbling, hopping, sliding
/// and session windows, grace and late records, and the record cache's effect on output.
final class WindowedAggregationTests: XCTestCase {
    let minute: Int64 = 60_000

    /// `windows` count per key of "events", to "counts" with time-windowed keys.
    func countTopology(_ windows: TimeWindows, cachingEnabled: Bool = true) throws -> Topology {
        let builder = StreamsBuilder()
        var materialized = Materialized<String, Int64>.as("counts")
        if !cachingEnabled { materialized = materialized.withCachingDisabled() }
        builder.stream("events", Consumed(.string, .string))
            .groupByKey()
            .windowedBy(windows)
            .count(materialized: materialized)
            .toStream()
            .to("counts", Produced(.timeWindowed(.string, windowSize: windows.sizeMs), Serde<Int64>.int64.optional))
        return try builder.build()
    }

    func render(_ records: [KeyValue<Windowed<String>, Int64?>]) -> [String] {
        records.map { "\($0.key.key)@\($0.key.window.start)-\($0.key.window.end)=\($0.value.map(String.init) ?? "null")" }
    }

    func testTumblingWindowsCountPerKeyAndWindow() throws {
        let windows = try TimeWindows.ofSizeWithNoGrace(.seconds(60))
        let driver = try TopologyTestDriver(try countTopology(windows), config: StreamsConfig(applicationID: "tumbling"))
        defer { driver.close() }
        var events = try driver.createInputTopic("events", keySerde: .string, valueSerde: .string)
        let counts = try driver.createOutputTopic(
            "counts", keySerde: .timeWindowed(.string, windowSize: windows.sizeMs), valueSerde: Serde<Int64>.int64.optional)
        for (key, time) in [("a", 0), ("a", 30_000), ("b", 59_999), ("a", 60_000), ("a", 125_000)] {
            try events.pipeInput(key: key, value: "x", timestamp: Int64(time))
        }
        XCTAssertEqual(render(try counts.readKeyValuesToList()), [
            "a@0-60000=1", "a@0-60000=2", "b@0-60000=1", "a@60000-120000=1", "a@120000-180000=1",
        ])
        let store: any TimestampedWindowStore<String, Int64> = try driver.timestampedWindowStore(named: "counts")
        XCTAssertEqual(try store.fetch("a", windowStart: 0), ValueAndTimestamp(2, timestamp: 30_000))
        XCTAssertEqual(try store.fetch("a", from: 0, to: 200_000).map(\.key), [0, 60_000, 120_000])
    }

    func testHoppingWindowsPutARecordInEveryWindowThatCoversIt() throws {
        // Kafka Streams' documentation: 5-minute windows advancing by 1 minute.
        let windows = try TimeWindows.ofSizeWithNoGrace(.seconds(300)).advanceBy(.seconds(60))
        let driver = try TopologyTestDriver(try countTopology(windows), config: StreamsConfig(applicationID: "hopping"))
        defer { driver.close() }
        var events = try driver.createInputTopic("events", keySerde: .string, valueSerde: .string)
        try events.pipeInput(key: "k", value: "x", timestamp: 6 * minute + 30_000)
        try events.pipeInput(key: "k", value: "x", timestamp: 7 * minute)
        let store: any TimestampedWindowStore<String, Int64> = try driver.timestampedWindowStore(named: "counts")
        let starts = try store.fetch("k", from: 0, to: 10 * minute)
        XCTAssertEqual(starts.map { $0.key / minute }, [2, 3, 4, 5, 6, 7])
        XCTAssertEqual(starts.map(\.value.value), [1, 2, 2, 2, 2, 1])
    }

    func testGraceAcceptsLateRecordsUntilTheWindowClosesThenDropsAndCountsThem() throws {
        let windows = try TimeWindows.ofSizeAndGrace(.seconds(10), grace: .seconds(5))
        let driver = try TopologyTestDriver(try countTopology(windows), config: StreamsConfig(applicationID: "grace"))
        defer { driver.close() }
        var events = try driver.createInputTopic("events", keySerde: .string, valueSerde: .string)
        let counts = try driver.createOutputTopic(
            "counts", keySerde: .timeWindowed(.string, windowSize: windows.sizeMs), valueSerde: Serde<Int64>.int64.optional)
        try events.pipeInput(key: "k", value: "x", timestamp: 1_000)
        try events.pipeInput(key: "k", value: "x", timestamp: 14_000)
        // Window [0, 10 s) closes at stream time 15 s: 14 s still takes it.
        try events.pipeInput(key: "k", value: "x", timestamp: 8_000)
        try events.pipeInput(key: "k", value: "x", timestamp: 15_000)
        // Stream time 15 s: window [0, 10 s) is closed.
        try events.pipeInput(key: "k", value: "x", timestamp: 9_000)
        XCTAssertEqual(render(try counts.readKeyValuesToList()), [
            "k@0-10000=1", "k@10000-20000=1", "k@0-10000=2", "k@10000-20000=2",
        ])
        XCTAssertEqual(driver.metrics.dropped, 1)
        let store: any TimestampedWindowStore<String, Int64> = try driver.timestampedWindowStore(named: "counts")
        XCTAssertEqual(try store.fetch("k", windowStart: 0)?.value, 2)
    }

    func testInvalidWindowsAreOneClearErrorEach() {
        XCTAssertThrowsError(try TimeWindows.ofSizeWithNoGrace(.zero)) { error in
            XCTAssertEqual("\(error)", "TimeWindows: window size must be positive (got 0 ms)")
        }
        XCTAssertThrowsError(try TimeWindows.ofSizeAndGrace(.seconds(1), grace: .milliseconds(-1))) { error in
            XCTAssertEqual("\(error)", "TimeWindows: grace period must be zero or more (got -1 ms)")
        }
        XCTAssertThrowsError(try TimeWindows.ofSizeWithNoGrace(.seconds(1)).advanceBy(.seconds(2))) { error in
            XCTAssertTrue("\(error)".contains("advance (2000 ms) must not exceed the window size (1000 ms)"), "\(error)")
        }
        XCTAssertThrowsError(try SlidingWindows.ofTimeDifferenceWithNoGrace(.milliseconds(-5))) { error in
            XCTAssertTrue("\(error)".contains("SlidingWindows: time difference must be positive"), "\(error)")
        }
        XCTAssertThrowsError(try SessionWindows.ofInactivityGapAndGrace(.seconds(1), grace: .seconds(-1))) { error in
            XCTAssertTrue("\(error)".contains("SessionWindows: grace period"), "\(error)")
        }
    }

    func testARetentionShorterThanWindowAndGraceIsABuildErrorNamingTheStore() throws {
        let builder = StreamsBuilder()
        builder.stream("events", Consumed(.string, .string)).groupByKey()
            .windowedBy(try TimeWindows.ofSizeAndGrace(.seconds(60), grace: .seconds(10)))
            .count(materialized: .as("short-lived").withRetention(30_000))
        XCTAssertThrowsError(try builder.build()) { error in
            XCTAssertTrue("\(error)".contains("'short-lived'") && "\(error)".contains("70000 ms"), "\(error)")
        }
    }

    // MARK: - Record cache

    /// Each line becomes its words; counting them per 1-minute window.
    func wordsPerWindow(cachingEnabled: Bool) throws -> TopologyTestDriver {
        let builder = StreamsBuilder()
        var materialized = Materialized<String, Int64>.as("words")
        if !cachingEnabled { materialized = materialized.withCachingDisabled() }
        builder.stream("lines", Consumed(.string, .string))
            .flatMapValues { $0.split(separator: " ").map(String.init) }
            .groupBy({ _, word in word }, Grouped(keySerde: .string, valueSerde: .string))
            .windowedBy(try TimeWindows.ofSizeWithNoGrace(.seconds(60)))
            .count(materialized: materialized)
            .toStream()
            .to("word-counts", Produced(.timeWindowed(.string, windowSize: 60_000), Serde<Int64>.int64.optional))
        return try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "cache"))
    }

    func testTheCacheCollapsesUpdatesOfAKeyBetweenCommitsAndNoCacheForwardsEach() throws {
        for caching in [true, false] {
            let driver = try wordsPerWindow(cachingEnabled: caching)
            defer { driver.close() }
            var lines = try driver.createInputTopic("lines", keySerde: .string, valueSerde: .string)
            let counts = try driver.createOutputTopic(
                "word-counts", keySerde: .timeWindowed(.string, windowSize: 60_000), valueSerde: Serde<Int64>.int64.optional)
            // The driver commits after each piped record, as Kafka Streams' does.
            try lines.pipeInput(key: "l1", value: "a b a a", timestamp: 1_000)
            try lines.pipeInput(key: "l2", value: "b", timestamp: 2_000)
            let changelog = try driver.createOutputTopic("cache-words-changelog", keySerde: .bytes, valueSerde: .bytes)
            if caching {
                // Written through in the order of their latest update, as Kafka Streams' cache does.
                XCTAssertEqual(render(try counts.readKeyValuesToList()), ["b@0-60000=1", "a@0-60000=3", "b@0-60000=2"])
                XCTAssertEqual(try changelog.readRecordsToList().count, 3)
            } else {
                XCTAssertEqual(render(try counts.readKeyValuesToList()), [
                    "a@0-60000=1", "b@0-60000=1", "a@0-60000=2", "a@0-60000=3", "b@0-60000=2",
                ])
                XCTAssertEqual(try changelog.readRecordsToList().count, 5)
            }
        }
    }

    func testAFullCacheEvictsTheOldestEntriesDownstream() throws {
        let builder = StreamsBuilder()
        builder.stream("lines", Consumed(.string, .string))
            .flatMapValues { $0.split(separator: " ").map(String.init) }
            .selectKey { _, word in word }
            .groupByKey(Grouped(keySerde: .string, valueSerde: .string))
            .count(materialized: .as("words"))
            .toStream()
            .to("word-counts", Produced(.string, Serde<Int64>.int64.optional))
        var config = StreamsConfig(applicationID: "tiny-cache")
        config.cacheMaxBytes = 200  // room for two entries
        let driver = try TopologyTestDriver(try builder.build(), config: config)
        defer { driver.close() }
        var lines = try driver.createInputTopic("lines", keySerde: .string, valueSerde: .string)
        let counts = try driver.createOutputTopic("word-counts", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        try lines.pipeInput(key: "l", value: "a a b c a", timestamp: 0)
        // "a" (2) is evicted when "c" arrives; then the commit writes out b, c and the new "a".
        XCTAssertEqual(try counts.readKeyValuesToList(), [KeyValue("a", 2), KeyValue("b", 1), KeyValue("c", 1), KeyValue("a", 3)])
    }

    // MARK: - Sliding windows

    func slidingTopology(_ windows: SlidingWindows) throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream("events", Consumed(.string, .string))
            .groupByKey()
            .windowedBy(windows)
            .count(materialized: .as("sliding"))
            .toStream()
            .to("counts", Produced(.timeWindowed(.string, windowSize: windows.timeDifferenceMs), Serde<Int64>.int64.optional))
        return try builder.build()
    }

    func slidingWindows(_ driver: TopologyTestDriver) throws -> [String] {
        let store: any TimestampedWindowStore<String, Int64> = try driver.timestampedWindowStore(named: "sliding")
        return try store.all().map { "\($0.key.key)[\($0.key.window.start),\($0.key.window.end)]=\($0.value.value)" }
    }

    func testSlidingWindowsHoldEachDistinctSetOfRecordsWithinTheTimeDifference() throws {
        let windows = try SlidingWindows.ofTimeDifferenceWithNoGrace(.milliseconds(10))
        let driver = try TopologyTestDriver(try slidingTopology(windows), config: StreamsConfig(applicationID: "sliding"))
        defer { driver.close() }
        var events = try driver.createInputTopic("events", keySerde: .string, valueSerde: .string)
        for time in [10, 15, 20] { try events.pipeInput(key: "A", value: "x", timestamp: Int64(time)) }
        XCTAssertEqual(try slidingWindows(driver), [
            "A[0,10]=1", "A[5,15]=2", "A[10,20]=3", "A[11,21]=2", "A[16,26]=1",
        ])
    }

    /// The final windows Kafka Streams' sliding windows hold for records at `times`: each record's
    /// left window `[t - d, t]` (`[0, d]` for `t < d`), and its right window `[t + 1, t + 1 + d]`
    /// when a later record falls in it; each with the number of records it covers.
    func expectedSlidingWindows(_ times: [Int64], d: Int64) -> [String] {
        var windows = Set<Window>()
        for t in times {
            windows.insert(t < d ? Window(start: 0, end: d) : Window(start: t - d, end: t))
            if times.contains(where: { $0 > t && $0 <= t + 1 + d }) { windows.insert(Window(start: t + 1, end: t + 1 + d)) }
        }
        return windows.sorted { ($0.start, $0.end) < ($1.start, $1.end) }.map { window in
            "A[\(window.start),\(window.end)]=\(times.filter { $0 >= window.start && $0 <= window.end }.count)"
        }
    }

    func testSlidingWindowsMatchTheirDefinitionForRandomOutOfOrderInput() throws {
        var generator = SeededGenerator(seed: 42)
        for round in 0..<20 {
            let d: Int64 = 10
            let windows = try SlidingWindows.ofTimeDifferenceAndGrace(.milliseconds(d), grace: .seconds(10))
            let driver = try TopologyTestDriver(try slidingTopology(windows), config: StreamsConfig(applicationID: "sliding-\(round)"))
            defer { driver.close() }
            var events = try driver.createInputTopic("events", keySerde: .string, valueSerde: .string)
            var times: [Int64] = []
            for _ in 0..<12 {
                var time = Int64.random(in: 0...60, using: &generator)
                while times.contains(time) { time = Int64.random(in: 0...60, using: &generator) }
                times.append(time)
                try events.pipeInput(key: "A", value: "x", timestamp: time)
            }
            XCTAssertEqual(try slidingWindows(driver), expectedSlidingWindows(times, d: d), "input \(times)")
        }
    }

    func testSlidingWindowsDropRecordsWhoseWindowsHaveClosed() throws {
        let windows = try SlidingWindows.ofTimeDifferenceAndGrace(.milliseconds(10), grace: .milliseconds(5))
        let driver = try TopologyTestDriver(try slidingTopology(windows), config: StreamsConfig(applicationID: "late-sliding"))
        defer { driver.close() }
        var events = try driver.createInputTopic("events", keySerde: .string, valueSerde: .string)
        try events.pipeInput(key: "A", value: "x", timestamp: 100)
        // Close time 95: a record at 80 has windows ending by 91 at the latest.
        try events.pipeInput(key: "A", value: "x", timestamp: 80)
        XCTAssertEqual(driver.metrics.dropped, 1)
        XCTAssertEqual(try slidingWindows(driver), ["A[90,100]=1"])
    }

    // MARK: - Session windows

    func sessionTopology(cachingEnabled: Bool) throws -> Topology {
        let builder = StreamsBuilder()
        var materialized = Materialized<String, Int64>.as("sessions")
        if !cachingEnabled { materialized = materialized.withCachingDisabled() }
        builder.stream("clicks", Consumed(.string, .string))
            .groupByKey()
            .windowedBy(try SessionWindows.ofInactivityGapAndGrace(.seconds(300), grace: .seconds(600)))
            .count(materialized: materialized)
            .toStream()
            .to("sessions-out", Produced(.sessionWindowed(.string), Serde<Int64>.int64.optional))
        return try builder.build()
    }

    func testSessionsGrowMergeAndEmitTombstonesForMergedAwaySessions() throws {
        for caching in [true, false] {
            let driver = try TopologyTestDriver(
                try sessionTopology(cachingEnabled: caching), config: StreamsConfig(applicationID: "sessions"))
            defer { driver.close() }
            var clicks = try driver.createInputTopic("clicks", keySerde: .string, valueSerde: .string)
            let output = try driver.createOutputTopic(
                "sessions-out", keySerde: .sessionWindowed(.string), valueSerde: Serde<Int64>.int64.optional)
            try clicks.pipeInput(key: "A", value: "x", timestamp: 0)
            try clicks.pipeInput(key: "A", value: "x", timestamp: 4 * minute)
            try clicks.pipeInput(key: "B", value: "x", timestamp: 5 * minute)
            try clicks.pipeInput(key: "A", value: "x", timestamp: 12 * minute)
            // 8 minutes is within the gap of both A sessions (and within the grace): they merge into one.
            try clicks.pipeInput(key: "A", value: "x", timestamp: 8 * minute)
            XCTAssertEqual(render(try output.readKeyValuesToList()), [
                "A@0-0=1",
                "A@0-0=null", "A@0-240000=2",
                "B@300000-300000=1",
                "A@720000-720000=1",
                "A@0-240000=null", "A@720000-720000=null", "A@0-720000=4",
            ], "caching \(caching)")
            let store: any SessionStore<String, Int64> = try driver.sessionStore(named: "sessions")
            XCTAssertEqual(try store.fetch("A").map(\.value), [4])
            XCTAssertEqual(try store.fetchSession("B", start: 5 * minute, end: 5 * minute), 1)
        }
    }

    func testALateRecordForAClosedSessionIsDropped() throws {
        let driver = try TopologyTestDriver(try sessionTopology(cachingEnabled: true), config: StreamsConfig(applicationID: "late"))
        defer { driver.close() }
        var clicks = try driver.createInputTopic("clicks", keySerde: .string, valueSerde: .string)
        try clicks.pipeInput(key: "A", value: "x", timestamp: 60 * minute)
        try clicks.pipeInput(key: "B", value: "x", timestamp: 0)
        XCTAssertEqual(driver.metrics.dropped, 1)
        let store: any SessionStore<String, Int64> = try driver.sessionStore(named: "sessions")
        XCTAssertEqual(try store.fetch("B").count, 0)
    }

    func testSessionReduceAndAggregateMergeWithTheirFunctions() throws {
        let builder = StreamsBuilder()
        let grouped = builder.stream("clicks", Consumed(.string, .string)).groupByKey()
            .windowedBy(try SessionWindows.ofInactivityGapWithNoGrace(.milliseconds(10)))
        grouped.reduce(materialized: .as("joined")) { $0 + $1 }
        grouped.aggregate(
            materialized: Materialized<String, String>.as("pages").withSerdes(.string, .string),
            initializer: { "" }, aggregator: { _, page, pages in pages + page },
            merger: { _, left, right in left + "|" + right })
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        var clicks = try driver.createInputTopic("clicks", keySerde: .string, valueSerde: .string)
        try clicks.pipeInput(key: "u", value: "a", timestamp: 0)
        try clicks.pipeInput(key: "u", value: "b", timestamp: 20)
        try clicks.pipeInput(key: "u", value: "c", timestamp: 10)
        let joined: any SessionStore<String, String> = try driver.sessionStore(named: "joined")
        XCTAssertEqual(try joined.fetch("u").map(\.value), ["abc"])
        let pages: any SessionStore<String, String> = try driver.sessionStore(named: "pages")
        // As in Kafka Streams: the aggregate starts from the initializer, merges each bridged session, then adds the record.
        XCTAssertEqual(try pages.fetch("u").map(\.value), ["|a|bc"])
    }
}
