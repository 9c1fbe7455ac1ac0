import Rill
import RillTestDriver
import XCTest

/// Stream–stream joins within join windows; left and outer results for unmatched records come once,
/// when their window has closed (Kafka Streams 3.1+).
final class StreamStreamJoinTests: XCTestCase {
    enum Kind { case inner, left, outer }

    func driver(_ kind: Kind) throws -> TopologyTestDriver {
        let builder = StreamsBuilder()
        let left = builder.stream("left", Consumed(.string, .string))
        let right = builder.stream("right", Consumed(.string, .string))
        let windows = try JoinWindows.ofTimeDifferenceWithNoGrace(.milliseconds(10))
        let joined: KStream<String, String>
        switch kind {
        case .inner:
            joined = left.join(right, windows: windows, StreamJoined(storeName: "pairs")) { l, r in "\(l)+\(r)" }
        case .left:
            joined = left.leftJoin(right, windows: windows) { l, r in "\(l)+\(r ?? "null")" }
        case .outer:
            joined = left.outerJoin(right, windows: windows) { l, r in "\(l ?? "null")+\(r ?? "null")" }
        }
        joined.to("out", Produced(.string, .string))
        return try TopologyTestDriver(try builder.build(), config: StreamsConfig(applicationID: "streams-\(kind)"))
    }

    func run(_ kind: Kind) throws -> [String] {
        let driver = try driver(kind)
        defer { driver.close() }
        var left = try driver.createInputTopic("left", keySerde: .string, valueSerde: .string)
        var right = try driver.createInputTopic("right", keySerde: .string, valueSerde: .string)
        try left.pipeInput(key: "k", value: "A", timestamp: 0)
        try right.pipeInput(key: "k", value: "a", timestamp: 5)
        try right.pipeInput(key: "k", value: "b", timestamp: 20)
        try left.pipeInput(key: "k", value: "B", timestamp: 15)
        try left.pipeInput(key: "k", value: "C", timestamp: 40)
        try right.pipeInput(key: "k", value: "x", timestamp: 100)
        try left.pipeInput(key: "k", value: "D", timestamp: 200)
        // Late, with nothing to join: its window closed long ago.
        try left.pipeInput(key: "other", value: "Z", timestamp: 5)
        return try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string).readValuesToList()
    }

    func testInnerJoinPairsRecordsWithinTheWindow() throws {
        XCTAssertEqual(try run(.inner), ["A+a", "B+a", "B+b"])
    }

    func testLeftJoinEmitsUnmatchedLeftRecordsOnceTheirWindowCloses() throws {
        // A matched before its window closed: no "A+null". C waits until stream time passes 50.
        XCTAssertEqual(try run(.left), ["A+a", "B+a", "B+b", "C+null", "Z+null"])
    }

    func testOuterJoinEmitsUnmatchedRecordsOfBothSides() throws {
        XCTAssertEqual(try run(.outer), ["A+a", "B+a", "B+b", "C+null", "null+x", "Z+null"])
    }

    func testStoresAreNamedThroughStreamJoinedAndJoinWindowsAreChecked() throws {
        let driver = try driver(.inner)
        defer { driver.close() }
        XCTAssertNotNil(driver.stateStore(named: "pairs-this-join-store"))
        XCTAssertNotNil(driver.stateStore(named: "pairs-other-join-store"))
        XCTAssertThrowsError(try JoinWindows.ofTimeDifferenceWithNoGrace(.milliseconds(-1))) { error in
            XCTAssertTrue("\(error)".contains("JoinWindows: time difference"), "\(error)")
        }
        XCTAssertThrowsError(try JoinWindows.ofTimeDifferenceWithNoGrace(.seconds(1)).before(.seconds(-2))) { error in
            XCTAssertTrue("\(error)".contains("must not be negative"), "\(error)")
        }
    }
}

/// The stream–stream join table of Kafka Streams' documentation (DSL API, "Semantics of stream-stream
/// joins"): one key, a 15 s window with 5 s of grace, timestamps in seconds, null values ignored.
final class DocumentedStreamStreamJoinTests: XCTestCase {
    func run(_ kind: StreamStreamJoinTests.Kind) throws -> [String] {
        let builder = StreamsBuilder()
        let left = builder.stream("left", Consumed(.string, Serde<String>.string.optional))
        let right = builder.stream("right", Consumed(.string, Serde<String>.string.optional))
        let windows = try JoinWindows.ofTimeDifferenceAndGrace(.seconds(15), grace: .seconds(5))
        let render: @Sendable (String??, String??) -> String = { l, r in "[\((l ?? nil) ?? "null"), \((r ?? nil) ?? "null")]" }
        let joined: KStream<String, String>
        switch kind {
        case .inner: joined = left.join(right, windows: windows) { l, r in render(l, r) }
        case .left: joined = left.leftJoin(right, windows: windows) { l, r in render(l, r) }
        case .outer: joined = left.outerJoin(right, windows: windows) { l, r in render(l, r) }
        }
        joined.to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build())
        defer { driver.close() }
        // The table goes on past the window: E, F and G find nothing; f neither.
        let later: [(time: Int64, left: Bool, value: String?)] = [(40, true, "E"), (60, true, "F"), (80, false, "f"), (100, true, "G")]
        try DocumentedJoinTimeline.pipe(DocumentedJoinTimeline.rows + later, into: driver, scale: 1_000)
        XCTAssertEqual(driver.metrics.dropped, 7, "the null values")
        return try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string).readValuesToList()
    }

    let joinedRows = [
        "[A, a]", "[B, a]", "[A, b]", "[B, b]", "[C, a]", "[C, b]", "[A, c]", "[B, c]", "[C, c]",
        "[A, d]", "[B, d]", "[C, d]", "[D, a]", "[D, b]", "[D, c]", "[D, d]",
    ]

    func testInnerJoin() throws { XCTAssertEqual(try run(.inner), joinedRows) }

    func testLeftJoin() throws { XCTAssertEqual(try run(.left), joinedRows + ["[E, null]", "[F, null]"]) }

    func testOuterJoin() throws { XCTAssertEqual(try run(.outer), joinedRows + ["[E, null]", "[F, null]", "[null, f]"]) }
}
