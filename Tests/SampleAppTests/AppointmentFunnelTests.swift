import AppointmentFunnel
import Foundation
import Rill
import RillTestDriver
import XCTest

/// Every rule of the appointment-funnel contract (DESIGN §7), through the test driver.
final class AppointmentFunnelTests: XCTestCase {
    var driver: TopologyTestDriver!
    var clinics: TestInputTopic<String, [UInt8]?>!
    var appointments: TestInputTopic<String, [UInt8]>!
    var funnel: TestOutputTopic<String, Funnel?>!
    var time: Int64 = 1_764_000_000_000

    override func setUpWithError() throws {
        var config = StreamsConfig(applicationID: "appointment-funnel")
        AppointmentFunnelApp.configure(&config)
        driver = try TopologyTestDriver(try AppointmentFunnelApp.topology(), config: config)
        clinics = try driver.createInputTopic("clinics", keySerde: .string, valueSerde: Serde<[UInt8]>.bytes.optional)
        appointments = try driver.createInputTopic("appointments", keySerde: .string, valueSerde: .bytes)
        funnel = try driver.createOutputTopic("appointment-funnel", keySerde: .string, valueSerde: Serde<Funnel>.json().optional)
    }

    override func tearDown() { driver?.close() }

    func clinic(_ id: String, _ name: String?, region: String = "north") throws {
        let json = name.map { #"{"clinicId":"\#(id)","name":"\#($0)","region":"\#(region)"}"# }
        try clinics.pipeInput(key: id, value: json.map { Array($0.utf8) }, timestamp: time)
    }

    func event(_ appointment: String, _ stage: String, clinic: String = "clinic-03") throws {
        time += 1_000
        let json = #"{"appointmentId":"\#(appointment)","patientId":"p-9","clinicId":"\#(clinic)","stage":"\#(stage)","ts":\#(time)}"#
        try appointments.pipeInput(key: appointment, value: Array(json.utf8), timestamp: 1)
    }

    /// The current funnel per clinic: the last value of each key.
    func current() throws -> [String: Funnel] {
        var latest: [String: Funnel] = [:]
        for record in try funnel.readKeyValuesToList() { latest[record.key] = record.value }
        return latest
    }

    func counts(_ pairs: [Stage: Int64]) -> StageCounts {
        var counts = StageCounts()
        for (stage, count) in pairs { counts[stage] = count }
        return counts
    }

    func testAnAppointmentIsCountedOnceInEachStageItReached() throws {
        try clinic("clinic-03", "Northside")
        for stage in ["requested", "scheduled", "confirmed"] { try event("a-1", stage) }
        XCTAssertEqual(try current()["clinic-03"], Funnel(
            clinicId: "clinic-03", clinicName: "Northside", region: "north", appointments: 1,
            stages: counts([.requested: 1, .scheduled: 1, .confirmed: 1])))
    }

    func testARepeatedStageEventChangesNothing() throws {
        try clinic("clinic-03", "Northside")
        try event("a-1", "requested")
        try event("a-1", "scheduled")
        let before = try current()["clinic-03"]
        try event("a-1", "scheduled")
        try event("a-1", "requested")
        for value in try funnel.readValuesToList() { XCTAssertEqual(value, before) }
        XCTAssertEqual(before?.stages, counts([.requested: 1, .scheduled: 1]))
        XCTAssertEqual(before?.appointments, 1)
    }

    func testACancelledAppointmentKeepsTheStagesItReached() throws {
        try clinic("clinic-03", "Northside")
        try event("a-1", "requested")
        try event("a-1", "scheduled")
        try event("a-2", "requested")
        try event("a-1", "cancelled")
        try event("a-2", "no_show")
        XCTAssertEqual(try current()["clinic-03"]?.stages, counts([.requested: 2, .scheduled: 1, .cancelled: 1, .noShow: 1]))
    }

    func testOutOfOrderStagesGiveTheSameFunnel() throws {
        try clinic("clinic-03", "Northside")
        for stage in ["completed", "requested", "checked_in", "scheduled", "confirmed"] { try event("a-1", stage) }
        XCTAssertEqual(
            try current()["clinic-03"]?.stages,
            counts([.requested: 1, .scheduled: 1, .confirmed: 1, .checkedIn: 1, .completed: 1]))
    }

    func testUnknownAndDeletedClinicsAreNamedUnknown() throws {
        try event("a-1", "requested", clinic: "clinic-42")
        XCTAssertEqual(try current()["clinic-42"]?.clinicName, "unknown")
        try clinic("clinic-03", "Northside", region: "south")
        try event("a-2", "requested")
        XCTAssertEqual(try current()["clinic-03"]?.region, "south")
        try clinic("clinic-03", nil)  // tombstone
        try event("a-3", "requested")
        let after = try current()["clinic-03"]
        XCTAssertEqual(after?.clinicName, "unknown")
        XCTAssertEqual(after?.region, "unknown")
        XCTAssertEqual(after?.appointments, 2)
    }

    func testAnAppointmentMovingToAnotherClinicLeavesTheFirst() throws {
        try clinic("clinic-03", "Northside")
        try clinic("clinic-04", "Riverside")
        try event("a-1", "requested")
        try event("a-1", "scheduled", clinic: "clinic-04")
        let funnels = try current()
        XCTAssertEqual(funnels["clinic-03"]?.appointments, 0)
        XCTAssertEqual(funnels["clinic-03"]?.stages, StageCounts())
        XCTAssertEqual(funnels["clinic-04"]?.stages, counts([.requested: 1, .scheduled: 1]))
    }

    func testTheContractJSONShape() throws {
        try clinic("clinic-03", "Northside")
        try event("a-1", "checked_in")
        let raw = try driver.createOutputTopic("appointment-funnel", keySerde: .string, valueSerde: .bytes).readRecordsToList()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(raw.last).value)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["clinicId", "clinicName", "region", "appointments", "stages"])
        let stages = try XCTUnwrap(object["stages"] as? [String: Any])
        XCTAssertEqual(
            Set(stages.keys), ["requested", "scheduled", "confirmed", "checked_in", "completed", "cancelled", "no_show"])
        XCTAssertEqual((stages["checked_in"] as? NSNumber)?.intValue, 1)
        XCTAssertEqual((object["appointments"] as? NSNumber)?.intValue, 1)
    }

    func testInvalidAppointmentsGoToTheDeadLetterTopicAndProcessingGoesOn() throws {
        try clinic("clinic-03", "Northside")
        let bad = [
            #"{"appointmentId":"a-1","stage":"#,
            #"{"appointmentId":"a-1","patientId":"p-9","clinicId":"clinic-03","stage":"lost","ts":1}"#,
            #"{"appointmentId":"a-1","patientId":"p-9","clinicId":"clinic-03","stage":"requested","ts":"now"}"#,
        ]
        for value in bad { try appointments.pipeInput(key: "a-1", value: Array(value.utf8), timestamp: 1) }
        try event("a-1", "requested")
        let letters = try driver.createOutputTopic("appointments-dlq", keySerde: .string, valueSerde: .bytes).readRecordsToList()
        XCTAssertEqual(letters.map { String(decoding: $0.value, as: UTF8.self) }, bad)
        XCTAssertEqual(letters.first?.headers.lastHeader("rill.source.topic")?.stringValue, "appointments")
        XCTAssertEqual(try current()["clinic-03"]?.appointments, 1)
    }
}
