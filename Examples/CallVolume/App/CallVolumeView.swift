import CallVolume
import ExampleSupport
import Foundation
import RillKafka

/// The demo's live view: this minute and the last per clinic, the busiest clinics, a sparkline of
/// recent minutes, and counts of finals, late records dropped and dead letters.
final class CallVolumeView: DemoView {
    private let reader: TopicReader
    /// The latest count per clinic and window start.
    private var counts: [String: [Int64: Int64]] = [:]
    private var finals = 0
    private var deadLetters = 0
    private let decoder = JSONDecoder()

    init(bootstrapServers: String, partitions: Int32) throws {
        reader = try TopicReader(
            bootstrapServers: bootstrapServers,
            topics: [CallVolumeApp.volumeTopic, CallVolumeApp.finalTopic, CallVolumeApp.deadLetterTopic], partitions: partitions)
    }

    func poll() throws {
        for record in try reader.poll(timeoutMs: 100) {
            switch record.topic {
            case CallVolumeApp.deadLetterTopic:
                deadLetters += 1
            case CallVolumeApp.finalTopic:
                finals += 1
            default:
                guard let bytes = record.value, let volume = try? decoder.decode(CallVolume.self, from: Data(bytes)) else { continue }
                counts[volume.clinicId, default: [:]][volume.windowStart] = volume.calls
            }
        }
    }

    func render(streams: KafkaStreams, elapsed: TimeInterval) -> [String] {
        let minute: Int64 = 60_000
        let current = counts.values.flatMap(\.keys).max() ?? 0
        let previous = current - minute
        let metrics = streams.metrics
        var lines = [
            "Rill · call volume   inbound calls started per clinic per minute   [\(streams.state.rawValue), \(Int(elapsed)) s]",
            "processed \(metrics.processed)   finals emitted \(finals)   late records dropped \(metrics.dropped)   dead letters \(deadLetters)",
            "",
        ]
        var recent: [Int64] = []
        for back in (0..<24).reversed() {
            let start = current - Int64(back) * minute
            var total: Int64 = 0
            for windows in counts.values { total += windows[start] ?? 0 }
            recent.append(total)
        }
        lines.append("calls per minute, last 24 minutes  \(Draw.sparkline(recent))  \(recent.last ?? 0) now")
        lines.append("")
        lines.append("\(Draw.left("clinic", 11)) \(Draw.pad("this min", 8)) \(Draw.pad("last min", 8))")
        var busiest: [(clinic: String, now: Int64, before: Int64)] = []
        for (clinic, windows) in counts { busiest.append((clinic, windows[current] ?? 0, windows[previous] ?? 0)) }
        busiest.sort { $0.now != $1.now ? $0.now > $1.now : $0.clinic < $1.clinic }
        let top = busiest.first?.now ?? 0
        for row in busiest.prefix(15) {
            lines.append(
                "\(Draw.left(row.clinic, 11)) \(Draw.pad(row.now, 8)) \(Draw.pad(row.before, 8))  \(Draw.bar(row.now, of: top, width: 40))")
        }
        if busiest.count > 15 { lines.append("… and \(busiest.count - 15) more clinics") }
        return lines
    }

    func close() { reader.close() }
}
