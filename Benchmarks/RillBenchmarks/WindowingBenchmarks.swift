import Foundation
import Logging
import Rill
import RillKafka

/// Hopping and session counts and a stream–stream join on RocksDB through the embedded broker,
/// each against the stateless passthrough over the same input, in the same process run.
///
/// The input is the broker benchmark's: 10,000 keys in turn, one record per event-time millisecond,
/// so each key comes back every 10 s of event time.
enum WindowingBenchmarks {
    static func run(count: Int, report: inout Report) throws {
        let broker = try EmbeddedKafka(brokers: 1)
        let servers = broker.bootstrapServers
        for topic in ["bench-in", "bench-in-right", "bench-out-pass-h", "bench-out-hopping", "bench-out-session", "bench-out-join"] {
            try broker.createTopic(topic, partitions: BrokerBenchmarks.partitions)
        }
        try BrokerBenchmarks.load(servers, count: count)
        let passthrough = try BrokerBenchmarks.rill(servers, count: count, output: "bench-out-pass-h", chain: false)
        let passthroughUse = ResourceMeter.last

        // 1-minute windows every 10 s: every record updates 6 windows.
        let hopping = try rate(servers, count: count, app: "bench-hopping") { builder in
            builder.stream("bench-in", Consumed(.bytes, .bytes))
                .groupByKey()
                .windowedBy(try TimeWindows.ofSizeWithNoGrace(.seconds(60)).advanceBy(.seconds(10)))
                .count(materialized: .as("bench-hopping-counts"))
                .toStream()
                .to("bench-out-hopping", Produced(.timeWindowed(.bytes, windowSize: 60_000), Serde<Int64>.int64.optional))
        }
        report.add(
            scenario: "hopping count, RocksDB (\(count) records, 10k keys)", rate: hopping, baseline: "Rill passthrough",
            baselineRate: passthrough, goal: nil, notes: "1-minute windows advancing by 10 s (6 per record)",
            resources: ResourceMeter.last, baselineResources: passthroughUse)

        // A 30 s inactivity gap against a key every 10 s: each record merges into its key's session
        // (fetch the session, remove it, put the longer one).
        let session = try rate(servers, count: count, app: "bench-session") { builder in
            builder.stream("bench-in", Consumed(.bytes, .bytes))
                .groupByKey()
                .windowedBy(try SessionWindows.ofInactivityGapWithNoGrace(.seconds(30)))
                .count(materialized: .as("bench-session-counts"))
                .toStream()
                .to("bench-out-session", Produced(.sessionWindowed(.bytes), Serde<Int64>.int64.optional))
        }
        report.add(
            scenario: "session count, RocksDB (\(count) records, 10k keys)", rate: session, baseline: "Rill passthrough",
            baselineRate: passthrough, goal: nil, notes: "30 s gap; every record merges into its key's session",
            resources: ResourceMeter.last, baselineResources: passthroughUse)

        // Two streams of the same schedule joined within 1 s: each record meets exactly one of the other side.
        try BrokerBenchmarks.load(servers, count: count, topic: "bench-in-right")
        let join = try rate(servers, count: 2 * count, app: "bench-stream-join") { builder in
            let right = builder.stream("bench-in-right", Consumed(.bytes, .bytes))
            builder.stream("bench-in", Consumed(.bytes, .bytes))
                .join(right, windows: try JoinWindows.ofTimeDifferenceWithNoGrace(.seconds(1))) { left, right in left + right }
                .to("bench-out-join", Produced(.bytes, .bytes))
        }
        let joinUse = ResourceMeter.last
        let joined = try BrokerBenchmarks.records(on: "bench-out-join", servers: servers)
        precondition(joined == Int64(count), "the join output \(joined) records, expected \(count)")
        report.add(
            scenario: "stream–stream join, RocksDB (2 x \(count) records)", rate: join, baseline: "Rill passthrough",
            baselineRate: passthrough, goal: nil, notes: "1 s join window; records/s of both inputs",
            resources: joinUse, baselineResources: passthroughUse)
        withExtendedLifetime(broker) {}
    }

    /// Records per second of the topology `build` makes, on a state directory of its own.
    static func rate(_ servers: String, count: Int, app: String, build: (StreamsBuilder) throws -> Void) throws -> Double {
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let builder = StreamsBuilder()
        try build(builder)
        var config = StreamsConfig(applicationID: app, bootstrapServers: servers)
        config.stateDir = stateDir
        config["consumer.session.timeout.ms"] = "6000"
        let rate = try StateBenchmarks.measure(try KafkaStreams(try builder.build(), config: config, logger: Logger(label: "bench")), count: count)
        print(String(format: "  %@: %.0f rec/s", app, rate))
        return rate
    }
}
