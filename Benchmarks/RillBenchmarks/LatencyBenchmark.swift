import Dispatch
import Foundation
import Logging
import Rill
import RillKafka

/// End-to-end latency at a fixed input rate: a producer sends 10,000 records/s, each carrying its
/// send time; a Rill passthrough (mapValues) forwards them; a consumer reads the output and takes
/// the difference. p50 and p99 over the run after a one-second warm-up, under at-least-once and
/// exactly-once. All in this process, so one monotonic clock serves both ends.
enum LatencyBenchmark {
    static func run(seconds: Int, report: inout Report) throws {
        for guarantee in [ProcessingGuarantee.atLeastOnce, .exactlyOnceV2] {
            let (p50, p99) = try measure(guarantee: guarantee, seconds: seconds, rate: 10_000)
            report.addLatency(
                scenario: "latency at 10,000 rec/s, \(guarantee.rawValue)", p50Ms: p50, p99Ms: p99,
                goalMs: guarantee == .atLeastOnce ? 20 : nil,
                notes: guarantee == .atLeastOnce
                    ? "produce → Rill passthrough → consume, embedded broker, linger.ms 5, fetch.wait.max.ms 5"
                    : "the embedded broker shows uncommitted records to read_committed consumers, so this misses the wait for the 100 ms commits")
        }
    }

    static func measure(guarantee: ProcessingGuarantee, seconds: Int, rate: Int) throws -> (p50: Double, p99: Double) {
        let broker = try EmbeddedKafka(brokers: 1)
        let servers = broker.bootstrapServers
        try broker.createTopic("lat-in", partitions: 4)
        try broker.createTopic("lat-out", partitions: 4)
        let builder = StreamsBuilder()
        builder.stream("lat-in", Consumed(.bytes, .bytes)).mapValues { $0 }.to("lat-out", Produced(.bytes, .bytes))
        var config = StreamsConfig(applicationID: "latency-\(guarantee.rawValue)", bootstrapServers: servers)
        config.processingGuarantee = guarantee
        config.stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-latency-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: config.stateDir) }
        config["consumer.session.timeout.ms"] = "6000"
        // The embedded broker answers a fetch that finds nothing only when fetch.wait.max.ms is up
        // (new data does not wake it), so the default 500 ms would be the latency measured.
        config["consumer.fetch.wait.max.ms"] = "5"
        let streams = try KafkaStreams(try builder.build(), config: config, logger: Logger(label: "bench"))
        try streams.start()
        defer { streams.close() }
        while streams.state != .running { Thread.sleep(forTimeInterval: 0.01) }

        let consumer = try KafkaConsumer(config: KafkaClientConfig([
            "bootstrap.servers": servers, "group.id": "latency-reader", "isolation.level": "read_committed",
            "fetch.wait.max.ms": "1",
        ]))
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<4).map { (TopicPartition(topic: "lat-out", partition: $0), Int64(-2)) }))
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers, "linger.ms": "5"]))
        let total = seconds * rate
        let start = DispatchTime.now().uptimeNanoseconds
        let sender = Thread {
            for index in 0..<total {
                let due = start + UInt64(index) * 1_000_000_000 / UInt64(rate)
                while DispatchTime.now().uptimeNanoseconds < due { usleep(50) }
                var sent = DispatchTime.now().uptimeNanoseconds
                let value = withUnsafeBytes(of: &sent) { Array($0) }
                try? producer.send(
                    topic: "lat-in", partition: nil, key: Array("k\(index % 100)".utf8), value: value, timestamp: nil,
                    headers: Headers())
                if index % 100 == 0 { producer.poll(timeoutMs: 0) }
            }
            try? producer.flush(timeoutMs: 30_000)
        }
        sender.start()
        var latencies: [Double] = []
        latencies.reserveCapacity(total)
        var received = 0
        let deadline = Date().addingTimeInterval(Double(seconds) + 60)
        while received < total && Date() < deadline {
            for record in try consumer.poll(max: 1_000, timeoutMs: 10) {
                let now = DispatchTime.now().uptimeNanoseconds
                received += 1
                guard let value = record.value, value.count == 8 else { continue }
                let sent = value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                if sent > start + 1_000_000_000 { latencies.append(Double(now - sent) / 1e6) }
            }
        }
        precondition(received == total, "received \(received) of \(total) records")
        latencies.sort()
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        return (percentile(0.50), percentile(0.99))
    }
}
