import AppointmentFunnel
import ExampleSupport
import Foundation
import Rill
import RillKafka
import Synchronization

/// Appointment traffic for the demo: 24 clinics in four regions (one more clinic that is not in the
/// clinics table, so `"unknown"` shows), appointments requested at `rate` per second that move
/// through the funnel with drop-off at each stage, some cancelled or no-show, a few repeated
/// events, and a few malformed records for the dead-letter topic.
final class AppointmentTraffic: DemoGenerator, @unchecked Sendable {
    static let regions = ["north", "south", "east", "west"]
    static let names = [
        "Northside", "Riverside", "Hillcrest", "Lakeview", "Oakwood", "Maple", "Harbor", "Cedar", "Parkway", "Summit",
        "Meadow", "Bayview", "Elmwood", "Fairview", "Glenwood", "Highland", "Ironbridge", "Juniper", "Kingsway", "Linden",
        "Millbrook", "Newport", "Orchard", "Pinecrest",
    ]
    static let clinics = names.enumerated().map { index, name in
        Clinic(clinicId: String(format: "clinic-%02d", index + 1), name: name, region: regions[index % regions.count])
    }

    private struct Journey {
        var id: String
        var patient: String
        var clinic: String
        var stage: Stage
        var due: Date
    }

    private let producer: KafkaProducer
    private let rate: Int
    private let running = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let encoder = JSONEncoder()

    init(bootstrapServers: String, rate: Int) throws {
        producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": bootstrapServers, "linger.ms": "5"]))
        self.rate = rate
    }

    func start() {
        running.store(true, ordering: .relaxed)
        for clinic in Self.clinics {
            send(AppointmentFunnelApp.clinicsTopic, key: clinic.clinicId, value: (try? Array(encoder.encode(clinic))) ?? [])
        }
        Thread { [self] in
            defer { finished.signal() }
            var random = SystemRandomNumberGenerator()
            let start = Date()
            var journeys: [Journey] = []
            var created = 0
            let weights = Self.clinics.indices.map { _ in Double.random(in: 0.5...3, using: &random) }
            while running.load(ordering: .relaxed) {
                let now = Date()
                while created < Int(now.timeIntervalSince(start) * Double(rate)) {
                    created += 1
                    let clinic = Int.random(in: 0..<200, using: &random) == 0
                        ? "clinic-99" : Self.clinics[pick(weights, &random)].clinicId
                    let journey = Journey(
                        id: "a-\(created)", patient: "p-\(Int.random(in: 1...5_000, using: &random))", clinic: clinic,
                        stage: .requested, due: now.addingTimeInterval(Double.random(in: 1...4, using: &random)))
                    emit(journey, &random)
                    journeys.append(journey)
                }
                var remaining: [Journey] = []
                for var journey in journeys {
                    guard journey.due <= now else {
                        remaining.append(journey)
                        continue
                    }
                    guard let next = nextStage(after: journey.stage, &random) else { continue }
                    journey.stage = next
                    journey.due = now.addingTimeInterval(Double.random(in: 1...6, using: &random))
                    emit(journey, &random)
                    if next != .completed && next != .cancelled && next != .noShow { remaining.append(journey) }
                }
                journeys = remaining
                producer.poll(timeoutMs: 0)
                Thread.sleep(forTimeInterval: 0.02)
            }
            try? producer.flush(timeoutMs: 5_000)
        }.start()
    }

    func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        finished.wait()
    }

    /// Where an appointment goes from `stage`: on, off the funnel (cancelled, no-show), or nowhere (`nil`).
    private func nextStage(after stage: Stage, _ random: inout SystemRandomNumberGenerator) -> Stage? {
        let roll = Int.random(in: 0..<100, using: &random)
        switch stage {
        case .requested: return roll < 85 ? .scheduled : roll < 93 ? .cancelled : nil
        case .scheduled: return roll < 82 ? .confirmed : roll < 92 ? .cancelled : nil
        case .confirmed: return roll < 84 ? .checkedIn : roll < 94 ? .noShow : .cancelled
        case .checkedIn: return roll < 95 ? .completed : nil
        case .completed, .cancelled, .noShow: return nil
        }
    }

    private func emit(_ journey: Journey, _ random: inout SystemRandomNumberGenerator) {
        let ts = Int64(Date().timeIntervalSince1970 * 1000)
        let value: [UInt8]
        switch Int.random(in: 0..<400, using: &random) {
        case 0: value = Array(#"{"appointmentId":"\#(journey.id)","stage":"#.utf8)  // cut short
        case 1: value = Array(#"{"appointmentId":"\#(journey.id)","patientId":"\#(journey.patient)","clinicId":"\#(journey.clinic)","stage":"lost","ts":\#(ts)}"#.utf8)
        default:
            let event = Appointment(
                appointmentId: journey.id, patientId: journey.patient, clinicId: journey.clinic, stage: journey.stage, ts: ts)
            value = (try? Array(encoder.encode(event))) ?? []
            if Int.random(in: 0..<50, using: &random) == 0 {
                send(AppointmentFunnelApp.appointmentsTopic, key: journey.id, value: value)  // a repeated event
            }
        }
        send(AppointmentFunnelApp.appointmentsTopic, key: journey.id, value: value)
    }

    private func send(_ topic: String, key: String, value: [UInt8]) {
        try? producer.send(topic: topic, partition: nil, key: Array(key.utf8), value: value, timestamp: nil, headers: Headers())
    }

    private func pick(_ weights: [Double], _ random: inout SystemRandomNumberGenerator) -> Int {
        var target = Double.random(in: 0..<weights.reduce(0, +), using: &random)
        for (index, weight) in weights.enumerated() {
            target -= weight
            if target < 0 { return index }
        }
        return weights.count - 1
    }
}
