import Rill
import RillTestDriver
import XCTest

/// Processors, their context, and punctuation on both clocks.
final class ProcessorAPITests: XCTestCase {
    /// Emits a running count per key, and on each punctuation a "tick@<time>" record.
    final class CountingProcessor: Processor {
        var context: ProcessorContext<String, String>!
        var counts: [String: Int] = [:]
        let type: PunctuationType
        let interval: Duration
        var schedule: Cancellable?

        init(type: PunctuationType, interval: Duration) {
            self.type = type
            self.interval = interval
        }

        func initialize(context: ProcessorContext<String, String>) throws {
            self.context = context
            schedule = context.schedule(interval: interval, type: type) { [unowned self] time in
                try self.context.forward(Record(key: "tick", value: "\(time)", timestamp: time))
            }
        }

        func process(_ record: Record<String, String>) throws {
            counts[record.key, default: 0] += 1
            if record.value == "cancel" { schedule?.cancel() }
            let origin = context.recordMetadata.map { "\($0.topic)/\($0.partition)/\($0.offset)" } ?? "-"
            try context.forward(record.withValue("\(counts[record.key]!)@\(origin)"))
        }
    }

    func driver(_ type: PunctuationType, _ interval: Duration = .seconds(10), initialWallClock: Int64 = 0) throws
        -> (TopologyTestDriver, TestInputTopic<String, String>, TestOutputTopic<String, String>)
    {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string))
            .process(named: "counter") { CountingProcessor(type: type, interval: interval) }
            .to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build(), initialWallClockTime: initialWallClock)
        return (
            driver, try driver.createInputTopic("in", keySerde: .string, valueSerde: .string),
            try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string)
        )
    }

    func testProcessorSeesRecordMetadataAndKeepsStatePerTask() throws {
        var (_, input, output) = try driver(.wallClockTime, .seconds(1_000))
        try input.pipeInput(key: "a", value: "x", timestamp: 1)
        try input.pipeInput(key: "a", value: "y", timestamp: 2)
        try input.pipeInput(key: "b", value: "z", timestamp: 3)
        XCTAssertEqual(try output.readKeyValuesToList(), [
            KeyValue("a", "1@in/0/0"), KeyValue("a", "2@in/0/1"), KeyValue("b", "1@in/0/2"),
        ])
    }

    func testStreamTimePunctuationFiresOnFirstRecordThenOnIntervalBoundaries() throws {
        var (_, input, output) = try driver(.streamTime, .seconds(10))
        func ticks() throws -> [String] { try output.readRecordsToList().filter { $0.key == "tick" }.map(\.value) }
        try input.pipeInput(key: "a", value: "1", timestamp: 1_000)
        XCTAssertEqual(try ticks(), ["1000"], "fires as soon as the task has a stream time")
        try input.pipeInput(key: "a", value: "2", timestamp: 9_999)
        XCTAssertEqual(try ticks(), [], "not due before 10000")
        try input.pipeInput(key: "a", value: "3", timestamp: 10_500)
        XCTAssertEqual(try ticks(), ["10500"])
        try input.pipeInput(key: "a", value: "4", timestamp: 5_000)
        XCTAssertEqual(try ticks(), [], "an out-of-order record does not move stream time")
        try input.pipeInput(key: "a", value: "5", timestamp: 45_000)
        XCTAssertEqual(try ticks(), ["45000"], "fires once even when several intervals were skipped")
        try input.pipeInput(key: "a", value: "6", timestamp: 54_999)
        XCTAssertEqual(try ticks(), [], "next due at 55000 after a skip")
        try input.pipeInput(key: "a", value: "7", timestamp: 55_000)
        XCTAssertEqual(try ticks(), ["55000"])
    }

    func testWallClockPunctuationFiresAsTheDriverClockAdvancesAndStopsWhenCancelled() throws {
        var (driver, input, output) = try driver(.wallClockTime, .seconds(5), initialWallClock: 100_000)
        func ticks() throws -> [String] { try output.readRecordsToList().filter { $0.key == "tick" }.map(\.value) }
        try driver.advanceWallClockTime(.seconds(4))
        XCTAssertEqual(try ticks(), [])
        try driver.advanceWallClockTime(.seconds(1))
        XCTAssertEqual(try ticks(), ["105000"])
        try driver.advanceWallClockTime(.seconds(12))
        XCTAssertEqual(try ticks(), ["117000"], "once per advance")
        try input.pipeInput(key: "a", value: "cancel", timestamp: 0)
        try driver.advanceWallClockTime(.seconds(60))
        XCTAssertEqual(try ticks(), [])
        XCTAssertEqual(driver.wallClockTime, 177_000)
    }

    /// Forwards each record to one named child, chosen by its value.
    final class Router: Processor {
        typealias KIn = String
        typealias VIn = String
        var context: ProcessorContext<String, String>!
        func initialize(context: ProcessorContext<String, String>) { self.context = context }
        func process(_ record: Record<String, String>) throws {
            try context.forward(record, to: record.value.hasPrefix("l") ? "left-sink" : "right-sink")
        }
    }

    /// Upper-cases values; keys can't change.
    final class Upper: FixedKeyProcessor {
        var context: FixedKeyProcessorContext<String, String>!
        var closed = false
        func initialize(context: FixedKeyProcessorContext<String, String>) { self.context = context }
        func process(_ record: FixedKeyRecord<String, String>) throws {
            try context.forward(record.withValue(record.value.uppercased()).withTimestamp(record.timestamp + 1))
        }
    }

    func testHandBuiltTopologyForwardsToNamedChildren() throws {
        let topology = Topology()
        try topology.addSource(name: "src", topics: ["in"], keySerde: .string, valueSerde: .string)
        try topology.addProcessor(name: "router", parents: ["src"]) { Router() }
        try topology.addSink(name: "left-sink", topic: "left", keySerde: .string, valueSerde: .string, parents: ["router"])
        try topology.addSink(name: "right-sink", topic: "right", keySerde: .string, valueSerde: .string, parents: ["router"])
        let driver = try TopologyTestDriver(topology)
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        for value in ["lemon", "rye", "lime"] { try input.pipeInput(key: "k", value: value, timestamp: 0) }
        XCTAssertEqual(try driver.createOutputTopic("left", keySerde: .string, valueSerde: .string).readValuesToList(), ["lemon", "lime"])
        XCTAssertEqual(try driver.createOutputTopic("right", keySerde: .string, valueSerde: .string).readValuesToList(), ["rye"])
    }

    func testProcessValuesKeepsKeys() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string)).processValues { Upper() }.to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build())
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        try input.pipeInput(key: "k", value: "abc", timestamp: 41)
        XCTAssertEqual(
            try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string).readRecord(),
            TestRecord(key: "k", value: "ABC", timestamp: 42))
    }

    /// Records `close()` and the context's identity.
    final class Closing: Processor {
        typealias KOut = String
        typealias VOut = String
        let log: Collected<String>
        init(log: Collected<String>) { self.log = log }
        func initialize(context: ProcessorContext<String, String>) {
            log.append("init \(context.applicationID) \(context.taskID)")
        }
        func process(_ record: Record<String, String>) {}
        func close() { log.append("close") }
    }

    func testProcessorsAreInitializedWithTheirTaskAndClosedWithTheDriver() throws {
        let log = Collected<String>()
        let builder = StreamsBuilder()
        _ = builder.stream("in", Consumed(.string, .string)).process { Closing(log: log) }
        let driver = try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "lifecycle"))
        XCTAssertEqual(log.items, ["init lifecycle 0_0"])
        driver.close()
        driver.close()
        XCTAssertEqual(log.items, ["init lifecycle 0_0", "close"])
    }
}
