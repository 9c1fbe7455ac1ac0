import Foundation
import Rill

/// A call event, as the call-volume app reads it from `calls`.
struct Call: Codable, Sendable, Equatable {
    enum Direction: String, Codable, Sendable { case inbound, outbound }
    enum Status: String, Codable, Sendable { case started, answered, missed, ended }

    var callId: String
    var clinicId: String
    var direction: Direction
    var status: Status
    var ts: Int64
}

/// The demo's topology: keep inbound calls that started, with event time from `ts`, and write them
/// to `inbound-calls`; malformed records go to `calls-dlq` through the dead-letter handler.
func demoTopology() throws -> Topology {
    let builder = StreamsBuilder()
    builder.stream(
        "calls",
        Consumed(.string, .json(Call.self), timestampExtractor: { _, call, _ in call.ts }, named: "calls-source")
    )
    .filter(named: "inbound-started") { _, call in call.direction == .inbound && call.status == .started }
    .to("inbound-calls", Produced(.string, .json(Call.self), named: "inbound-calls-sink"))
    return try builder.build()
}
