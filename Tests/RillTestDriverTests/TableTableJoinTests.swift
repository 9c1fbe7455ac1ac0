import Rill
import RillTestDriver
import XCTest

/// Table–table joins, with Kafka Streams' documented results for inner, left and outer joins.
final class TableTableJoinTests: XCTestCase {
    enum Kind { case inner, left, outer }

    func run(_ kind: Kind) throws -> [String] {
        let builder = StreamsBuilder()
        let left = builder.table("left", Consumed(.string, .string))
        let right = builder.table("right", Consumed(.string, .string))
        let joined: KTable<String, String>
        switch kind {
        case .inner: joined = left.join(right) { l, r in "\(l)+\(r)" }
        case .left: joined = left.leftJoin(right) { l, r in "\(l)+\(r ?? "null")" }
        case .outer: joined = left.outerJoin(right, materialized: Materialized.as("joined").withSerdes(.string, .string)) { l, r in "\(l ?? "null")+\(r ?? "null")" }
        }
        joined.toStream().to("out", Produced(.string, Serde<String>.string.optional))
        let driver = try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "tables"))
        defer { driver.close() }
        var leftInput = try driver.createInputTopic("left", keySerde: .string, valueSerde: Serde<String>.string.optional)
        var rightInput = try driver.createInputTopic("right", keySerde: .string, valueSerde: Serde<String>.string.optional)
        let steps: [(left: Bool, value: String?)] = [
            (true, "A"), (false, "a"), (true, "B"), (false, "b"), (true, nil), (false, nil), (false, "c"), (true, "D"),
        ]
        for (time, step) in steps.enumerated() {
            if step.left {
                try leftInput.pipeInput(key: "k", value: step.value, timestamp: Int64(time))
            } else {
                try rightInput.pipeInput(key: "k", value: step.value, timestamp: Int64(time))
            }
        }
        if kind == .outer {
            let store: any TimestampedKeyValueStore<String, String> = try driver.timestampedKeyValueStore(named: "joined")
            XCTAssertEqual(try store.get("k")?.value, "D+c")
        }
        return try driver.createOutputTopic("out", keySerde: .string, valueSerde: Serde<String>.string.optional)
            .readValuesToList().map { $0 ?? "tombstone" }
    }

    func testInnerJoin() throws {
        XCTAssertEqual(try run(.inner), ["A+a", "B+a", "B+b", "tombstone", "D+c"])
    }

    func testLeftJoin() throws {
        XCTAssertEqual(try run(.left), ["A+null", "A+a", "B+a", "B+b", "tombstone", "D+c"])
    }

    func testOuterJoin() throws {
        XCTAssertEqual(try run(.outer), ["A+null", "A+a", "B+a", "B+b", "null+b", "tombstone", "null+c", "D+c"])
    }
}

/// The table–table join table of Kafka Streams' documentation (DSL API, "Semantics of table-table
/// equi-joins"): one key, records in timestamp order, `null` = a tombstone (a deletion).
final class DocumentedTableTableJoinTests: XCTestCase {
    func run(_ kind: TableTableJoinTests.Kind) throws -> [String] {
        let builder = StreamsBuilder()
        let left = builder.table("left", Consumed(.string, .string))
        let right = builder.table("right", Consumed(.string, .string))
        let joined: KTable<String, String>
        switch kind {
        case .inner: joined = left.join(right) { l, r in "[\(l), \(r)]" }
        case .left: joined = left.leftJoin(right) { l, r in "[\(l), \(r ?? "null")]" }
        case .outer: joined = left.outerJoin(right) { l, r in "[\(l ?? "null"), \(r ?? "null")]" }
        }
        joined.toStream().to("out", Produced(.string, Serde<String>.string.optional))
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        try DocumentedJoinTimeline.pipe(into: driver)
        return try driver.createOutputTopic("out", keySerde: .string, valueSerde: Serde<String>.string.optional)
            .readValuesToList().map { $0 ?? "null" }
    }

    func testInnerJoin() throws {
        XCTAssertEqual(try run(.inner), ["[A, a]", "[B, a]", "[B, b]", "null", "[C, c]", "null", "[D, d]"])
    }

    func testLeftJoin() throws {
        XCTAssertEqual(
            try run(.left),
            ["[A, null]", "[A, a]", "[B, a]", "[B, b]", "null", "[C, null]", "[C, c]", "[C, null]", "null", "[D, d]"])
    }

    func testOuterJoin() throws {
        XCTAssertEqual(
            try run(.outer),
            ["[A, null]", "[A, a]", "[B, a]", "[B, b]", "[null, b]", "null", "[C, null]", "[C, c]", "[C, null]", "null",
             "[null, d]", "[D, d]"])
    }
}
