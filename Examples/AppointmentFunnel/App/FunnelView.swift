import AppointmentFunnel
import ExampleSupport
import Foundation
import RillKafka
import Synchronization

/// The live view, from the app's outputs: each clinic's current funnel (the last value of its key
/// on `appointment-funnel`) and the dead letters. The terminal shows, per region, a bar per stage
/// with its conversion from `requested`, and the clinics with the most appointments; the web page
/// a funnel chart.
final class FunnelView: LiveView {
    private let reader: TopicReader
    private struct State {
        /// The current funnel of each clinic.
        var funnels: [String: Funnel] = [:]
        var deadLetters = 0
    }
    private let state = Mutex(State())
    private let decoder = JSONDecoder()

    init(bootstrapServers: String) throws {
        reader = try TopicReader(
            bootstrapServers: bootstrapServers, topics: [AppointmentFunnelApp.funnelTopic, AppointmentFunnelApp.deadLetterTopic])
    }

    func poll() throws -> Int {
        let records = try reader.poll(timeoutMs: 100)
        let decoded = records.map { record -> (String, Funnel?)? in
            guard record.topic == AppointmentFunnelApp.funnelTopic, let key = record.key else { return nil }
            return (String(decoding: key, as: UTF8.self), record.value.flatMap { try? decoder.decode(Funnel.self, from: Data($0)) })
        }
        state.withLock { state in
            for (record, funnel) in zip(records, decoded) {
                if record.topic == AppointmentFunnelApp.deadLetterTopic { state.deadLetters += 1 }
                if let (clinic, funnel) = funnel { state.funnels[clinic] = funnel }
            }
        }
        return records.count
    }

    /// The web page's data: the funnel of all clinics and of each region, every clinic's, and
    /// the dead letters.
    struct Snapshot: Encodable, Sendable {
        struct Region: Encodable, Sendable {
            let region: String
            let appointments: Int64
            let stages: StageCounts
        }
        let total: Region
        let regions: [Region]
        let clinics: [Funnel]
        let deadLetters: Int
    }

    func snapshot() -> any Encodable & Sendable {
        state.withLock { state in
            var regions: [String: (appointments: Int64, stages: StageCounts)] = [:]
            var total = (appointments: Int64(0), stages: StageCounts())
            for funnel in state.funnels.values {
                regions[funnel.region, default: (0, StageCounts())].appointments += funnel.appointments
                total.appointments += funnel.appointments
                for stage in Stage.allCases {
                    regions[funnel.region]?.stages[stage] += funnel.stages[stage]
                    total.stages[stage] += funnel.stages[stage]
                }
            }
            return Snapshot(
                total: Snapshot.Region(region: "all", appointments: total.appointments, stages: total.stages),
                regions: regions.keys.sorted().map { Snapshot.Region(region: $0, appointments: regions[$0]!.appointments, stages: regions[$0]!.stages) },
                clinics: state.funnels.values.sorted { $0.clinicId < $1.clinicId }, deadLetters: state.deadLetters)
        }
    }

    func render(streams: KafkaStreams, elapsed: TimeInterval) -> [String] {
        let (funnels, deadLetters) = state.withLock { ($0.funnels, $0.deadLetters) }
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
