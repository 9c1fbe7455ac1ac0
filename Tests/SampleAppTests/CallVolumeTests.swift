import CallVolume
import Foundation
import Rill
import RillTestDriver
import XCTest

/// Every rule of the call-volume contract (DESIGN §7), through the test driver.
final class CallVolumeTests: XCTestCase {
    /// An epoch-aligned minute: 1764000000000 is a multiple of 60,000.
    let minute: Int64 = 1_764_000_000_000
    var driver: TopologyTestDriver!
    var calls: TestInputTopic<String, [UInt8]>!
    var volume: TestOutputTopic<String, CallVolume>!
    var finals: TestOutputTopic<String, CallVolume>!
    var deadLetters: TestOutputTopic<String?, [UInt8]?>!

    override func setUpWithError() throws {
        var config = StreamsConfig(applicationID: "call-volume")
        CallVolumeApp.configure(&config)
        driver = try TopologyTestDriver(try CallVolumeApp.topology(), config: config)
        calls = try driver.createInputTopic("calls", keySerde: .string, valueSerde: .bytes)
        volume = try driver.createOutputTopic("call-volume", keySerde: .string, valueSerde: .json(CallVolume.self))
        finals = try driver.createOutputTopic("call-volume-final", keySerde: .string, valueSerde: .json(CallVolume.self))
        deadLetters = try driver.createOutputTopic(
            "calls-dlq", keySerde: Serde<String>.string.optional, valueSerde: Serde<[UInt8]>.bytes.optional)
    }

    override func tearDown() { driver?.close() }

    func call(
        _ clinic: String, at ts: Int64, direction: String = "inbound", status: String = "started", id: String = "c"
    ) throws {
        let json = #"{"callId":"\#(id)","clinicId":"\#(clinic)","direction":"\#(direction)","status":"\#(status)","ts":\#(ts)}"#
        // The record timestamp is deliberately unrelated: event time is `ts`.
        try calls.pipeInput(key: clinic, value: Array(json.utf8), timestamp: 5)
    }

    func volume(_ clinic: String, _ start: Int64, _ calls: Int64) -> CallVolume {
        CallVolume(clinicId: clinic, windowStart: start, windowEnd: start + 60_000, calls: calls)
    }

    func testCountsOnlyInboundStartedCallsPerClinicInEpochAlignedMinutes() throws {
        try call("clinic-03", at: minute + 10)
        try call("clinic-03", at: minute + 20, direction: "outbound")
        for status in ["answered", "missed", "ended"] { try call("clinic-03", at: minute + 30, status: status) }
        try call("clinic-03", at: minute + 59_999)
        try call("clinic-07", at: minute + 1_000)
        try call("clinic-03", at: minute + 60_000)  // the next minute
        XCTAssertEqual(try volume.readKeyValuesToList(), [
            KeyValue("clinic-03", volume("clinic-03", minute, 1)),
            KeyValue("clinic-03", volume("clinic-03", minute, 2)),
            KeyValue("clinic-07", volume("clinic-07", minute, 1)),
            KeyValue("clinic-03", volume("clinic-03", minute + 60_000, 1)),
        ])
        let store: any TimestampedWindowStore<String, Int64> = try driver.timestampedWindowStore(named: "call-counts")
        XCTAssertEqual(try store.fetch("clinic-03", windowStart: minute)?.value, 2)
    }

    func testTheContractExampleJSON() throws {
        try call("clinic-03", at: 1_763_999_999_000)
        let record = try XCTUnwrap(driver.createOutputTopic("call-volume", keySerde: .string, valueSerde: .bytes).readRecordsToList().first)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(record.value)) as? [String: Any])
        XCTAssertEqual(object["clinicId"] as? String, "clinic-03")
        XCTAssertEqual((object["windowStart"] as? NSNumber)?.int64Value, 1_763_999_940_000)
        XCTAssertEqual((object["windowEnd"] as? NSNumber)?.int64Value, 1_764_000_000_000)
        XCTAssertEqual((object["calls"] as? NSNumber)?.int64Value, 1)
        XCTAssertEqual(Set(object.keys), ["clinicId", "windowStart", "windowEnd", "calls"])
    }

    func testALateRecordWithinGraceCountsAndOneAfterGraceIsDropped() throws {
        try call("clinic-03", at: minute + 1_000)
        try call("clinic-03", at: minute + 60_000 + 29_999)  // stream time: end of the first minute + 29.999 s
        try call("clinic-03", at: minute + 5_000)  // within grace: counted
        XCTAssertEqual(try volume.readValuesToList().last, volume("clinic-03", minute, 2))
        XCTAssertEqual(try finals.readValuesToList(), [])
        try call("clinic-03", at: minute + 60_000 + 30_000)  // end + grace = stream time: the first minute closes
        XCTAssertEqual(try finals.readValuesToList(), [volume("clinic-03", minute, 2)])
        let dropped = driver.metrics.dropped
        try call("clinic-03", at: minute + 6_000)  // after grace: dropped and counted
        XCTAssertEqual(driver.metrics.dropped, dropped + 1)
        XCTAssertEqual(try volume.readValuesToList(), [volume("clinic-03", minute + 60_000, 2)])
        XCTAssertEqual(try finals.readValuesToList(), [])
    }

    func testFinalsComeOncePerClinicAndWindowAfterTheWindowCloses() throws {
        for clinic in ["clinic-01", "clinic-02"] {
            for offset in stride(from: Int64(0), to: 60_000, by: 7_000) { try call(clinic, at: minute + offset) }
        }
        try call("clinic-01", at: minute + 60_000 + 10_000)
        XCTAssertEqual(try finals.readValuesToList(), [], "no final before end + grace")
        try call("clinic-02", at: minute + 2 * 60_000 + 40_000)  // closes the first two minutes
        try call("clinic-02", at: minute + 5 * 60_000)  // closes the third
        let emitted = try finals.readKeyValuesToList()
        XCTAssertEqual(emitted, [
            KeyValue("clinic-01", volume("clinic-01", minute, 9)),
            KeyValue("clinic-02", volume("clinic-02", minute, 9)),
            KeyValue("clinic-01", volume("clinic-01", minute + 60_000, 1)),
            KeyValue("clinic-02", volume("clinic-02", minute + 2 * 60_000, 1)),
        ])
        try call("clinic-02", at: minute + 9 * 60_000)
        XCTAssertEqual(try finals.readValuesToList(), [volume("clinic-02", minute + 5 * 60_000, 1)])
    }

    func testUnreadableRecordsGoToTheDeadLetterTopicUnchangedAndProcessingGoesOn() throws {
        let bad = [
            #"{"callId":"c-1","clinicId":"clinic-03","#,  // not JSON
            #"{"callId":"c-2","clinicId":"clinic-03","direction":"inbound","status":"started","ts":"noon"}"#,  // wrong type
            #"{"callId":"c-3","clinicId":"clinic-03","direction":"sideways","status":"started","ts":1764000000000}"#,  // unknown enum
            #"{"callId":"c-4","clinicId":"clinic-03","direction":"inbound","status":"started"}"#,  // missing field
        ]
        for (index, value) in bad.enumerated() {
            try calls.pipeInput(key: "clinic-03", value: Array(value.utf8), timestamp: Int64(index))
            try call("clinic-03", at: minute + Int64(index))
        }
        let letters = try deadLetters.readRecordsToList()
        XCTAssertEqual(letters.map { $0.value.map { String(decoding: $0, as: UTF8.self) } }, bad)
        XCTAssertEqual(letters.map(\.key), Array(repeating: "clinic-03", count: 4))
        for (offset, letter) in letters.enumerated() {
            XCTAssertEqual(letter.headers.lastHeader("rill.source.topic")?.stringValue, "calls")
            XCTAssertEqual(letter.headers.lastHeader("rill.source.partition")?.stringValue, "0")
            XCTAssertEqual(letter.headers.lastHeader("rill.source.offset")?.stringValue, String(offset * 2))
            XCTAssertFalse(letter.headers.lastHeader("rill.error")?.stringValue?.isEmpty ?? true)
        }
        XCTAssertEqual(try volume.readValuesToList().last, volume("clinic-03", minute, 4), "the good calls around them count")
    }
}
