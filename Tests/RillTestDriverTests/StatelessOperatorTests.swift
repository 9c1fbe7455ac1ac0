import Rill
import RillTestDriver
import XCTest

/// Each stateless operator, as a scenario: records in with timestamps, exact records out.
final class StatelessOperatorTests: XCTestCase {
    typealias R = TestRecord<String, String>

    /// Builds `stream("in") |> body |> to("out")` with string serdes and runs `records` through it.
    func run(
        _ records: [R], config: StreamsConfig = StreamsConfig(applicationID: "ops"),
        _ body: (KStream<String, String>) -> KStream<String, String>
    ) throws -> [R] {
        let builder = StreamsBuilder()
        body(builder.stream("in", Consumed(.string, .string))).to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build(), config: config)
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        let output = try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string)
        try input.pipeRecordList(records)
        return try output.readRecordsToList()
    }

    let input: [R] = [
        R(key: "a", value: "apple", timestamp: 10),
        R(key: "b", value: "banana", timestamp: 20),
        R(key: "c", value: "avocado", timestamp: 15),
        R(key: "d", value: "cherry", timestamp: 30),
    ]

    func testFilterKeepsMatchingRecordsInOrder() throws {
        let out = try run(input) { $0.filter { _, v in v.hasPrefix("a") } }
        XCTAssertEqual(out, [R(key: "a", value: "apple", timestamp: 10), R(key: "c", value: "avocado", timestamp: 15)])
    }

    func testFilterNotDropsMatchingRecords() throws {
        let out = try run(input) { $0.filterNot { _, v in v.hasPrefix("a") } }
        XCTAssertEqual(out, [R(key: "b", value: "banana", timestamp: 20), R(key: "d", value: "cherry", timestamp: 30)])
    }

    func testMapChangesKeyAndValueKeepingTimestamp() throws {
        let out = try run(input) { $0.map { k, v in KeyValue(v, k.uppercased()) } }
        XCTAssertEqual(out.map(\.keyValue), [
            KeyValue("apple", "A"), KeyValue("banana", "B"), KeyValue("avocado", "C"), KeyValue("cherry", "D"),
        ])
        XCTAssertEqual(out.map(\.timestamp), [10, 20, 15, 30])
    }

    func testMapValuesWithoutAndWithKey() throws {
        let plain = try run(input) { $0.mapValues { v in String(v.count) } }
        XCTAssertEqual(plain.map(\.keyValue), [KeyValue("a", "5"), KeyValue("b", "6"), KeyValue("c", "7"), KeyValue("d", "6")])
        let keyed = try run(input) { $0.mapValues { k, v in "\(k)=\(v.prefix(2))" } }
        XCTAssertEqual(keyed.map(\.value), ["a=ap", "b=ba", "c=av", "d=ch"])
        XCTAssertEqual(keyed.map(\.key), ["a", "b", "c", "d"])
    }

    func testFlatMapEmitsZeroOrMoreRecordsEach() throws {
        let out = try run(input) { stream in
            stream.flatMap { k, v in v.hasPrefix("c") ? [] : [KeyValue(k, "1:" + v), KeyValue(k + k, "2:" + v)] }
        }
        XCTAssertEqual(out.map(\.keyValue), [
            KeyValue("a", "1:apple"), KeyValue("aa", "2:apple"), KeyValue("b", "1:banana"), KeyValue("bb", "2:banana"),
            KeyValue("c", "1:avocado"), KeyValue("cc", "2:avocado"),
        ])
        XCTAssertEqual(out.map(\.timestamp), [10, 10, 20, 20, 15, 15])
    }

    func testFlatMapValuesWithoutAndWithKey() throws {
        let plain = try run(Array(input.prefix(2))) { $0.flatMapValues { v in v.map(String.init).prefix(2).map { $0 } } }
        XCTAssertEqual(plain.map(\.keyValue), [KeyValue("a", "a"), KeyValue("a", "p"), KeyValue("b", "b"), KeyValue("b", "a")])
        let keyed = try run(Array(input.prefix(1))) { $0.flatMapValues { k, v in [k, v] } }
        XCTAssertEqual(keyed.map(\.keyValue), [KeyValue("a", "a"), KeyValue("a", "apple")])
    }

    func testSelectKeyReplacesKeyOnly() throws {
        let out = try run(Array(input.prefix(2))) { $0.selectKey { _, v in String(v.first ?? "?") } }
        XCTAssertEqual(out, [R(key: "a", value: "apple", timestamp: 10), R(key: "b", value: "banana", timestamp: 20)])
    }

    func testPeekSeesEveryRecordAndPassesItOn() throws {
        let seen = Collected<String>()
        let out = try run(input) { $0.peek { k, v in seen.append("\(k):\(v)") } }
        XCTAssertEqual(seen.items, ["a:apple", "b:banana", "c:avocado", "d:cherry"])
        XCTAssertEqual(out, input)
    }

    func testForeachEndsTheChain() throws {
        let seen = Collected<String>()
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string)).foreach { k, _ in seen.append(k) }
        let driver = try TopologyTestDriver(try builder.build())
        var topic = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        try topic.pipeRecordList(input)
        XCTAssertEqual(seen.items, ["a", "b", "c", "d"])
        XCTAssertTrue(driver.producedTopicNames.isEmpty)
    }

    func testHeadersTravelThroughOperatorsToTheSink() throws {
        let headers: Headers = [Header(key: "trace", string: "t-1"), Header(key: "empty", value: nil)]
        let out = try run([R(key: "a", value: "x", timestamp: 5, headers: headers)]) { stream in
            stream.mapValues { $0 + "!" }.filter { _, _ in true }
        }
        XCTAssertEqual(out, [R(key: "a", value: "x!", timestamp: 5, headers: headers)])
        XCTAssertEqual(out.first?.headers.lastHeader("trace")?.stringValue, "t-1")
    }

    func testRecordsWithoutTimestampUseTheTopicClockAndAutoAdvance() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string)).to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build(), initialWallClockTime: 1_000)
        var input = try driver.createInputTopic(
            "in", keySerde: .string, valueSerde: .string, startTimestamp: 500, autoAdvance: .milliseconds(10))
        let output = try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string)
        try input.pipeKeyValueList([KeyValue("a", "1"), KeyValue("b", "2")])
        XCTAssertEqual(try output.readRecordsToList().map(\.timestamp), [500, 510])
    }

    func testTimestampExtractorSetsEventTime() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .int64, timestampExtractor: { _, value, _ in value * 1000 }))
            .to("out", Produced(.string, .int64))
        let driver = try TopologyTestDriver(try builder.build())
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .int64)
        let output = try driver.createOutputTopic("out", keySerde: .string, valueSerde: .int64)
        try input.pipeInput(key: "a", value: 7, timestamp: 1)
        XCTAssertEqual(try output.readRecord(), TestRecord(key: "a", value: 7, timestamp: 7_000))
    }

    func testReadingAnEmptyOutputTopicIsAnError() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string)).to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build())
        let output = try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string)
        XCTAssertTrue(output.isEmpty)
        XCTAssertThrowsError(try output.readValue()) { XCTAssertTrue("\($0)".contains("'out'")) }
    }

    func testUnknownInputAndOutputTopicsAreErrorsNamingThem() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string)).to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build())
        XCTAssertThrowsError(try driver.createInputTopic("nope", keySerde: .string, valueSerde: .string)) {
            XCTAssertTrue("\($0)".contains("'nope'") && "\($0)".contains("in"), "\($0)")
        }
        XCTAssertThrowsError(try driver.createOutputTopic("elsewhere", keySerde: .string, valueSerde: .string)) {
            XCTAssertTrue("\($0)".contains("'elsewhere'"), "\($0)")
        }
    }

    func testMissingSerdeIsAnErrorNamingTheSinkAndDefaultSerdeFillsIn() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string)).mapValues { $0.count }.to("out")
        let topology = try builder.build()
        XCTAssertThrowsError(try TopologyTestDriver(topology)) { error in
            XCTAssertTrue("\(error)".contains("KSTREAM-SINK-0000000002"), "\(error)")
        }
        var config = StreamsConfig(applicationID: "defaults")
        config.defaultKeySerde = AnySerde(Serde<String>.string)
        config.defaultValueSerde = AnySerde(Serde<String>.string)
        XCTAssertThrowsError(try TopologyTestDriver(topology, config: config)) { error in
            XCTAssertTrue("\(error)".contains("Int") && "\(error)".contains("String"), "\(error)")
        }
    }
}

/// Values appended from user callbacks (which must be Sendable).
final class Collected<T>: @unchecked Sendable {
    private var storage: [T] = []
    private let lock = NSLock()
    func append(_ item: T) { lock.withLock { storage.append(item) } }
    var items: [T] { lock.withLock { storage } }
}
