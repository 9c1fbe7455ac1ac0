import Rill
import RillTestDriver
import XCTest

/// split, merge, sinks with a topic extractor, repartition, and topics both written and read.
final class RoutingTests: XCTestCase {
    func testSplitSendsEachRecordToTheFirstMatchingBranchElseDefault() throws {
        let builder = StreamsBuilder()
        let branches = builder.stream("in", Consumed(.string, .int64))
            .split(named: "n-")
            .branch({ _, n in n < 0 }, Branched.as("negative"))
            .branch({ _, n in n < 10 }, Branched.as("small"))
            .branch({ _, n in n < 5 }, Branched.as("never"))  // shadowed by "small"
            .defaultBranch(Branched.as("large"))
        XCTAssertEqual(Set(branches.keys), ["n-negative", "n-small", "n-never", "n-large"])
        for (name, stream) in branches { stream.to(name, Produced(.string, .int64)) }
        let driver = try TopologyTestDriver(try builder.build())
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .int64)
        for (i, n) in [-3, 4, 2, 50, 9, -1, 10].enumerated() {
            try input.pipeInput(key: "k\(i)", value: Int64(n), timestamp: Int64(i))
        }
        func values(_ topic: String) throws -> [Int64] {
            try driver.createOutputTopic(topic, keySerde: .string, valueSerde: .int64).readValuesToList()
        }
        XCTAssertEqual(try values("n-negative"), [-3, -1])
        XCTAssertEqual(try values("n-small"), [4, 2, 9])
        XCTAssertEqual(try values("n-never"), [])
        XCTAssertEqual(try values("n-large"), [50, 10])
    }

    func testNoDefaultBranchDropsUnmatchedAndUnnamedBranchesAreNumbered() throws {
        let builder = StreamsBuilder()
        let branches = builder.stream("in", Consumed(.string, .int64))
            .split()
            .branch { _, n in n % 2 == 0 }
            .branch { _, n in n % 3 == 0 }
            .noDefaultBranch()
        XCTAssertEqual(Set(branches.keys), ["KSTREAM-BRANCH-00000000011", "KSTREAM-BRANCH-00000000012"])
        branches["KSTREAM-BRANCH-00000000011"]?.to("even", Produced(.string, .int64))
        branches["KSTREAM-BRANCH-00000000012"]?.to("three", Produced(.string, .int64))
        let driver = try TopologyTestDriver(try builder.build())
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .int64)
        for n in 1...9 { try input.pipeInput(key: "k", value: Int64(n), timestamp: Int64(n)) }
        XCTAssertEqual(try driver.createOutputTopic("even", keySerde: .string, valueSerde: .int64).readValuesToList(), [2, 4, 6, 8])
        XCTAssertEqual(try driver.createOutputTopic("three", keySerde: .string, valueSerde: .int64).readValuesToList(), [3, 9])
        XCTAssertEqual(driver.metrics.processed, 9)
    }

    func testBranchedWithFunctionAndWithConsumer() throws {
        let builder = StreamsBuilder()
        let consumed = Collected<Int64>()
        let branches = builder.stream("in", Consumed(.string, .int64))
            .split(named: "s-")
            .branch({ _, n in n > 100 }, Branched.withConsumer({ $0.foreach { _, n in consumed.append(n) } }, named: "big"))
            .defaultBranch(Branched.withFunction({ $0.mapValues { $0 * 2 } }, named: "rest"))
        XCTAssertEqual(Array(branches.keys), ["s-rest"])  // the consumer branch is not in the map
        branches["s-rest"]?.to("doubled", Produced(.string, .int64))
        let driver = try TopologyTestDriver(try builder.build())
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .int64)
        for n: Int64 in [1, 500, 7] { try input.pipeInput(key: "k", value: n, timestamp: 0) }
        XCTAssertEqual(consumed.items, [500])
        XCTAssertEqual(try driver.createOutputTopic("doubled", keySerde: .string, valueSerde: .int64).readValuesToList(), [2, 14])
    }

    func testMergeInterleavesInProcessingOrder() throws {
        let builder = StreamsBuilder()
        let left = builder.stream("left", Consumed(.string, .string))
        let right = builder.stream("right", Consumed(.string, .string)).mapValues { $0.uppercased() }
        left.merge(right).to("merged", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build())
        var l = try driver.createInputTopic("left", keySerde: .string, valueSerde: .string)
        var r = try driver.createInputTopic("right", keySerde: .string, valueSerde: .string)
        try l.pipeInput(key: "1", value: "a", timestamp: 5)
        try r.pipeInput(key: "2", value: "b", timestamp: 1)
        try l.pipeInput(key: "3", value: "c", timestamp: 3)
        try r.pipeInput(key: "4", value: "d", timestamp: 9)
        let out = try driver.createOutputTopic("merged", keySerde: .string, valueSerde: .string).readRecordsToList()
        XCTAssertEqual(out.map(\.keyValue), [KeyValue("1", "a"), KeyValue("2", "B"), KeyValue("3", "c"), KeyValue("4", "D")])
        XCTAssertEqual(out.map(\.timestamp), [5, 1, 3, 9])
    }

    func testTopicNameExtractorRoutesEachRecord() throws {
        let builder = StreamsBuilder()
        builder.stream("calls", Consumed(.string, .string))
            .to({ key, _, source in "calls-\(key)-from-\(source?.topic ?? "?")" }, Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build())
        var input = try driver.createInputTopic("calls", keySerde: .string, valueSerde: .string)
        try input.pipeInput(key: "north", value: "1", timestamp: 0)
        try input.pipeInput(key: "south", value: "2", timestamp: 0)
        try input.pipeInput(key: "north", value: "3", timestamp: 0)
        XCTAssertEqual(driver.producedTopicNames, ["calls-north-from-calls", "calls-south-from-calls"])
        let north = try driver.createOutputTopic("calls-north-from-calls", keySerde: .string, valueSerde: .string)
        XCTAssertEqual(try north.readValuesToList(), ["1", "3"])
    }

    func testCustomPartitionerIsAskedWithThePartitionCountAndItsChoiceIsUsed() throws {
        let calls = Collected<String>()
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string))
            .to("out", Produced(.string, .string, partitioner: { topic, key, _, count in
                calls.append("\(topic)/\(key)/\(count)")
                return 0
            }))
        let driver = try TopologyTestDriver(try builder.build())
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        try input.pipeInput(key: "x", value: "1", timestamp: 0)
        XCTAssertEqual(calls.items, ["out/x/1"])
        let record = try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string).readRecord()
        XCTAssertEqual(record.partition, 0)
    }

    func testRepartitionGoesThroughTheInternalTopicAndBack() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string))
            .selectKey { _, v in String(v.prefix(1)) }
            .repartition(Repartitioned(named: "by-letter", keySerde: .string, valueSerde: .string))
            .mapValues { v in v + "!" }
            .to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "app"))
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        let output = try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string)
        try input.pipeInput(key: "1", value: "apple", timestamp: 7)
        // Processed through the repartition topic before pipeInput returned.
        XCTAssertEqual(try output.readRecordsToList(), [TestRecord(key: "a", value: "apple!", timestamp: 7)])
        XCTAssertEqual(driver.producedTopicNames, ["app-by-letter-repartition", "out"])
        let repartitioned = try driver.createOutputTopic("app-by-letter-repartition", keySerde: .string, valueSerde: .string)
        XCTAssertEqual(try repartitioned.readKeyValue(), KeyValue("a", "apple"))
    }

    func testToThenStreamOfTheSameTopicIsProcessedBeforePipeInputReturns() throws {
        let builder = StreamsBuilder()
        builder.stream("raw", Consumed(.string, .string)).mapValues { $0.lowercased() }
            .to("clean", Produced(.string, .string))
        builder.stream("clean", Consumed(.string, .string)).mapValues { $0 + "?" }
            .to("final", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build())
        var raw = try driver.createInputTopic("raw", keySerde: .string, valueSerde: .string)
        try raw.pipeInput(key: "k", value: "HeLLo", timestamp: 1)
        XCTAssertEqual(try driver.createOutputTopic("final", keySerde: .string, valueSerde: .string).readValue(), "hello?")
    }
}
