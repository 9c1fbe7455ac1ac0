import Rill
import RillTestDriver
import XCTest

/// Tables from topics, their operators, and table aggregations with adders and subtractors.
final class TableTests: XCTestCase {
    func testATableKeepsTheLatestValuePerKeyAndTombstonesDelete() throws {
        let builder = StreamsBuilder()
        builder.table("prices", Consumed(.string, .int64), materialized: .as("prices-store"))
            .toStream()
            .to("price-updates", Produced(.string, Serde<Int64>.int64.optional))
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        var prices = try driver.createInputTopic("prices", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        try prices.pipeInput(key: "apple", value: 3, timestamp: 1)
        try prices.pipeInput(key: "pear", value: 5, timestamp: 2)
        try prices.pipeInput(key: "apple", value: 4, timestamp: 3)
        try prices.pipeInput(key: "pear", value: nil, timestamp: 4)
        let updates = try driver.createOutputTopic("price-updates", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        XCTAssertEqual(try updates.readKeyValuesToList(), [
            KeyValue("apple", 3), KeyValue("pear", 5), KeyValue("apple", 4), KeyValue("pear", nil),
        ])
        let store: any TimestampedKeyValueStore<String, Int64> = try driver.timestampedKeyValueStore(named: "prices-store")
        XCTAssertEqual(try store.all().collect().map(\.key), ["apple"])
        XCTAssertEqual(try store.get("apple"), ValueAndTimestamp(4, timestamp: 3))
    }

    func testFilterDeletesRowsThatStopMatchingAndMapValuesMapsBothSides() throws {
        let builder = StreamsBuilder()
        builder.table("stock", Consumed(.string, .int64), materialized: .as("stock-store"))
            .filter { _, count in count > 0 }
            .mapValues(valueSerde: .string) { count in "\(count) left" }
            .toStream()
            .to("in-stock", Produced(.string, Serde<String>.string.optional))
        builder.table("stock-2", Consumed(.string, .int64), materialized: .as("other"))
            .filterNot { _, count in count > 0 }
            .toStream()
            .to("sold-out", Produced(.string, Serde<Int64>.int64.optional))
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        var stock = try driver.createInputTopic("stock", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        try stock.pipeInput(key: "a", value: 2, timestamp: 0)
        try stock.pipeInput(key: "b", value: 0, timestamp: 0)  // never in the filtered table: nothing
        try stock.pipeInput(key: "a", value: 0, timestamp: 0)  // leaves it: a deletion
        try stock.pipeInput(key: "b", value: nil, timestamp: 0)  // was not in it: nothing
        let inStock = try driver.createOutputTopic("in-stock", keySerde: .string, valueSerde: Serde<String>.string.optional)
        XCTAssertEqual(try inStock.readKeyValuesToList(), [KeyValue("a", "2 left"), KeyValue("a", nil)])
        var other = try driver.createInputTopic("stock-2", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        try other.pipeInput(key: "x", value: 0, timestamp: 0)
        try other.pipeInput(key: "x", value: 1, timestamp: 0)
        let soldOut = try driver.createOutputTopic("sold-out", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        XCTAssertEqual(try soldOut.readKeyValuesToList(), [KeyValue("x", 0), KeyValue("x", nil)])
    }

    func usersPerRegion() throws -> TopologyTestDriver {
        let builder = StreamsBuilder()
        builder.table("user-regions", Consumed(.string, .string), materialized: .as("regions"))
            .groupBy({ user, region in KeyValue(region, user) }, Grouped(keySerde: .string, valueSerde: .string))
            .count(materialized: .as("users-per-region"))
            .toStream()
            .to("region-counts", Produced(.string, Serde<Int64>.int64.optional))
        return try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "regions"))
    }

    func testTableCountSubtractsWhenARowMovesBetweenGroupsAndOnTombstones() throws {
        let driver = try usersPerRegion()
        defer { driver.close() }
        var users = try driver.createInputTopic("user-regions", keySerde: .string, valueSerde: Serde<String>.string.optional)
        let counts = try driver.createOutputTopic("region-counts", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        try users.pipeInput(key: "alice", value: "EU", timestamp: 1)
        try users.pipeInput(key: "bob", value: "EU", timestamp: 2)
        try users.pipeInput(key: "alice", value: "US", timestamp: 3)
        try users.pipeInput(key: "bob", value: nil, timestamp: 4)
        XCTAssertEqual(try counts.readKeyValuesToList(), [
            KeyValue("EU", 1), KeyValue("EU", 2), KeyValue("EU", 1), KeyValue("US", 1), KeyValue("EU", 0),
        ])
        let store: any TimestampedKeyValueStore<String, Int64> = try driver.timestampedKeyValueStore(named: "users-per-region")
        XCTAssertEqual(try store.get("EU")?.value, 0)
        XCTAssertEqual(try store.get("US")?.value, 1)
        XCTAssertTrue(driver.producedTopicNames.contains("regions-users-per-region-repartition"))
    }

    func testTableReduceAddsAndSubtracts() throws {
        let builder = StreamsBuilder()
        builder.table("balances", Consumed(.string, .int64))
            .groupBy({ account, balance in KeyValue(String(account.prefix(1)), balance) },
                     Grouped(keySerde: .string, valueSerde: .int64))
            .reduce(materialized: .as("totals"), adder: { $0 + $1 }, subtractor: { $0 - $1 })
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        var balances = try driver.createInputTopic("balances", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        try balances.pipeInput(key: "a1", value: 10, timestamp: 0)
        try balances.pipeInput(key: "a2", value: 5, timestamp: 0)
        try balances.pipeInput(key: "a1", value: 7, timestamp: 0)
        try balances.pipeInput(key: "b1", value: 1, timestamp: 0)
        try balances.pipeInput(key: "a2", value: nil, timestamp: 0)
        let totals: any TimestampedKeyValueStore<String, Int64> = try driver.timestampedKeyValueStore(named: "totals")
        XCTAssertEqual(try totals.get("a")?.value, 7)
        XCTAssertEqual(try totals.get("b")?.value, 1)
    }
}

/// cogroup: several streams into one aggregate.
final class CogroupTests: XCTestCase {
    func testCogroupedStreamsAggregateIntoOneStoreEachWithItsAggregator() throws {
        let builder = StreamsBuilder()
        let clicks = builder.stream("clicks", Consumed(.string, .string)).groupByKey()
        let purchases = builder.stream("purchases", Consumed(.string, .int64)).groupByKey()
        let refunds = builder.stream("refunds", Consumed(.string, .int64))
            .selectKey { _, _ in "shared" }
            .groupByKey(Grouped(keySerde: .string, valueSerde: .int64))
        clicks.cogroup { (_, _, score: Int64) in score + 1 }
            .cogroup(purchases) { _, amount, score in score + 10 * amount }
            .cogroup(refunds) { _, amount, score in score - amount }
            .aggregate(materialized: Materialized<String, Int64>.as("scores").withSerdes(.string, .int64), initializer: { 0 })
            .toStream()
            .to("score-updates", Produced(.string, Serde<Int64>.int64.optional))
        let topology = try builder.build()
        let description = "\(topology.describe())"
        XCTAssertTrue(description.contains("COGROUPKSTREAM-MERGE-"), description)
        XCTAssertTrue(description.contains("scores-repartition"), description)
        let driver = try TopologyTestDriver(topology, config: StreamsConfig(applicationID: "cogroup"))
        defer { driver.close() }
        var clickInput = try driver.createInputTopic("clicks", keySerde: .string, valueSerde: .string)
        var purchaseInput = try driver.createInputTopic("purchases", keySerde: .string, valueSerde: .int64)
        var refundInput = try driver.createInputTopic("refunds", keySerde: .string, valueSerde: .int64)
        try clickInput.pipeInput(key: "shared", value: "home", timestamp: 0)
        try purchaseInput.pipeInput(key: "shared", value: 3, timestamp: 1)
        try clickInput.pipeInput(key: "other", value: "home", timestamp: 2)
        try refundInput.pipeInput(key: "ignored", value: 5, timestamp: 3)
        let updates = try driver.createOutputTopic("score-updates", keySerde: .string, valueSerde: Serde<Int64>.int64.optional)
        XCTAssertEqual(try updates.readKeyValuesToList(), [
            KeyValue("shared", 1), KeyValue("shared", 31), KeyValue("other", 1), KeyValue("shared", 26),
        ])
        let scores: any TimestampedKeyValueStore<String, Int64> = try driver.timestampedKeyValueStore(named: "scores")
        XCTAssertEqual(try scores.get("shared")?.value, 26)
    }
}
