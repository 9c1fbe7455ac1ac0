import Foundation
import Rill

/// A clinic on the `clinics` table topic, keyed by clinic id; a tombstone deletes it.
public struct Clinic: Codable, Sendable, Equatable {
    public var clinicId: String
    public var name: String
    public var region: String

    public init(clinicId: String, name: String, region: String) {
        self.clinicId = clinicId
        self.name = name
        self.region = region
    }
}

/// The stages an appointment goes through, in funnel order.
public enum Stage: String, Codable, Sendable, CaseIterable, Comparable {
    case requested, scheduled, confirmed
    case checkedIn = "checked_in"
    case completed, cancelled
    case noShow = "no_show"

    public static func < (a: Stage, b: Stage) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// An appointment event on `appointments`, keyed by appointment id. Event time is `ts` (epoch ms).
public struct Appointment: Codable, Sendable, Equatable {
    public var appointmentId: String
    public var patientId: String
    public var clinicId: String
    public var stage: Stage
    public var ts: Int64

    public init(appointmentId: String, patientId: String, clinicId: String, stage: Stage, ts: Int64) {
        self.appointmentId = appointmentId
        self.patientId = patientId
        self.clinicId = clinicId
        self.stage = stage
        self.ts = ts
    }
}

/// What is known of one appointment: its clinic (as the clinics table had it at its latest event)
/// and every stage it has reached.
public struct AppointmentState: Codable, Sendable, Equatable {
    public var appointmentId: String
    public var clinicId: String
    public var clinicName: String
    public var region: String
    public var stages: [Stage]
}

/// Per stage, the number of a clinic's appointments that have reached it.
public struct StageCounts: Codable, Sendable, Equatable {
    public var requested: Int64 = 0
    public var scheduled: Int64 = 0
    public var confirmed: Int64 = 0
    public var checkedIn: Int64 = 0
    public var completed: Int64 = 0
    public var cancelled: Int64 = 0
    public var noShow: Int64 = 0

    enum CodingKeys: String, CodingKey {
        case requested, scheduled, confirmed
        case checkedIn = "checked_in"
        case completed, cancelled
        case noShow = "no_show"
    }

    public init() {}

    public subscript(stage: Stage) -> Int64 {
        get {
            switch stage {
            case .requested: requested
            case .scheduled: scheduled
            case .confirmed: confirmed
            case .checkedIn: checkedIn
            case .completed: completed
            case .cancelled: cancelled
            case .noShow: noShow
            }
        }
        set {
            switch stage {
            case .requested: requested = newValue
            case .scheduled: scheduled = newValue
            case .confirmed: confirmed = newValue
            case .checkedIn: checkedIn = newValue
            case .completed: completed = newValue
            case .cancelled: cancelled = newValue
            case .noShow: noShow = newValue
            }
        }
    }
}

/// A clinic's funnel on `appointment-funnel`: its appointments, and how many reached each stage.
public struct Funnel: Codable, Sendable, Equatable {
    public var clinicId: String
    public var clinicName: String
    public var region: String
    public var appointments: Int64
    public var stages: StageCounts

    public init(clinicId: String, clinicName: String, region: String, appointments: Int64, stages: StageCounts) {
        self.clinicId = clinicId
        self.clinicName = clinicName
        self.region = region
        self.appointments = appointments
        self.stages = stages
    }
}

/// The appointment funnel: per clinic, how many appointments reached each stage.
///
/// ```
/// appointments ─ re-key by clinic ─ left join clinics ─ re-key by appointment ─ stages reached per appointment
///     ─ regroup by clinic (add the new state, subtract the old) ─ funnel per clinic ─▶ appointment-funnel
/// ```
/// An appointment that moves on is counted once per stage, never twice: its old state leaves the
/// funnel as its new one enters. Unknown clinics are named `"unknown"`. Records that can't be read
/// go to `appointments-dlq` unchanged (see ``configure(_:)``).
public enum AppointmentFunnelApp {
    public static let clinicsTopic = "clinics"
    public static let appointmentsTopic = "appointments"
    public static let funnelTopic = "appointment-funnel"
    public static let deadLetterTopic = "appointments-dlq"
    public static let unknown = "unknown"

    public static func topology() throws -> Topology {
        let builder = StreamsBuilder()
        let clinics = builder.table(clinicsTopic, Consumed(.string, .json(Clinic.self)), materialized: .as("clinics-store"))
        builder.stream(
            appointmentsTopic,
            Consumed(.string, .json(Appointment.self), timestampExtractor: { _, event, _ in event.ts }, named: "appointments-source")
        )
        .selectKey(named: "by-clinic") { _, event in event.clinicId }
        .leftJoin(
            clinics,
            joiner: { event, clinic in
                AppointmentState(
                    appointmentId: event.appointmentId, clinicId: event.clinicId, clinicName: clinic?.name ?? unknown,
                    region: clinic?.region ?? unknown, stages: [event.stage])
            },
            Joined(keySerde: .string, valueSerde: .json(Appointment.self), name: "with-clinic"))
        .selectKey(named: "by-appointment") { _, event in event.appointmentId }
        .groupByKey(Grouped(named: "appointment-events", keySerde: .string, valueSerde: .json(AppointmentState.self)))
        .reduce(
            named: "stages-reached",
            materialized: Materialized.as("appointment-states").withSerdes(.string, .json(AppointmentState.self))
        ) { state, event in
            // The latest event names the clinic; the stages accumulate.
            var next = event
            next.stages = Array(Set(state.stages + event.stages)).sorted()
            return next
        }
        .groupBy(
            { _, state in KeyValue(state.clinicId, state) },
            Grouped(named: "appointments-by-clinic", keySerde: .string, valueSerde: .json(AppointmentState.self)))
        .aggregate(
            named: "funnel",
            materialized: Materialized.as("funnels").withSerdes(.string, .json(Funnel.self)),
            initializer: { Funnel(clinicId: "", clinicName: unknown, region: unknown, appointments: 0, stages: StageCounts()) },
            adder: { clinicId, state, funnel in funnel.counting(state, clinicId: clinicId, by: 1) },
            subtractor: { clinicId, state, funnel in funnel.counting(state, clinicId: clinicId, by: -1) })
        .toStream(named: "funnel-updates")
        .to(funnelTopic, Produced(.string, Serde<Funnel>.json().optional, named: "appointment-funnel-sink"))
        return try builder.build()
    }

    /// Sends records that can't be read to `appointments-dlq`, with the `rill.*` headers,
    /// and commits every second (at least once), so the live outputs stay fresh.
    public static func configure(_ config: inout StreamsConfig) {
        config.deserializationExceptionHandler = .deadLetter(topic: deadLetterTopic)
        if config.processingGuarantee == .atLeastOnce { config.commitIntervalMs = 1_000 }
    }
}

extension Funnel {
    /// This funnel with `state` added (`delta` 1) or removed (-1); an added state names the clinic.
    func counting(_ state: AppointmentState, clinicId: String, by delta: Int64) -> Funnel {
        var next = self
        next.clinicId = clinicId
        if delta > 0 {
            next.clinicName = state.clinicName
            next.region = state.region
        }
        next.appointments += delta
        for stage in state.stages { next.stages[stage] += delta }
        return next
    }
}
