import CallVolume
import ExampleSupport
import Foundation
import Rill
import RillKafka
import Synchronization

/// Call traffic for the demo: 40 clinics whose call rates rise and fall on their own cycles, in
/// event time that runs `speed` times faster than the clock. Among the calls, a few malformed
/// records (for the dead-letter topic), some late ones within the grace period (still counted) and
/// some too late (dropped).
final class CallTraffic: DemoGenerator, @unchecked Sendable {
    static let clinics = (1...40).map { String(format: "clinic-%02d", $0) }

    private let producer: KafkaProducer
    private let rate: Int
    private let speed: Int
    private let running = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(bootstrapServers: String, rate: Int, speed: Int) throws {
        producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": bootstrapServers, "linger.ms": "5"]))
        self.rate = rate
        self.speed = speed
    }

    func start() {
        running.store(true, ordering: .relaxed)
        Thread { [self] in
            defer { finished.signal() }
            var random = SystemRandomNumberGenerator()
            let start = Date()
            let eventStart = Int64(start.timeIntervalSince1970 * 1000)
            let base = Self.clinics.indices.map { _ in Double.random(in: 0.3...3, using: &random) }
            let period = Self.clinics.indices.map { _ in Double.random(in: 40...160, using: &random) }
            let phase = Self.clinics.indices.map { _ in Double.random(in: 0...(2 * .pi), using: &random) }
            var sent = 0
            while running.load(ordering: .relaxed) {
                let elapsed = Date().timeIntervalSince(start)
                let now = eventStart + Int64(elapsed * 1000 * Double(speed))
                let weights = Self.clinics.indices.map { max(0.05, base[$0] * (1 + 0.8 * sin(elapsed / period[$0] * 2 * .pi + phase[$0]))) }
                while sent < Int(elapsed * Double(rate)) {
                    sent += 1
                    let clinic = Self.clinics[pick(weights, &random)]
                    let value: [UInt8]
                    switch Int.random(in: 0..<1_000, using: &random) {
                    case 0: value = Array(#"{"callId":"c-\#(sent)","clinicId":"\#(clinic)""#.utf8)  // cut short
                    case 1: value = Array(#"{"callId":"c-\#(sent)","clinicId":"\#(clinic)","direction":"sideways","status":"started","ts":\#(now)}"#.utf8)
                    case 2: value = Array(#"{"callId":"c-\#(sent)","clinicId":"\#(clinic)","direction":"inbound","status":"started","ts":"soon"}"#.utf8)
                    default:
                        var ts = now
                        let lateness = Int.random(in: 0..<100, using: &random)
                        if lateness == 0 { ts -= 150_000 }  // past the grace period: dropped
                        else if lateness < 4 { ts -= 20_000 }  // late, within grace: counted
                        let call = Call(
                            callId: "c-\(sent)", clinicId: clinic,
                            direction: Int.random(in: 0..<10, using: &random) < 7 ? .inbound : .outbound,
                            status: [.started, .started, .started, .started, .answered, .answered, .ended, .ended, .ended, .missed][
                                Int.random(in: 0..<10, using: &random)],
                            ts: ts)
                        value = (try? Array(JSONEncoder().encode(call))) ?? []
                    }
                    try? producer.send(
                        topic: CallVolumeApp.inputTopic, partition: nil, key: Array(clinic.utf8), value: value, timestamp: nil,
                        headers: Headers())
                }
                producer.poll(timeoutMs: 0)
                Thread.sleep(forTimeInterval: 0.01)
            }
            try? producer.flush(timeoutMs: 5_000)
        }.start()
    }

    func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        finished.wait()
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
