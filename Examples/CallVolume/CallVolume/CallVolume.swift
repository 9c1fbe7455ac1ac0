import Foundation
import Rill

/// A call event on `calls`, keyed by clinic id. Event time is `ts` (epoch ms).
public struct Call: Codable, Sendable, Equatable {
    public enum Direction: String, Codable, Sendable { case inbound, outbound }
    public enum Status: String, Codable, Sendable { case started, answered, missed, ended }

    public var callId: String
    public var clinicId: String
    public var direction: Direction
    public var status: Status
    public var ts: Int64

    public init(callId: String, clinicId: String, direction: Direction, status: Status, ts: Int64) {
        self.callId = callId
        self.clinicId = clinicId
        self.direction = direction
        self.status = status
        self.ts = ts
    }
}

/// The number of inbound calls a clinic started in one minute, on `call-volume` (every update)
/// and `call-volume-final` (once, when the window has closed).
public struct CallVolume: Codable, Sendable, Equatable {
    public var clinicId: String
    public var windowStart: Int64
    public var windowEnd: Int64
    public var calls: Int64

    public init(clinicId: String, windowStart: Int64, windowEnd: Int64, calls: Int64) {
        self.clinicId = clinicId
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.calls = calls
    }
}

/// The live call volume counter: inbound calls started per clinic per minute.
///
/// ```
/// calls ─ filter(inbound, started) ─ count per clinic per 1-minute window (grace 30 s, store call-counts)
///                                      ├─ every update ─────────────────────▶ call-volume
///                                      └─ suppress until the window closes ─▶ call-volume-final
/// ```
/// Records that are not a `Call` in JSON go to `calls-dlq` unchanged (see ``configure(_:)``).
public enum CallVolumeApp {
    public static let inputTopic = "calls"
    public static let volumeTopic = "call-volume"
    public static let finalTopic = "call-volume-final"
    public static let deadLetterTopic = "calls-dlq"
    public static let storeName = "call-counts"
    public static let windowSize: Duration = .seconds(60)
    public static let grace: Duration = .seconds(30)

    public static func topology() throws -> Topology {
        let builder = StreamsBuilder()
        let counts = builder.stream(
            inputTopic,
            Consumed(.string, .json(Call.self), timestampExtractor: { _, call, _ in call.ts }, named: "calls-source")
        )
        .filter(named: "inbound-started") { _, call in call.direction == .inbound && call.status == .started }
        .groupByKey(Grouped(keySerde: .string, valueSerde: .json(Call.self)))
        .windowedBy(try TimeWindows.ofSizeAndGrace(windowSize, grace: grace))
        .count(named: "count-per-minute", materialized: Materialized.as(storeName).withSerdes(.string, .int64))

        counts.toStream(named: "volume-updates").writeVolumes(to: volumeTopic, named: "call-volume-sink")
        counts.suppress(.untilWindowCloses(.unbounded).withName("until-window-closes"))
            .toStream(named: "final-volumes").writeVolumes(to: finalTopic, named: "call-volume-final-sink")
        return try builder.build()
    }

    /// Sends records that can't be read to `calls-dlq`, with the `rill.*` headers,
    /// and commits every second (at least once), so the live outputs stay fresh.
    public static func configure(_ config: inout StreamsConfig) {
        config.deserializationExceptionHandler = .deadLetter(topic: deadLetterTopic)
        if config.processingGuarantee == .atLeastOnce { config.commitIntervalMs = 1_000 }
    }
}

extension KStream where K == Windowed<String>, V == Int64? {
    /// Writes each window's count as a ``CallVolume`` keyed by clinic id.
    fileprivate func writeVolumes(to topic: String, named: String) {
        flatMap(named: Named("\(named)-format")) { window, count -> [KeyValue<String, CallVolume>] in
            guard let count else { return [] }
            return [KeyValue(window.key, CallVolume(
                clinicId: window.key, windowStart: window.window.start, windowEnd: window.window.end, calls: count))]
        }
        .to(topic, Produced(.string, .json(CallVolume.self), named: named))
    }
}
