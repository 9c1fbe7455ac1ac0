import CallVolume
import ExampleSupport
import Foundation
import RillKafka
import Synchronization

/// The live view, from the app's outputs: each clinic's latest count per minute (`call-volume`),
/// finals (`call-volume-final`) and dead letters (`calls-dlq`). The terminal shows this minute and
/// the last per clinic, the busiest clinics and a sparkline; the web page a chart of recent minutes.
final class CallVolumeView: LiveView {
    private let reader: TopicReader
    private struct State {
        /// The latest count per clinic and window start.
        var counts: [String: [Int64: Int64]] = [:]
        var finals = 0
        var deadLetters = 0
    }
    private let state = Mutex(State())
    private let decoder = JSONDecoder()
    static let minute: Int64 = 60_000

    init(bootstrapServers: String) throws {
        reader = try TopicReader(
            bootstrapServers: bootstrapServers,
            topics: [CallVolumeApp.volumeTopic, CallVolumeApp.finalTopic, CallVolumeApp.deadLetterTopic])
    }

    func poll() throws -> Int {
        let records = try reader.poll(timeoutMs: 100)
        let volumes = records.compactMap { record -> CallVolume? in
            guard record.topic == CallVolumeApp.volumeTopic, let bytes = record.value else { return nil }
            return try? decoder.decode(CallVolume.self, from: Data(bytes))
        }
        state.withLock { state in
            for record in records {
                if record.topic == CallVolumeApp.deadLetterTopic { state.deadLetters += 1 }
                if record.topic == CallVolumeApp.finalTopic { state.finals += 1 }
            }
            for volume in volumes { state.counts[volume.clinicId, default: [:]][volume.windowStart] = volume.calls }
            // Keep an hour of minutes behind the latest.
            if let latest = state.counts.values.flatMap(\.keys).max(), volumes.count > 0 {
                let oldest = latest - 60 * Self.minute
                for clinic in state.counts.keys { state.counts[clinic] = state.counts[clinic]?.filter { $0.key >= oldest } }
            }
        }
        return records.count
    }

    func render(streams: KafkaStreams, elapsed: TimeInterval) -> [String] {
        let (counts, finals, deadLetters) = state.withLock { ($0.counts, $0.finals, $0.deadLetters) }
        let current = counts.values.flatMap(\.keys).max() ?? 0
        let previous = current - Self.minute
        let metrics = streams.metrics
        var lines = [
            "Rill · call volume   inbound calls started per clinic per minute   [\(streams.state.rawValue), \(Int(elapsed)) s]",
            "processed \(metrics.processed)   finals emitted \(finals)   late records dropped \(metrics.dropped)   dead letters \(deadLetters)",
            "",
        ]
        var recent: [Int64] = []
        for back in (0..<24).reversed() {
            let start = current - Int64(back) * Self.minute
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

    /// The web page's data: the last 15 minutes (window starts, from the first one seen) with every
    /// clinic's counts in them, oldest first, and the counters.
    struct Snapshot: Encodable, Sendable {
        struct Clinic: Encodable, Sendable {
            let clinicId: String
            let calls: [Int64]
        }
        let minutes: [Int64]
        let clinics: [Clinic]
        let finals: Int
        let deadLetters: Int
    }

    func snapshot() -> any Encodable & Sendable {
        state.withLock { state in
            let starts = state.counts.values.flatMap(\.keys)
            var minutes: [Int64] = []
            if let first = starts.min(), let current = starts.max() {
                minutes = Array(stride(from: max(first, current - 14 * Self.minute), through: current, by: Int(Self.minute)))
            }
            let clinics = state.counts.keys.sorted().map { clinic in
                Snapshot.Clinic(clinicId: clinic, calls: minutes.map { state.counts[clinic]?[$0] ?? 0 })
            }
            return Snapshot(minutes: minutes, clinics: clinics, finals: state.finals, deadLetters: state.deadLetters)
        }
    }

    func close() { reader.close() }
}
