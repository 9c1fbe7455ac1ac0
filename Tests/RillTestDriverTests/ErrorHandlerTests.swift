import Rill
import RillTestDriver
import XCTest

/// Deserialization and processing errors under each handler: fail, log and continue, dead letter.
final class ErrorHandlerTests: XCTestCase {
    struct Call: Codable, Equatable {
        var callId: String
        var minutes: Int
    }

    /// calls (JSON) → a processor that throws for negative minutes → out.
    func driver(deserialization: ErrorHandling = .fail, processing: ErrorHandling = .fail) throws
        -> (TopologyTestDriver, TestInputTopic<String, Call>, TestOutputTopic<String, Int64>)
    {
        struct NegativeMinutes: Error, CustomStringConvertible { var description: String { "negative minutes" } }
        let builder = StreamsBuilder()
        builder.stream("calls", Consumed(.string, .json(Call.self)))
            .mapValues(named: "minutes") { call -> Int64 in
                guard call.minutes >= 0 else { throw NegativeMinutes() }
                return Int64(call.minutes)
            }
            .to("minutes", Produced(.string, .int64))
        var config = StreamsConfig(applicationID: "handlers")
        config.deserializationExceptionHandler = deserialization
        config.processingExceptionHandler = processing
        let driver = try TopologyTestDriver(try builder.build(), config: config)
        return (
            driver, try driver.createInputTopic("calls", keySerde: .string, valueSerde: .json(Call.self)),
            try driver.createOutputTopic("minutes", keySerde: .string, valueSerde: .int64)
        )
    }

    let malformed = Array(#"{"callId":"c-2","minutes":"#.utf8)

    func testDeserializationFailureFailsByDefaultNamingTopicPartitionOffset() throws {
        var (_, input, output) = try driver()
        try input.pipeInput(key: "k", value: Call(callId: "c-1", minutes: 3), timestamp: 0)
        XCTAssertThrowsError(try input.pipeRaw(key: Array("k".utf8), value: malformed, timestamp: 1)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("topic 'calls'") && text.contains("partition 0") && text.contains("offset 1"), text)
            XCTAssertTrue(text.contains("value"), text)
        }
        XCTAssertEqual(try output.readValuesToList(), [3])
    }

    func testDeserializationFailureLogAndContinueSkipsAndCounts() throws {
        var (driver, input, output) = try driver(deserialization: .logAndContinue)
        try input.pipeRaw(key: Array("k".utf8), value: malformed, timestamp: 1)
        try input.pipeRaw(key: Array("k".utf8), value: Array(#"{"callId":"c-3","minutes":"ten"}"#.utf8), timestamp: 2)
        try input.pipeInput(key: "k", value: Call(callId: "c-4", minutes: 4), timestamp: 3)
        XCTAssertEqual(try output.readValuesToList(), [4])
        XCTAssertEqual(driver.metrics.dropped, 2)
        XCTAssertEqual(driver.metrics.processed, 3)
    }

    func testDeserializationFailureGoesToTheDeadLetterTopicUnchangedWithHeaders() throws {
        var (driver, input, output) = try driver(deserialization: .deadLetter(topic: "calls-dlq"))
        try input.pipeInput(key: "k", value: Call(callId: "c-1", minutes: 1), timestamp: 0)
        let original: Headers = [Header(key: "origin", string: "test")]
        try input.pipeRaw(key: Array("clinic-7".utf8), value: malformed, timestamp: 99, headers: original)
        try input.pipeInput(key: "k", value: Call(callId: "c-3", minutes: 3), timestamp: 2)
        XCTAssertEqual(try output.readValuesToList(), [1, 3], "processing goes on after the dead letter")

        let dlq = try driver.createOutputTopic("calls-dlq", keySerde: .bytes, valueSerde: .bytes)
        let letter = try dlq.readRecord()
        XCTAssertTrue(dlq.isEmpty)
        XCTAssertEqual(letter.key, Array("clinic-7".utf8))
        XCTAssertEqual(letter.value, malformed, "the original bytes, unchanged")
        XCTAssertEqual(letter.timestamp, 99)
        XCTAssertEqual(letter.headers.lastHeader("origin")?.stringValue, "test")
        XCTAssertEqual(letter.headers.lastHeader("rill.source.topic")?.stringValue, "calls")
        XCTAssertEqual(letter.headers.lastHeader("rill.source.partition")?.stringValue, "0")
        XCTAssertEqual(letter.headers.lastHeader("rill.source.offset")?.stringValue, "1")
        let reason = letter.headers.lastHeader("rill.error")?.stringValue ?? ""
        XCTAssertTrue(reason.contains("deserialize") && reason.contains("'calls'"), reason)
        XCTAssertEqual(driver.metrics.deadLettered, 1)
    }

    func testNullValueForNonOptionalSerdeIsADeserializationError() throws {
        var (driver, input, _) = try driver(deserialization: .logAndContinue)
        try input.pipeTombstone(key: "k", timestamp: 0)
        XCTAssertEqual(driver.metrics.dropped, 1)
    }

    func testProcessingFailureFailsByDefaultNamingTheProcessor() throws {
        var (_, input, _) = try driver()
        XCTAssertThrowsError(try input.pipeInput(key: "k", value: Call(callId: "c", minutes: -1), timestamp: 0)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("minutes") && text.contains("negative minutes"), text)
            XCTAssertTrue(text.contains("topic 'calls' partition 0 offset 0"), text)
        }
    }

    func testProcessingFailureLogAndContinueSkipsTheRecord() throws {
        var (driver, input, output) = try driver(processing: .logAndContinue)
        try input.pipeInput(key: "k", value: Call(callId: "a", minutes: -1), timestamp: 0)
        try input.pipeInput(key: "k", value: Call(callId: "b", minutes: 2), timestamp: 1)
        XCTAssertEqual(try output.readValuesToList(), [2])
        XCTAssertEqual(driver.metrics.dropped, 1)
    }

    func testProcessingFailureDeadLetterKeepsTheInputBytes() throws {
        var (driver, input, output) = try driver(processing: .deadLetter(topic: "errors"))
        try input.pipeInput(key: "k", value: Call(callId: "a", minutes: -5), timestamp: 0)
        try input.pipeInput(key: "k", value: Call(callId: "b", minutes: 5), timestamp: 1)
        XCTAssertEqual(try output.readValuesToList(), [5])
        let letter = try driver.createOutputTopic("errors", keySerde: .string, valueSerde: .json(Call.self)).readRecord()
        XCTAssertEqual(letter.value, Call(callId: "a", minutes: -5))
        XCTAssertTrue(letter.headers.lastHeader("rill.error")?.stringValue?.contains("negative minutes") == true)
    }

    func testUserProcessorErrorNamesTheProcessor() throws {
        struct Boom: Error {}
        final class Exploding: Processor {
            typealias KOut = String
            typealias VOut = String
            func process(_ record: Record<String, String>) throws { throw Boom() }
        }
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string)).process(named: "exploder") { Exploding() }
            .to("out", Produced(.string, .string))
        let driver = try TopologyTestDriver(try builder.build())
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        XCTAssertThrowsError(try input.pipeInput(key: "k", value: "v", timestamp: 0)) { error in
            XCTAssertTrue("\(error)".contains("exploder"), "\(error)")
        }
    }
}
