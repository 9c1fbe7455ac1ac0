import Rill
import RillTestDriver
import XCTest

/// groupByKey / groupBy with count, reduce and aggregate into tables; every update is emitted.
final class AggregationTests: XCTestCase {
    func wordCount() throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream("streams-plaintext-input", Consumed(.string, .string))
            .flatMapValues { line in line.lowercased().split(separator: " ").map(String.init) }
            .groupBy({ _, word in word }, Grouped(keySerde: .string, valueSerde: .string))
            .count(materialized: .as("counts-store"))
            .toStream()
            .to("streams-wordcount-output", Produced(.string, Serde<Int64>.int64.optional))
        return try builder.build()
    }

    func testWordCountDescriptionMatchesKafkaStreams() throws {
        XCTAssertEqual("\(try wordCount().describe())", """
            Topologies:
               Sub-topology: 0
                Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])
                  --> KSTREAM-FLATMAPVALUES-0000000001
                Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])
                  --> KSTREAM-KEY-SELECT-0000000002
                  <-- KSTREAM-SOURCE-0000000000
                Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
                  --> counts-store-repartition-filter
                  <-- KSTREAM-FLATMAPVALUES-0000000001
                Processor: counts-store-repartition-filter (stores: [])
                  --> counts-store-repartition-sink
                  <-- KSTREAM-KEY-SELECT-0000000002
                Sink: counts-store-repartition-sink (topic: counts-store-repartition)
                  <-- counts-store-repartition-filter

              Sub-topology: 1
                Source: counts-store-repartition-source (topics: [counts-store-repartition])
                  --> KSTREAM-AGGREGATE-0000000003
                Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])
                  --> KTABLE-TOSTREAM-0000000007
                  <-- counts-store-repartition-source
                Processor: KTABLE-TOSTREAM-0000000007 (stores: [])
                  --> KSTREAM-SINK-0000000008
                  <-- KSTREAM-AGGREGATE-0000000003
                Sink: KSTREAM-SINK-0000000008 (topic: streams-wordcount-output)
                  <-- KTABLE-TOSTREAM-0000000007


            """)
    }

    func testWordCountEmitsEveryUpdateAndKeepsTheTableInItsStore() throws {
        let driver = try TopologyTestDriver(try wordCount(), config: StreamsConfig(applicationID: "wordcount"))
        defer { driver.close() }
        var input = try driver.createInputTopic("streams-plaintext-input", keySerde: .string, valueSerde: .string)
        let output = try driver.createOutputTopic(
            "streams-wordcount-output", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        try input.pipeInput(key: "1", value: "all streams lead to kafka", timestamp: 10)
        try input.pipeInput(key: "2", value: "hello kafka streams", timestamp: 20)
        XCTAssertEqual(try output.readKeyValuesToList(), [
            KeyValue("all", 1), KeyValue("streams", 1), KeyValue("lead", 1), KeyValue("to", 1), KeyValue("kafka", 1),
            KeyValue("hello", 1), KeyValue("kafka", 2), KeyValue("streams", 2),
        ])
        let store = try driver.timestampedKeyValueStore(named: "counts-store", keyType: String.self, valueType: Int64.self)
        XCTAssertEqual(try store.get("kafka"), ValueAndTimestamp(2, timestamp: 20))
        XCTAssertEqual(try store.get("lead"), ValueAndTimestamp(1, timestamp: 10))
        XCTAssertTrue(driver.producedTopicNames.contains("wordcount-counts-store-repartition"))
        XCTAssertTrue(driver.producedTopicNames.contains("wordcount-counts-store-changelog"))
    }

    func testAggregateTimestampIsTheLargestInputTimestamp() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .int64))
            .groupByKey()
            .reduce(materialized: .as("sums")) { $0 + $1 }
            .toStream()
            .to("out", Produced(.string, Serde<Int64>.int64.optional))
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .int64)
        let output = try driver.createOutputTopic("out", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        try input.pipeInput(key: "a", value: 5, timestamp: 100)
        try input.pipeInput(key: "a", value: 7, timestamp: 50)
        try input.pipeInput(key: "b", value: 1, timestamp: 60)
        try input.pipeInput(key: "a", value: 1, timestamp: 200)
        XCTAssertEqual(try output.readRecordsToList().map { "\($0.key)=\($0.value ?? -1)@\($0.timestamp)" }, [
            "a=5@100", "a=12@100", "b=1@60", "a=13@200",
        ])
        XCTAssertFalse(driver.producedTopicNames.contains { $0.hasSuffix("-repartition") }, "groupByKey needs no repartition")
    }

    struct Stats: Codable, Equatable {
        var count: Int
        var total: Int64
    }

    func testAggregateWithAnInitializerAndNullValuesSkipped() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, Serde<Int64>.int64.optional))
            .groupByKey()
            .aggregate(
                materialized: Materialized(storeName: "stats", valueSerde: .json(Stats.self)),
                initializer: { Stats(count: 0, total: 0) },
                aggregator: { _, value, stats in Stats(count: stats.count + 1, total: stats.total + (value ?? 0)) })
            .toStream()
            .to("out", Produced(.string, Serde<Stats>.json().optional))
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        let output = try driver.createOutputTopic("out", keySerde: .string, valueSerde: Serde<Stats>.json().optional)
        try input.pipeInput(key: "k", value: 10, timestamp: 1)
        try input.pipeInput(key: "k", value: nil, timestamp: 2)
        try input.pipeInput(key: "k", value: 5, timestamp: 3)
        XCTAssertEqual(try output.readValuesToList(), [Stats(count: 1, total: 10), Stats(count: 2, total: 15)])
        XCTAssertEqual(driver.metrics.dropped, 1, "the null value is skipped and counted")
    }

    func testGroupByKeyAfterAKeyChangeRepartitionsAndUnnamedStoresGetGeneratedNames() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string))
            .selectKey { _, value in value }
            .groupByKey(Grouped(keySerde: .string, valueSerde: .string))
            .count()
            .toStream()
            .to("out", Produced(.string, Serde<Int64>.int64.optional))
        let topology = try builder.build()
        let text = "\(topology.describe())"
        XCTAssertTrue(text.contains("Processor: KSTREAM-AGGREGATE-0000000003 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])"), text)
        XCTAssertTrue(text.contains("(topic: KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition)"), text)
        let driver = try TopologyTestDriver(topology, config: StreamsConfig(applicationID: "app"))
        defer { driver.close() }
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        for value in ["x", "y", "x"] { try input.pipeInput(key: "ignored", value: value, timestamp: 0) }
        XCTAssertEqual(
            try driver.createOutputTopic("out", keySerde: .string, valueSerde: Serde<Int64>.int64.optional).readKeyValuesToList(),
            [KeyValue("x", 1), KeyValue("y", 1), KeyValue("x", 2)])
        XCTAssertTrue(driver.producedTopicNames.contains("app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"))
    }

    func testMissingSerdesAreErrorsNamingTheRepartitionSinkOrTheStore() throws {
        // A key-changing grouping without serdes: the repartition topic can't be written.
        let rekeyed = StreamsBuilder()
        rekeyed.stream("in", Consumed(.string, .string))
            .groupBy { _, value in Int64(value.count) }
            .count(materialized: .as("lengths"))
        XCTAssertThrowsError(try TopologyTestDriver(try rekeyed.build())) { error in
            XCTAssertTrue("\(error)".contains("lengths-repartition-sink"), "\(error)")
        }
        // mapValues drops the value serde: the table's store has none for its values.
        let mapped = StreamsBuilder()
        mapped.stream("in", Consumed(.string, .string))
            .mapValues { $0.uppercased() }
            .groupByKey()
            .reduce(materialized: .as("latest")) { _, new in new }
        let driver = try TopologyTestDriver(try mapped.build())
        defer { driver.close() }
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        XCTAssertThrowsError(try input.pipeInput(key: "k", value: "abc", timestamp: 0)) { error in
            XCTAssertTrue("\(error)".contains("'latest'") && "\(error)".contains("value serde"), "\(error)")
        }
    }
}
