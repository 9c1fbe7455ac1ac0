import Rill
import RillTestDriver
import XCTest

/// Stream–table joins: lookups of the table as it is when each stream record is processed.
final class StreamTableJoinTests: XCTestCase {
    func enrich(left: Bool) throws -> TopologyTestDriver {
        let builder = StreamsBuilder()
        let clinics = builder.table("clinics", Consumed(.string, .string), materialized: .as("clinic-names"))
        let calls = builder.stream("calls", Consumed(.string, .string))
        let joined = left
            ? calls.leftJoin(clinics, joiner: { call, clinic in "\(call)@\(clinic ?? "unknown")" })
            : calls.join(clinics, joiner: { call, clinic in "\(call)@\(clinic)" })
        joined.to("enriched", Produced(.string, .string))
        return try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "enrich"))
    }

    func testAnInnerJoinSeesTheTableAsItIsWhenTheRecordArrivesAndDropsMisses() throws {
        let driver = try enrich(left: false)
        defer { driver.close() }
        var clinics = try driver.createInputTopic("clinics", keySerde: .string, valueSerde: Serde<String>.string.optional)
        var calls = try driver.createInputTopic("calls", keySerde: .string, valueSerde: .string)
        let enriched = try driver.createOutputTopic("enriched", keySerde: .string, valueSerde: .string)
        try calls.pipeInput(key: "c1", value: "call-0", timestamp: 0)  // no clinic yet: dropped
        try clinics.pipeInput(key: "c1", value: "North", timestamp: 1)  // a table update emits nothing
        XCTAssertEqual(try enriched.readKeyValuesToList(), [])
        try calls.pipeInput(key: "c1", value: "call-1", timestamp: 2)
        try clinics.pipeInput(key: "c1", value: "North Clinic", timestamp: 3)
        try calls.pipeInput(key: "c1", value: "call-2", timestamp: 4)
        try clinics.pipeInput(key: "c1", value: nil, timestamp: 5)
        try calls.pipeInput(key: "c1", value: "call-3", timestamp: 6)
        XCTAssertEqual(try enriched.readKeyValuesToList(), [KeyValue("c1", "call-1@North"), KeyValue("c1", "call-2@North Clinic")])
    }

    func testALeftJoinPassesNilForMisses() throws {
        let driver = try enrich(left: true)
        defer { driver.close() }
        var clinics = try driver.createInputTopic("clinics", keySerde: .string, valueSerde: Serde<String>.string.optional)
        var calls = try driver.createInputTopic("calls", keySerde: .string, valueSerde: .string)
        try calls.pipeInput(key: "c1", value: "call-0", timestamp: 0)
        try clinics.pipeInput(key: "c1", value: "North", timestamp: 1)
        try calls.pipeInput(key: "c1", value: "call-1", timestamp: 2)
        XCTAssertEqual(
            try driver.createOutputTopic("enriched", keySerde: .string, valueSerde: .string).readValuesToList(),
            ["call-0@unknown", "call-1@North"])
    }

    func testStreamRecordsWithANullKeyAreDroppedAndCounted() throws {
        let builder = StreamsBuilder()
        let clinics = builder.table("clinics", Consumed(Serde<String>.string.optional, .string))
        builder.stream("calls", Consumed(Serde<String>.string.optional, .string))
            .leftJoin(clinics, joiner: { call, clinic in call + (clinic ?? "") })
            .to("enriched", Produced(Serde<String>.string.optional, .string))
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        var calls = try driver.createInputTopic("calls", keySerde: Serde<String>.string.optional, valueSerde: .string)
        try calls.pipeInput(key: nil, value: "call-0", timestamp: 0)
        XCTAssertEqual(driver.metrics.dropped, 1)
        XCTAssertTrue(try driver.createOutputTopic("enriched", keySerde: .string, valueSerde: .string).isEmpty)
    }

    func testADerivedTableIsMaterializedForTheJoinAndARekeyedStreamIsRepartitioned() throws {
        let builder = StreamsBuilder()
        let open = builder.table("clinics", Consumed(.string, .string)).filter { _, name in !name.hasPrefix("closed") }
        builder.stream("calls", Consumed(.string, .string))
            .selectKey { _, call in String(call.split(separator: ":")[0]) }
            .join(open, joiner: { call, clinic in "\(call)@\(clinic)" }, Joined(keySerde: .string, valueSerde: .string, name: "by-clinic"))
            .to("enriched", Produced(.string, .string))
        let topology = try builder.build()
        let description = "\(topology.describe())"
        XCTAssertTrue(description.contains("by-clinic-repartition"), description)
        XCTAssertTrue(description.contains("KTABLE-MATERIALIZE-"), description)
        let driver = try TopologyTestDriver(topology, config: StreamsConfig(applicationID: "derived"))
        defer { driver.close() }
        var clinics = try driver.createInputTopic("clinics", keySerde: .string, valueSerde: Serde<String>.string.optional)
        var calls = try driver.createInputTopic("calls", keySerde: .string, valueSerde: .string)
        try clinics.pipeInput(key: "c1", value: "North", timestamp: 0)
        try clinics.pipeInput(key: "c2", value: "closed South", timestamp: 0)
        try calls.pipeInput(key: "x", value: "c1:call-1", timestamp: 1)
        try calls.pipeInput(key: "y", value: "c2:call-2", timestamp: 2)
        XCTAssertEqual(
            try driver.createOutputTopic("enriched", keySerde: .string, valueSerde: .string).readKeyValuesToList(),
            [KeyValue("c1", "c1:call-1@North")])
    }
}

/// The stream–table join table of Kafka Streams' documentation (DSL API, "Semantics of stream-table
/// joins"): one key, records in timestamp order; a null stream value is ignored, a null table value deletes.
final class DocumentedStreamTableJoinTests: XCTestCase {
    func run(left: Bool) throws -> [String] {
        let builder = StreamsBuilder()
        let table = builder.table("right", Consumed(.string, .string))
        let stream = builder.stream("left", Consumed(.string, Serde<String>.string.optional))
        let joined = left
            ? stream.leftJoin(table, joiner: { l, r in "[\(l ?? "null"), \(r ?? "null")]" })
            : stream.join(table, joiner: { l, r in "[\(l ?? "null"), \(r)]" })
        joined.to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        try DocumentedJoinTimeline.pipe(into: driver)
        return try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string).readValuesToList()
    }

    func testInnerJoin() throws { XCTAssertEqual(try run(left: false), ["[B, a]", "[D, d]"]) }

    func testLeftJoin() throws { XCTAssertEqual(try run(left: true), ["[A, null]", "[B, a]", "[C, null]", "[D, d]"]) }
}
