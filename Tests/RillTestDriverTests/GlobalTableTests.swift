import Rill
import RillTestDriver
import XCTest

/// Global tables: every instance holds the whole topic; streams join them by a computed key.
final class GlobalTableTests: XCTestCase {
    func testStreamsJoinAGlobalTableByAComputedKey() throws {
        let builder = StreamsBuilder()
        let products = builder.globalTable("products", Consumed(.string, .string), materialized: .as("product-names"))
        let orders = builder.stream("orders", Consumed(.string, .string))
        orders.join(products, keySelector: { _, order in String(order.split(separator: ":")[0]) },
                    joiner: { order, product in "\(order)=\(product)" })
            .to("named", Produced(.string, .string))
        orders.leftJoin(products, keySelector: { _, order in String(order.split(separator: ":")[0]) },
                        joiner: { order, product in "\(order)=\(product ?? "?")" })
            .to("maybe-named", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "global"), partitions: 4)
        defer { driver.close() }
        var productInput = try driver.createInputTopic("products", keySerde: .string, valueSerde: Serde<String>.string.optional)
        var orderInput = try driver.createInputTopic("orders", keySerde: .string, valueSerde: .string)
        try productInput.pipeInput(key: "p1", value: "pen", timestamp: 0)
        try orderInput.pipeInput(key: "o1", value: "p1:2", timestamp: 1)
        try orderInput.pipeInput(key: "o2", value: "p2:1", timestamp: 2)
        try productInput.pipeInput(key: "p1", value: "fountain pen", timestamp: 3)
        try productInput.pipeInput(key: "p2", value: "ink", timestamp: 3)
        try orderInput.pipeInput(key: "o3", value: "p1:1", timestamp: 4)
        try orderInput.pipeInput(key: "o4", value: "p2:5", timestamp: 5)
        try productInput.pipeInput(key: "p2", value: nil, timestamp: 6)
        try orderInput.pipeInput(key: "o5", value: "p2:1", timestamp: 7)
        XCTAssertEqual(
            try driver.createOutputTopic("named", keySerde: .string, valueSerde: .string).readValuesToList(),
            ["p1:2=pen", "p1:1=fountain pen", "p2:5=ink"])
        XCTAssertEqual(
            try driver.createOutputTopic("maybe-named", keySerde: .string, valueSerde: .string).readValuesToList(),
            ["p1:2=pen", "p2:1=?", "p1:1=fountain pen", "p2:5=ink", "p2:1=?"])
        let store: any TimestampedKeyValueStore<String, String> = try driver.timestampedKeyValueStore(named: "product-names")
        XCTAssertEqual(try store.get("p1")?.value, "fountain pen")
    }

    func testAGlobalStoreNameUsedTwiceIsABuildError() {
        let builder = StreamsBuilder()
        _ = builder.globalTable("a", Consumed(.string, .string), materialized: .as("dup"))
        _ = builder.globalTable("b", Consumed(.string, .string), materialized: .as("dup"))
        XCTAssertThrowsError(try builder.build()) { error in
            XCTAssertTrue("\(error)".contains("'dup'"), "\(error)")
        }
    }
}
