@testable import Rill
import RillTestDriver
import XCTest

/// Foreign-key table joins: orders (`"<customer>:<item>"`, an empty customer = no foreign key)
/// joined with customers by the customer in the order's value.
final class ForeignKeyJoinTests: XCTestCase {
    typealias Step = (table: String, key: String, value: String?)

    static func customer(of order: String) -> String? {
        let customer = order.split(separator: ":", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return customer.isEmpty ? nil : customer
    }

    static func topology(left: Bool, named: Named? = nil, materialized: Bool = false) throws -> Topology {
        let builder = StreamsBuilder()
        let orders = builder.table("orders", Consumed(.string, .string))
        let customers = builder.table("customers", Consumed(.string, .string))
        let store: Materialized<String, String>? = materialized ? Materialized.as("enriched").withSerdes(.string, .string) : nil
        let joined = left
            ? orders.leftJoin(customers, foreignKey: customer(of:), named: named, materialized: store) { order, name in
                "\(order)@\(name ?? "null")"
            }
            : orders.join(customers, foreignKey: customer(of:), named: named, materialized: store) { order, name in
                "\(order)@\(name)"
            }
        joined.toStream().to("out", Produced(.string, Serde<String>.string.optional))
        return try builder.build()
    }

    /// The output as `key=value` (`key=null` for a deletion), after piping `steps` at increasing times.
    func run(left: Bool, partitions: Int32 = 1, materialized: Bool = false, _ steps: [Step]) throws -> [String] {
        let driver = try TopologyTestDriver(
            try Self.topology(left: left, materialized: materialized), config: StreamsConfig(applicationID: "fk"),
            partitions: partitions)
        defer { driver.close() }
        var inputs = [
            "orders": try driver.createInputTopic("orders", keySerde: .string, valueSerde: Serde<String>.string.optional),
            "customers": try driver.createInputTopic("customers", keySerde: .string, valueSerde: Serde<String>.string.optional),
        ]
        for (time, step) in steps.enumerated() {
            try inputs[step.table]!.pipeInput(key: step.key, value: step.value, timestamp: Int64(time))
        }
        return try driver.createOutputTopic("out", keySerde: .string, valueSerde: Serde<String>.string.optional)
            .readKeyValuesToList().map { "\($0.key)=\($0.value ?? "null")" }
    }

    func testInnerJoinFollowsBothSides() throws {
        let output = try run(left: false, [
            ("orders", "o1", "c1:tea"),  // no customer yet: nothing
            ("customers", "c1", "Ann"),
            ("customers", "c1", "Anna"),
            ("orders", "o1", "c1:coffee"),
            ("orders", "o2", "c1:cake"),
            ("customers", "c1", "Annie"),  // both orders of c1 are updated
        ])
        XCTAssertEqual(output, [
            "o1=c1:tea@Ann", "o1=c1:tea@Anna", "o1=c1:coffee@Anna", "o2=c1:cake@Anna", "o1=c1:coffee@Annie",
            "o2=c1:cake@Annie",
        ])
    }

    func testInnerJoinForeignKeyChanges() throws {
        let output = try run(left: false, [
            ("customers", "c1", "Ann"),
            ("customers", "c2", "Bob"),
            ("orders", "o1", "c1:tea"),
            ("orders", "o1", "c2:tea"),  // to an existing customer
            ("customers", "c1", "Ann2"),  // o1 no longer follows c1
            ("orders", "o1", "c3:tea"),  // to a missing customer: the old result goes
            ("customers", "c3", "Cy"),
            ("orders", "o1", ":tea"),  // no foreign key: leaves the join
            ("customers", "c3", "Cyd"),
        ])
        XCTAssertEqual(output, ["o1=c1:tea@Ann", "o1=c2:tea@Bob", "o1=null", "o1=c3:tea@Cy", "o1=null"])
    }

    func testInnerJoinDeletesOnBothSides() throws {
        let output = try run(left: false, [
            ("customers", "c1", "Ann"),
            ("orders", "o1", "c1:tea"),
            ("orders", "o2", "c1:cake"),
            ("customers", "c1", nil),  // every subscriber loses its result
            ("customers", "c1", "Ann"),
            ("orders", "o1", nil),  // the order's result goes, and it no longer follows c1
            ("customers", "c1", "Anna"),
        ])
        XCTAssertEqual(output, [
            "o1=c1:tea@Ann", "o2=c1:cake@Ann", "o1=null", "o2=null", "o1=c1:tea@Ann", "o2=c1:cake@Ann", "o1=null",
            "o2=c1:cake@Anna",
        ])
    }

    func testLeftJoinKeepsEveryRow() throws {
        let output = try run(left: true, [
            ("orders", "o1", "c1:tea"),  // no customer yet: joined with null
            ("customers", "c1", "Ann"),
            ("orders", "o1", ":tea"),  // no foreign key
            ("orders", "o1", "c2:tea"),
            ("customers", "c2", "Bob"),
            ("customers", "c2", nil),
            ("orders", "o1", nil),
            ("customers", "c2", "Bo"),  // no longer subscribed
        ])
        XCTAssertEqual(output, [
            "o1=c1:tea@null", "o1=c1:tea@Ann", "o1=:tea@null", "o1=c2:tea@null", "o1=c2:tea@Bob", "o1=c2:tea@null",
            "o1=null",
        ])
    }

    func testUnchangedForeignRowSendsNothing() throws {
        let output = try run(left: false, [
            ("customers", "c1", "Ann"), ("orders", "o1", "c1:tea"), ("customers", "c1", "Ann"),
        ])
        XCTAssertEqual(output, ["o1=c1:tea@Ann"])
    }

    func testPartitionedDriverMatchesOnePartition() throws {
        var steps: [Step] = []
        for index in 0..<40 { steps.append(("customers", "c\(index % 10)", "name\(index)")) }
        for index in 0..<60 { steps.append(("orders", "o\(index % 25)", "c\((index * 7) % 13):item\(index)")) }
        for index in 0..<5 { steps.append(("customers", "c\(index)", nil)) }
        for index in 0..<10 { steps.append(("orders", "o\(index * 2)", index.isMultiple(of: 3) ? nil : ":x")) }
        for index in 0..<13 { steps.append(("customers", "c\(index)", "late\(index)")) }
        for left in [false, true] {
            // Across partitions records of different keys interleave differently; each key's last result must agree.
            func finalResults(_ output: [String]) -> [String: String] {
                var last: [String: String] = [:]
                for line in output {
                    let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                    last[parts[0]] = parts[1]
                }
                return last
            }
            let single = try run(left: left, partitions: 1, steps)
            let partitioned = try run(left: left, partitions: 4, steps)
            XCTAssertEqual(finalResults(partitioned), finalResults(single), "left: \(left)")
            XCTAssertEqual(finalResults(single).count, 25, "left: \(left)")
        }
    }

    func testMaterializedResultIsQueryableAndCarriesOldValues() throws {
        let builder = StreamsBuilder()
        let orders = builder.table("orders", Consumed(.string, .string))
        let customers = builder.table("customers", Consumed(.string, .string))
        orders.join(
            customers, foreignKey: Self.customer(of:), materialized: Materialized.as("enriched").withSerdes(.string, .string)
        ) { _, name in name }
            .groupBy({ _, name in KeyValue(name, 1) }, Grouped(keySerde: .string, valueSerde: .int64))
            .count(materialized: Materialized.as("orders-per-name").withSerdes(.string, .int64))
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        var ordersInput = try driver.createInputTopic("orders", keySerde: .string, valueSerde: Serde<String>.string.optional)
        var customersInput = try driver.createInputTopic("customers", keySerde: .string, valueSerde: Serde<String>.string.optional)
        try customersInput.pipeInput(key: "c1", value: "Ann", timestamp: 1)
        try customersInput.pipeInput(key: "c2", value: "Bob", timestamp: 2)
        try ordersInput.pipeInput(key: "o1", value: "c1:tea", timestamp: 3)
        try ordersInput.pipeInput(key: "o2", value: "c1:cake", timestamp: 4)
        try ordersInput.pipeInput(key: "o2", value: "c2:cake", timestamp: 5)
        let enriched: any TimestampedKeyValueStore<String, String> = try driver.timestampedKeyValueStore(named: "enriched")
        XCTAssertEqual(try enriched.get("o2")?.value, "Bob")
        let counts: any TimestampedKeyValueStore<String, Int64> = try driver.timestampedKeyValueStore(named: "orders-per-name")
        XCTAssertEqual(try counts.get("Ann")?.value, 1, "o2 moved from Ann to Bob: it must be subtracted from Ann")
        XCTAssertEqual(try counts.get("Bob")?.value, 1)
    }

    func testUnmaterializedResultCannotBeRegrouped() {
        let builder = StreamsBuilder()
        let orders = builder.table("orders", Consumed(.string, .string))
        let customers = builder.table("customers", Consumed(.string, .string))
        orders.join(customers, foreignKey: Self.customer(of:)) { _, name in name }
            .groupBy({ _, name in KeyValue(name, 1) }, Grouped(keySerde: .string, valueSerde: .int64)).count()
        XCTAssertThrowsError(try builder.build()) { error in
            XCTAssertTrue("\(error)".contains("KTABLE-FK-JOIN-OUTPUT-"), "\(error)")
            XCTAssertTrue("\(error)".contains("old values"), "\(error)")
        }
    }

    func testInternalTopicsAreNamedAsKafkaStreamsNamesThem() throws {
        let driver = try TopologyTestDriver(try Self.topology(left: false), config: StreamsConfig(applicationID: "fk"))
        defer { driver.close() }
        try pipe(driver, "customers", "c1", "Ann")
        try pipe(driver, "orders", "o1", "c1:tea")
        let internalTopics = driver.producedTopicNames.filter { $0.hasSuffix("-topic") }.sorted()
        XCTAssertEqual(internalTopics.count, 2, "\(driver.producedTopicNames)")
        XCTAssertTrue(internalTopics.contains { $0.hasPrefix("fk-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-") }, "\(internalTopics)")
        XCTAssertTrue(internalTopics.contains { $0.hasPrefix("fk-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-") }, "\(internalTopics)")

        let named = try TopologyTestDriver(
            try Self.topology(left: false, named: "by-customer"), config: StreamsConfig(applicationID: "fk"))
        defer { named.close() }
        try pipe(named, "orders", "o1", "c1:tea")
        try pipe(named, "customers", "c1", "Ann")
        XCTAssertTrue(named.producedTopicNames.isSuperset(of: [
            "fk-by-customer-subscription-registration-topic", "fk-by-customer-subscription-response-topic",
            "fk-by-customer-subscription-store-changelog",
        ]), "\(named.producedTopicNames)")
    }

    /// A response computed for an older value of its row (as when the row changes while the
    /// subscription is in flight) is dropped; one for the current value is joined.
    func testResponseForAnOlderValueIsDropped() throws {
        let driver = try TopologyTestDriver(
            try Self.topology(left: true, named: "fk"), config: StreamsConfig(applicationID: "app"))
        defer { driver.close() }
        try pipe(driver, "orders", "o1", "c1:tea")
        let output = try driver.createOutputTopic("out", keySerde: .string, valueSerde: Serde<String>.string.optional)
        XCTAssertEqual(try output.readValuesToList(), ["c1:tea@null"])
        var responses = try driver.createInputTopic(
            "app-fk-subscription-response-topic", keySerde: .string, valueSerde: ForeignKeyResponse.serde)
        let dropped = driver.metrics.dropped
        func response(for value: String) -> ForeignKeyResponse {
            ForeignKeyResponse(hash: ValueHash(of: Array(value.utf8)), foreignValue: Array("Ann".utf8), primaryPartition: 0)
        }
        try responses.pipeInput(key: "o1", value: response(for: "c1:coffee"))
        XCTAssertEqual(try output.readValuesToList(), [])
        XCTAssertEqual(driver.metrics.dropped, dropped + 1)
        try responses.pipeInput(key: "o1", value: response(for: "c1:tea"))
        XCTAssertEqual(try output.readValuesToList(), ["c1:tea@Ann"])
    }

    func pipe(_ driver: TopologyTestDriver, _ topic: String, _ key: String, _ value: String) throws {
        var input = try driver.createInputTopic(topic, keySerde: .string, valueSerde: .string)
        try input.pipeInput(key: key, value: value)
    }

    func testWireFormatsRoundTrip() throws {
        let subscription = ForeignKeySubscription(
            hash: ValueHash(of: [1, 2, 3]), instruction: .deleteKeyNoPropagate, primaryKey: Array("pk".utf8), primaryPartition: 7)
        let decoded = try ForeignKeySubscription.serde.deserialize(try ForeignKeySubscription.serde.serialize(subscription))
        XCTAssertEqual(decoded.hash, subscription.hash)
        XCTAssertEqual(decoded.instruction, .deleteKeyNoPropagate)
        XCTAssertEqual(decoded.primaryKey, Array("pk".utf8))
        XCTAssertEqual(decoded.primaryPartition, 7)
        for value in [nil, [UInt8](), Array("v".utf8)] as [[UInt8]?] {
            let response = ForeignKeyResponse(hash: nil, foreignValue: value, primaryPartition: 3)
            let back = try ForeignKeyResponse.serde.deserialize(try ForeignKeyResponse.serde.serialize(response))
            XCTAssertNil(back.hash)
            XCTAssertEqual(back.foreignValue, value)
            XCTAssertEqual(back.primaryPartition, 3)
        }
        XCTAssertThrowsError(try ForeignKeyResponse.serde.deserialize([1, 0, 0, 0, 0, 0, 0]))
    }

    func testCombinedKeyPrefixes() {
        XCTAssertEqual(CombinedKey.bytes(foreignKey: [9], primaryKey: [1, 2]), [0, 0, 0, 1, 9, 1, 2])
        XCTAssertEqual(CombinedKey.upperBound(of: [0, 0, 0, 1, 9]), [0, 0, 0, 1, 10])
        XCTAssertEqual(CombinedKey.upperBound(of: [0, 0, 0, 2, 9, 0xff]), [0, 0, 0, 2, 10])
        XCTAssertNil(CombinedKey.upperBound(of: [0xff, 0xff]))
    }
}
