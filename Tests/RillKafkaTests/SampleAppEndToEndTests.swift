import AppointmentFunnel
import CallVolume
import Foundation
import Rill
import RillKafka
import TestSupport
import XCTest

/// The sample apps as their users run them: `rill dev-broker` and the app as processes, generated
/// traffic (bad and late records included) checked against a reference computed here with plain
/// loops, a SIGTERM that must end the app with exit code 0 within 5 s, and a restart that must
/// carry on with nothing lost or counted twice.
final class SampleAppEndToEndTests: XCTestCase {
    var broker: DevBrokerProcess!
    var stateDir = ""
    var logs: [URL] = []
    let minute: Int64 = 60_000
    let start: Int64 = 1_764_000_000_000

    override func tearDown() {
        broker?.stop()
        try? FileManager.default.removeItem(atPath: stateDir)
        for log in logs where ProcessInfo.processInfo.environment["RILL_KEEP_LOGS"] == nil { try? FileManager.default.removeItem(at: log) }
    }

    func makeBroker(_ topics: [String]) throws {
        broker = try DevBrokerProcess(topics: topics)
        stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-apps-\(UUID().uuidString)").path
    }

    /// Starts a sample app as a worker; its standard error goes to a file shown if a test fails.
    func startApp(_ name: String, _ extra: [String] = []) throws -> Process {
        let app = Process()
        app.executableURL = try DevBrokerProcess.builtExecutable(name)
        app.arguments = ["--bootstrap-servers", broker.bootstrapServers, "--application-id", "\(name)-e2e", "--state-dir", stateDir] + extra
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        logs.append(log)
        app.standardOutput = FileHandle.nullDevice
        app.standardError = try FileHandle(forWritingTo: log)
        try app.run()
        return app
    }

    /// Sends SIGTERM and checks that the app exits with 0 within 5 s.
    func terminate(_ app: Process, file: StaticString = #filePath, line: UInt = #line) {
        let sent = Date()
        app.terminate()
        let exited = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            app.waitUntilExit()
            exited.signal()
        }
        if exited.wait(timeout: .now() + 5) == .timedOut {
            kill(app.processIdentifier, SIGKILL)
            app.waitUntilExit()
            XCTFail("the app did not exit within 5 s of SIGTERM\n\(logText())", file: file, line: line)
            return
        }
        XCTAssertEqual(app.terminationStatus, 0, "exit code\n\(logText())", file: file, line: line)
        XCTAssertLessThan(Date().timeIntervalSince(sent), 5, file: file, line: line)
    }

    func logText() -> String {
        logs.compactMap { try? String(contentsOf: $0, encoding: .utf8) }.joined(separator: "\n---\n").suffix(4_000).description
    }

    func produce(_ topic: String, _ records: [(key: String, value: String?)], timestamp: Int64? = nil) throws {
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "linger.ms": "20"]))
        for record in records {
            try producer.send(
                topic: topic, partition: nil, key: Array(record.key.utf8), value: record.value.map { Array($0.utf8) },
                timestamp: timestamp, headers: Headers())
        }
        try producer.flush(timeoutMs: 60_000)
    }

    /// Reads `topics` from the start until `done` holds for what was read (or `seconds` pass), then
    /// for `settle` seconds more, to catch what should not come.
    func read(
        _ topics: [String], seconds: Double = 90, settle: Double = 0, until done: ([ConsumedRecord]) -> Bool
    ) throws -> [ConsumedRecord] {
        let consumer = try KafkaConsumer(config: KafkaClientConfig([
            "bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)",
        ]))
        defer { consumer.close() }
        var assignment: [TopicPartition: Int64] = [:]
        for topic in topics { for partition in Int32(0)..<4 { assignment[TopicPartition(topic: topic, partition: partition)] = -2 } }
        try consumer.assign(assignment)
        var records: [ConsumedRecord] = []
        let deadline = Date().addingTimeInterval(seconds)
        while !done(records) && Date() < deadline {
            records += try consumer.poll(max: 5_000, timeoutMs: 100)
        }
        let settled = Date().addingTimeInterval(settle)
        while Date() < settled {
            records += try consumer.poll(max: 5_000, timeoutMs: 100)
        }
        return records
    }

    static func json(_ bytes: [UInt8]?) -> [String: Any] {
        (bytes.flatMap { try? JSONSerialization.jsonObject(with: Data($0)) } as? [String: Any]) ?? [:]
    }

    static func int(_ value: Any?) -> Int64 { (value as? NSNumber)?.int64Value ?? -1 }

    // MARK: - Call volume

    /// Generated calls from `first` on (one every 20 ms of event time, 20 clinics) with malformed
    /// records, records within grace and records too late; then one outbound call per clinic 10
    /// minutes later, which closes every window. Returns the records and the reference counts.
    ///
    /// A record is late when its window ended a grace period before its task's stream time: the
    /// latest timestamp of the records read so far from its partition (of 4, placed as Kafka's
    /// default partitioner places the clinic id), malformed ones aside.
    func callTraffic(_ range: Range<Int>, seed: UInt64) -> (records: [(key: String, value: String?)], counts: [String: Int64], bad: [String]) {
        var random = SeededGenerator(seed: seed)
        var records: [(key: String, value: String?)] = []
        var counts: [String: Int64] = [:]
        var bad: [String] = []
        var last = start
        var streamTime: [Int32: Int64] = [:]
        for index in range {
            let clinic = String(format: "clinic-%02d", Int(random.next() % 20) + 1)
            var ts = start + Int64(index) * 20
            last = ts
            if index % 500 == 7 {
                let value = index % 1_000 == 7
                    ? #"{"callId":"c-\#(index)","clinicId":"\#(clinic)","direction":"inbound""#
                    : #"{"callId":"c-\#(index)","clinicId":"\#(clinic)","direction":"inbound","status":"ringing","ts":\#(ts)}"#
                records.append((clinic, value))
                bad.append(value)
                continue
            }
            let tooLate = index % 300 == 11
            if tooLate { ts -= 5 * minute } else if index % 250 == 3 { ts -= 10_000 }
            let inbound = random.next() % 10 < 7
            let status = ["started", "started", "answered", "ended", "missed"][Int(random.next() % 5)]
            records.append((clinic, #"{"callId":"c-\#(index)","clinicId":"\#(clinic)","direction":"\#(inbound ? "inbound" : "outbound")","status":"\#(status)","ts":\#(ts)}"#))
            let partition = DefaultPartitioner.partition(key: Array(clinic.utf8), count: 4)
            streamTime[partition] = max(streamTime[partition] ?? ts, ts)
            let windowStart = ts - ts % minute
            let late = windowStart + minute + 30_000 <= streamTime[partition]!
            XCTAssertTrue(late || !tooLate || index < 1_000, "a record meant to be late, at index \(index), is not")
            if inbound && status == "started" && !late {
                counts["\(clinic)@\(windowStart)", default: 0] += 1
            }
        }
        for clinic in 1...20 {
            let id = String(format: "clinic-%02d", clinic)
            records.append((id, #"{"callId":"close","clinicId":"\#(id)","direction":"outbound","status":"started","ts":\#(last + 10 * minute)}"#))
        }
        return (records, counts, bad)
    }

    func finals(_ records: [ConsumedRecord]) -> [String] {
        records.filter { $0.topic == "call-volume-final" }.map { record in
            let object = Self.json(record.value)
            return "\(object["clinicId"] as? String ?? "?")@\(Self.int(object["windowStart"]))=\(Self.int(object["calls"]))"
        }
    }

    func testCallVolumeMatchesAReferenceAndResumesAfterSIGTERMWithoutLosingOrRepeatingFinals() throws {
        try makeBroker(["calls:4"])
        let first = callTraffic(0..<50_000, seed: 1)
        XCTAssertEqual(first.records.count, 50_020)
        try produce("calls", first.records, timestamp: start)
        var app = try startApp("call-volume")
        let expected = first.counts.map { "\($0.key)=\($0.value)" }.sorted()
        var records = try read(["call-volume-final", "call-volume", "calls-dlq"], settle: 2) { records in
            self.finals(records).count >= expected.count
                && records.filter { $0.topic == "calls-dlq" }.count >= first.bad.count
        }
        XCTAssertEqual(finals(records).sorted(), expected, logText())
        var latest: [String: Int64] = [:]
        for record in records where record.topic == "call-volume" {
            let object = Self.json(record.value)
            XCTAssertEqual(record.key.map { String(decoding: $0, as: UTF8.self) }, object["clinicId"] as? String)
            latest["\(object["clinicId"] as? String ?? "?")@\(Self.int(object["windowStart"]))"] = Self.int(object["calls"])
        }
        XCTAssertEqual(latest, first.counts, "the last update of each window is its count")
        let letters = records.filter { $0.topic == "calls-dlq" }
        XCTAssertEqual(Set(letters.map { String(decoding: $0.value ?? [], as: UTF8.self) }), Set(first.bad))
        XCTAssertTrue(letters.allSatisfy { $0.headers.lastHeader("rill.source.topic")?.stringValue == "calls" })
        XCTAssertTrue(letters.allSatisfy { $0.headers.lastHeader("rill.error") != nil })
        terminate(app)

        // Restarted, the app goes on from its committed offsets and restored state.
        let second = callTraffic(100_000..<115_000, seed: 2)
        try produce("calls", second.records, timestamp: start)
        app = try startApp("call-volume")
        let all = (first.counts.merging(second.counts) { a, b in a + b }).map { "\($0.key)=\($0.value)" }.sorted()
        // Two seconds more, for any final emitted twice.
        records = try read(["call-volume-final"], settle: 2) { self.finals($0).count >= all.count }
        XCTAssertEqual(finals(records).sorted(), all, logText())
        terminate(app)
    }

    // MARK: - Appointment funnel

    static let stages = ["requested", "scheduled", "confirmed", "checked_in", "completed", "cancelled", "no_show"]

    /// Appointments `ids` moving through the funnel (1–5 events each, some repeated, some
    /// cancelled or no-show), interleaved, with malformed records; `state` collects each
    /// appointment's clinic and stages for the reference.
    func appointmentTraffic(
        _ ids: Range<Int>, seed: UInt64, state: inout [String: (clinic: String, stages: Set<String>)]
    ) -> (records: [(key: String, value: String?)], bad: [String]) {
        var random = SeededGenerator(seed: seed)
        var pending: [(id: String, events: [String])] = []
        for index in ids {
            let id = "a-\(index)"
            let clinic = state[id]?.clinic ?? (random.next() % 40 == 0 ? "clinic-99" : String(format: "clinic-%02d", Int(random.next() % 20) + 1))
            var events: [String] = []
            let reached = Int(random.next() % 5) + 1
            for stage in Self.stages.prefix(reached) { events.append(stage) }
            switch random.next() % 10 {
            case 0: events.append("cancelled")
            case 1: events.append("no_show")
            case 2: events.append(events.last!)  // repeated
            default: break
            }
            state[id, default: (clinic, [])].stages.formUnion(events)
            pending.append((id, events.map { #"{"appointmentId":"\#(id)","patientId":"p-\#(index % 997)","clinicId":"\#(clinic)","stage":"\#($0)","ts":TS}"# }))
        }
        var records: [(key: String, value: String?)] = []
        var bad: [String] = []
        var ts = start
        while !pending.isEmpty {
            let pick = Int(random.next() % UInt64(pending.count))
            ts += 10
            records.append((pending[pick].id, pending[pick].events.removeFirst().replacingOccurrences(of: "TS", with: String(ts))))
            if pending[pick].events.isEmpty { pending.remove(at: pick) }
            if records.count % 400 == 0 {
                let value = #"{"appointmentId":"a-bad","stage":"lost","ts":\#(ts)}"#
                records.append(("a-bad", value))
                bad.append(value)
            }
        }
        return (records, bad)
    }

    /// Clinics 1-20 ("Clinic n", regions in turn), older than every appointment, so that each
    /// task reads the clinics first.
    func produceClinics() throws {
        let clinics = (1...20).map { n in
            (key: String(format: "clinic-%02d", n),
             value: Optional(#"{"clinicId":"\#(String(format: "clinic-%02d", n))","name":"Clinic \#(n)","region":"\#(["north", "south", "east", "west"][n % 4])"}"#))
        }
        try produce("clinics", clinics, timestamp: start - 86_400_000)
    }

    func referenceFunnels(_ state: [String: (clinic: String, stages: Set<String>)]) -> [String: String] {
        var funnels: [String: (appointments: Int, stages: [String: Int])] = [:]
        for (_, appointment) in state {
            funnels[appointment.clinic, default: (0, [:])].appointments += 1
            for stage in appointment.stages { funnels[appointment.clinic]!.stages[stage, default: 0] += 1 }
        }
        return funnels.mapValues { funnel in
            "\(funnel.appointments) " + Self.stages.map { "\($0)=\(funnel.stages[$0, default: 0])" }.joined(separator: ",")
        }
    }

    func latestFunnels(_ records: [ConsumedRecord]) -> [String: String] {
        var latest: [String: String] = [:]
        for record in records where record.topic == "appointment-funnel" {
            let object = Self.json(record.value)
            let stages = object["stages"] as? [String: Any] ?? [:]
            let clinic = object["clinicId"] as? String ?? "?"
            latest[clinic] = "\(Self.int(object["appointments"])) " + Self.stages.map { "\($0)=\(Self.int(stages[$0]))" }.joined(separator: ",")
            names[clinic] = "\(object["clinicName"] as? String ?? "?")/\(object["region"] as? String ?? "?")"
        }
        return latest
    }

    var names: [String: String] = [:]

    func testAppointmentFunnelMatchesAReferenceAndResumesAfterSIGTERM() throws {
        try makeBroker(["clinics:4", "appointments:4"])
        try produceClinics()
        var state: [String: (clinic: String, stages: Set<String>)] = [:]
        let first = appointmentTraffic(0..<16_000, seed: 3, state: &state)
        XCTAssertGreaterThanOrEqual(first.records.count, 50_000)
        try produce("appointments", first.records)
        var app = try startApp("appointment-funnel")
        var expected = referenceFunnels(state)
        var records = try read(["appointment-funnel", "appointments-dlq"]) { records in
            self.latestFunnels(records) == expected && records.filter { $0.topic == "appointments-dlq" }.count >= first.bad.count
        }
        XCTAssertEqual(latestFunnels(records), expected, logText())
        XCTAssertEqual(names["clinic-03"], "Clinic 3/west")
        XCTAssertEqual(names["clinic-99"], "unknown/unknown")
        XCTAssertEqual(records.filter { $0.topic == "appointments-dlq" }.map { String(decoding: $0.value ?? [], as: UTF8.self) }.sorted(), first.bad.sorted())
        terminate(app)

        // Restarted: old appointments move on and new ones come; nothing is counted twice.
        let second = appointmentTraffic(12_000..<20_000, seed: 4, state: &state)
        try produce("appointments", second.records)
        app = try startApp("appointment-funnel")
        expected = referenceFunnels(state)
        records = try read(["appointment-funnel"]) { self.latestFunnels($0) == expected }
        XCTAssertEqual(latestFunnels(records), expected, logText())
        terminate(app)
    }

    // MARK: - Flags

    func testAMissingInputTopicIsOneClearErrorAndExitCode2() throws {
        try makeBroker(["unrelated:1"])
        let app = try startApp("call-volume")
        app.waitUntilExit()
        XCTAssertEqual(app.terminationStatus, 2)
        XCTAssertTrue(logText().contains("'calls'"), logText())
    }

    func testDescribeAndHelp() throws {
        func run(_ name: String, _ arguments: [String]) throws -> String {
            let process = Process()
            process.executableURL = try DevBrokerProcess.builtExecutable(name)
            process.arguments = arguments
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
            return String(decoding: data, as: UTF8.self)
        }
        for name in ["call-volume", "appointment-funnel"] {
            let help = try run(name, ["--help"])
            for flag in [
                "--bootstrap-servers", "--application-id", "--state-dir", "--threads", "--guarantee", "--config", "--describe",
                "--describe-format", "--help",
            ] {
                XCTAssertTrue(help.contains(flag), "\(name) --help lacks \(flag)")
            }
            XCTAssertTrue(help.contains("at-least-once") && help.contains("exactly-once"), help)
        }
        XCTAssertEqual(try run("call-volume", ["--describe"]), try CallVolumeApp.topology().describe().description)
        XCTAssertEqual(try run("appointment-funnel", ["--describe"]), try AppointmentFunnelApp.topology().describe().description)
        XCTAssertEqual(
            try run("call-volume", ["--describe", "--describe-format", "mermaid"]), try CallVolumeApp.topology().describe().mermaid)
        XCTAssertEqual(
            try run("appointment-funnel", ["--describe", "--describe-format", "dot"]),
            try AppointmentFunnelApp.topology().describe().dot)
        XCTAssertEqual(try run("rill", ["describe", "appointment-funnel", "--format", "mermaid"]),
                       try AppointmentFunnelApp.topology().describe().mermaid)
        XCTAssertEqual(try run("rill", ["describe", "call-volume", "--format", "dot"]), try CallVolumeApp.topology().describe().dot)
    }
}
