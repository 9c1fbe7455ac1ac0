import Rill
import RillTestDriver
import TestSupport
import XCTest

/// The driver with several partitions: one task per partition, records routed as Kafka's default
/// partitioner routes them, and the same results as with one partition.
final class PartitionedDriverTests: XCTestCase {
    func testWindowedCountGivesTheSameResultsOnFourPartitionsAsOnOne() throws {
        func run(_ partitions: Int32) throws -> (latest: [String: Int64], tasks: Set<Int32>) {
            let builder = StreamsBuilder()
            builder.stream("clicks", Consumed(.string, .string))
                .groupBy({ _, page in page }, Grouped(keySerde: .string, valueSerde: .string))
                .windowedBy(try TimeWindows.ofSizeWithNoGrace(.seconds(10)))
                .count(materialized: .as("page-counts"))
                .toStream()
                .to("counts", Produced(.timeWindowed(.string, windowSize: 10_000), Serde<Int64>.int64.optional))
            let driver = try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "pages"), partitions: partitions)
            defer { driver.close() }
            var clicks = try driver.createInputTopic("clicks", keySerde: .string, valueSerde: .string)
            var generator = SeededGenerator(seed: 7)
            for n in 0..<400 {
                let user = "user-\(Int.random(in: 0..<30, using: &generator))"
                let page = "page-\(Int.random(in: 0..<12, using: &generator))"
                try clicks.pipeInput(key: user, value: page, timestamp: Int64(n) * 100)
            }
            var latest: [String: Int64] = [:]
            var partitionsSeen: Set<Int32> = []
            let output = try driver.createOutputTopic(
                "counts", keySerde: .timeWindowed(.string, windowSize: 10_000), valueSerde: Serde<Int64>.int64.optional)
            for record in try output.readRecordsToList() {
                latest["\(record.key.key)@\(record.key.window.start)"] = record.value
                if let partition = record.partition { partitionsSeen.insert(partition) }
            }
            return (latest.compactMapValues { $0 }, partitionsSeen)
        }
        let one = try run(1)
        let four = try run(4)
        XCTAssertEqual(four.latest, one.latest)
        XCTAssertEqual(one.latest.values.reduce(0, +), 400)
        XCTAssertEqual(four.tasks, [0, 1, 2, 3], "the counts come from four tasks")
    }

    func testARepartitionedJoinGivesTheSameResultsOnFourPartitionsAsOnOne() throws {
        func run(_ partitions: Int32) throws -> [String] {
            let builder = StreamsBuilder()
            let clinics = builder.table("clinics", Consumed(.string, .string), materialized: .as("clinics"))
            builder.stream("calls", Consumed(.string, .string))
                .selectKey { _, call in String(call.split(separator: ":")[0]) }
                .join(clinics, joiner: { call, clinic in "\(call)@\(clinic)" }, Joined(keySerde: .string, valueSerde: .string, name: "by-clinic"))
                .to("enriched", Produced(.string, .string))
            let driver = try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "join"), partitions: partitions)
            defer { driver.close() }
            var clinicInput = try driver.createInputTopic("clinics", keySerde: .string, valueSerde: .string)
            var calls = try driver.createInputTopic("calls", keySerde: .string, valueSerde: .string)
            for n in 0..<10 { try clinicInput.pipeInput(key: "c\(n)", value: "Clinic \(n)", timestamp: 0) }
            for n in 0..<60 { try calls.pipeInput(key: "caller-\(n)", value: "c\(n % 13):call-\(n)", timestamp: Int64(n)) }
            return try driver.createOutputTopic("enriched", keySerde: .string, valueSerde: .string).readValuesToList().sorted()
        }
        let one = try run(1)
        XCTAssertEqual(one.count, 48, "the 12 calls to clinics c10–c12 find no clinic")
        XCTAssertEqual(try run(4), one)
    }

    func testAJoinOfTopicsWithDifferentPartitionCountsFailsAsOnTheRuntime() throws {
        let builder = StreamsBuilder()
        let clinics = builder.table("clinics", Consumed(.string, .string), materialized: .as("clinics"))
        builder.stream("calls", Consumed(.string, .string))
            .join(clinics, joiner: { call, clinic in call + clinic }, .as("enrich"))
            .to("out", Produced(.string, .string))
        let topology = try builder.build()
        XCTAssertThrowsError(try TopologyTestDriver(topology, partitions: 4, topicPartitions: ["clinics": 3])) { error in
            XCTAssertEqual(error as? CopartitioningError, CopartitioningError(join: "enrich", partitions: ["calls": 4, "clinics": 3]))
            XCTAssertTrue("\(error)".contains("'calls' (4), 'clinics' (3)"), "\(error)")
        }
        // The stream rekeyed first is repartitioned into a topic with the table's count.
        let rekeyed = StreamsBuilder()
        let table = rekeyed.table("clinics", Consumed(.string, .string), materialized: .as("clinics"))
        rekeyed.stream("calls", Consumed(.string, .string))
            .selectKey { _, call in call }
            .join(table, joiner: { call, clinic in call + clinic }, Joined(keySerde: .string, valueSerde: .string, name: "enrich"))
            .to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try rekeyed.build(), partitions: 4, topicPartitions: ["clinics": 3])
        defer { driver.close() }
        var clinics3 = try driver.createInputTopic("clinics", keySerde: .string, valueSerde: .string)
        var calls = try driver.createInputTopic("calls", keySerde: .string, valueSerde: .string)
        XCTAssertThrowsError(try clinics3.pipeInput(key: "c", value: "C", timestamp: 0, partition: 3))
        for n in 0..<12 { try clinics3.pipeInput(key: "c\(n)", value: "C\(n)", timestamp: 0) }
        for n in 0..<12 { try calls.pipeInput(key: "k\(n)", value: "c\(n)", timestamp: 1) }
        let out = try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string).readRecordsToList()
        XCTAssertEqual(out.map(\.value).sorted(), (0..<12).map { "c\($0)C\($0)" }.sorted())
        XCTAssertEqual(Set(out.compactMap(\.partition)), [0, 1, 2, 3], "the output topic keeps 4 partitions")
    }

    func testAForeignKeyJoinAcrossPartitionCountsMatchesOnePartition() throws {
        func run(_ counts: [String: Int32]) throws -> [String: String] {
            let builder = StreamsBuilder()
            let customers = builder.table("customers", Consumed(.string, .string))
            builder.table("orders", Consumed(.string, .string))
                .leftJoin(customers, foreignKey: { order in String(order.split(separator: ":")[0]) }) { order, name in
                    "\(order)@\(name ?? "null")"
                }
                .toStream().to("out", Produced(.string, Serde<String>.string.optional))
            let driver = try TopologyTestDriver(try builder.build(), topicPartitions: counts)
            defer { driver.close() }
            var customerInput = try driver.createInputTopic("customers", keySerde: .string, valueSerde: .string)
            var orderInput = try driver.createInputTopic("orders", keySerde: .string, valueSerde: .string)
            for n in 0..<30 {
                try customerInput.pipeInput(key: "c\(n % 7)", value: "name\(n)", timestamp: Int64(n))
                try orderInput.pipeInput(key: "o\(n % 11)", value: "c\((n * 5) % 9):item\(n)", timestamp: Int64(n))
            }
            var latest: [String: String] = [:]
            for record in try driver.createOutputTopic("out", keySerde: .string, valueSerde: Serde<String>.string.optional)
                .readKeyValuesToList()
            {
                latest[record.key] = record.value
            }
            return latest
        }
        let one = try run([:])
        XCTAssertEqual(one.count, 11)
        XCTAssertEqual(try run(["orders": 4, "customers": 3]), one)
    }

    func testPipedRecordsGoWhereKafkasDefaultPartitionerPutsThem() throws {
        // Kafka's own murmur2 vectors (UtilsTest.testMurmur2).
        XCTAssertEqual(DefaultPartitioner.murmur2(Array("21".utf8)), -973_932_308)
        XCTAssertEqual(DefaultPartitioner.murmur2(Array("foobar".utf8)), -790_332_482)
        XCTAssertEqual(DefaultPartitioner.murmur2(Array("a-little-bit-longer-string".utf8)), -1_486_304_829)
        XCTAssertEqual(DefaultPartitioner.murmur2(Array("abc".utf8)), 479_470_107)
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string))
            .process { InputPartition() }
            .to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build(), partitions: 4)
        defer { driver.close() }
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        try input.pipeInput(key: "21", value: "a", timestamp: 0)
        try input.pipeInput(key: "21", value: "b", timestamp: 0, partition: 2)
        XCTAssertThrowsError(try input.pipeInput(key: "x", value: "c", timestamp: 0, partition: 4)) { error in
            XCTAssertTrue("\(error)".contains("partition 4 of topic 'in'"), "\(error)")
        }
        let records = try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string).readRecordsToList()
        let keyed = (-973_932_308 & 0x7fff_ffff) % 4
        // Read from the partition the key chose, then from the one given; written by key both times.
        XCTAssertEqual(records.map(\.value), ["\(keyed)", "2"])
        XCTAssertEqual(records.map(\.partition), [Int32(keyed), Int32(keyed)])
    }
}

/// Forwards each record with the input partition it was read from as its value.
final class InputPartition: Processor {
    typealias KIn = String
    typealias VIn = String
    typealias KOut = String
    typealias VOut = String
    var context: ProcessorContext<String, String>!
    func initialize(context: ProcessorContext<String, String>) throws { self.context = context }
    func process(_ record: Record<String, String>) throws {
        try context.forward(record.withValue("\(context.recordMetadata?.partition ?? -1)"))
    }
}
