import Rill
import RillTestDriver

/// The timeline of Kafka Streams' documented join tables (DSL API, "Semantics of … joins"): one key,
/// records on the left and right topics in timestamp order, `nil` being a null value.
enum DocumentedJoinTimeline {
    static let rows: [(time: Int64, left: Bool, value: String?)] = [
        (1, true, nil), (2, false, nil), (3, true, "A"), (4, false, "a"), (5, true, "B"), (6, false, "b"),
        (7, true, nil), (8, false, nil), (9, true, "C"), (10, false, "c"), (11, false, nil), (12, true, nil),
        (13, false, nil), (14, false, "d"), (15, true, "D"),
    ]

    /// Pipes `rows` into the topics "left" and "right", timestamps multiplied by `scale`.
    static func pipe(_ rows: [(time: Int64, left: Bool, value: String?)] = rows, into driver: TopologyTestDriver, scale: Int64 = 1) throws {
        var left = try driver.createInputTopic("left", keySerde: .string, valueSerde: Serde<String>.string.optional)
        var right = try driver.createInputTopic("right", keySerde: .string, valueSerde: Serde<String>.string.optional)
        for row in rows {
            if row.left {
                try left.pipeInput(key: "k", value: row.value, timestamp: row.time * scale)
            } else {
                try right.pipeInput(key: "k", value: row.value, timestamp: row.time * scale)
            }
        }
    }
}
