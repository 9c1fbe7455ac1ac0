import AppointmentFunnel
import ExampleSupport
import Foundation
import RillKafka

/// The demo's live view: per region, a bar per stage with its conversion from `requested`, and
/// the clinics with the most appointments.
final class FunnelView: DemoView {
    private let reader: TopicReader
    /// The current funnel of each clinic.
    private var funnels: [String: Funnel] = [:]
    private var deadLetters = 0
    private let decoder = JSONDecoder()

    init(bootstrapServers: String, partitions: Int32) throws {
        reader = try TopicReader(
            bootstrapServers: bootstrapServers, topics: [AppointmentFunnelApp.funnelTopic, AppointmentFunnelApp.deadLetterTopic],
            partitions: partitions)
    }

    func poll() throws {
        for record in try reader.poll(timeoutMs: 100) {
            if record.topic == AppointmentFunnelApp.deadLetterTopic {
                deadLetters += 1
                continue
            }
            guard let key = record.key else { continue }
            let clinic = String(decoding: key, as: UTF8.self)
            funnels[clinic] = record.value.flatMap { try? decoder.decode(Funnel.self, from: Data($0)) }
        }
    }

    func render(streams: KafkaStreams, elapsed: TimeInterval) -> [String] {
        let metrics = streams.metrics
        var lines = [
            "Rill · appointment funnel   appointments per stage, by region   [\(streams.state.rawValue), \(Int(elapsed)) s]",
            "processed \(metrics.processed)   clinics \(funnels.count)   dead letters \(deadLetters)",
            "",
        ]
        var regions: [String: StageCounts] = [:]
        var total = StageCounts()
        for funnel in funnels.values {
            for stage in Stage.allCases {
                regions[funnel.region, default: StageCounts()][stage] += funnel.stages[stage]
                total[stage] += funnel.stages[stage]
            }
        }
        let names = regions.keys.sorted()
        lines.append(Draw.left("stage", 11) + Draw.pad("all", 7) + String(repeating: " ", count: 33)
            + names.map { Draw.pad($0, 12) }.joined())
        func percent(_ value: Int64, of base: Int64) -> String { base > 0 ? "\(value * 100 / base)%" : "-" }
        for stage in Stage.allCases {
            var line = Draw.left(stage.rawValue, 11) + Draw.pad(total[stage], 7) + " "
            line += Draw.left(Draw.bar(total[stage], of: total.requested, width: 26), 26) + Draw.pad(percent(total[stage], of: total.requested), 5) + " "
            for name in names {
                let counts = regions[name]!
                line += Draw.pad("\(counts[stage]) \(Draw.pad(percent(counts[stage], of: counts.requested), 4))", 12)
            }
            lines.append(line)
        }
        lines.append("")
        lines.append(Draw.left("clinic", 12) + Draw.left("name", 12) + Draw.left("region", 8) + Draw.pad("appts", 6) + Draw.pad("completed", 11))
        let busiest = funnels.values.sorted { $0.appointments != $1.appointments ? $0.appointments > $1.appointments : $0.clinicId < $1.clinicId }
        for funnel in busiest.prefix(10) {
            lines.append(
                Draw.left(funnel.clinicId, 12) + Draw.left(funnel.clinicName, 12) + Draw.left(funnel.region, 8)
                    + Draw.pad(funnel.appointments, 6) + Draw.pad(percent(funnel.stages.completed, of: funnel.appointments), 11))
        }
        return lines
    }

    func close() { reader.close() }
}
