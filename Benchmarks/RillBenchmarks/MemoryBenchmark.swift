import Foundation
import Logging
import Rill
import RillKafka

/// Peak resident memory of a windowed count over millions of distinct keys on RocksDB. The count
/// runs in a child process (this benchmark, with `--rss-child`) against the embedded broker of
/// this one, so the broker's copy of the input is not counted.
enum MemoryBenchmark {
    static let partitions: Int32 = 48

    static func run(count: Int, report: inout Report) throws {
        let broker = try EmbeddedKafka(brokers: 1)
        try broker.createTopic("rss-in", partitions: partitions)
        try broker.createTopic("rss-out", partitions: partitions)
        // The child is another process: its internal topics are made here, with the right partition count.
        try broker.createTopic("bench-rss-rss-counts-changelog", partitions: partitions)
        let producer = try KafkaProducer(config: KafkaClientConfig([
            "bootstrap.servers": broker.bootstrapServers, "linger.ms": "50", "batch.num.messages": "10000",
        ]))
        for n in 0..<count {
            try producer.send(
                topic: "rss-in", partition: Int32(n % Int(partitions)), key: Array("k-\(n)".utf8), value: [1],
                timestamp: Int64(n), headers: Headers())
        }
        try producer.flush(timeoutMs: 300_000)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["--rss-child", broker.bootstrapServers, String(count)]
        let output = Pipe()
        child.standardOutput = output
        let start = DispatchTime.now()
        try child.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        guard child.terminationStatus == 0, let line = text.split(separator: "\n").first(where: { $0.hasPrefix("peak_rss_kb=") }),
            let peakKB = Double(line.dropFirst("peak_rss_kb=".count))
        else {
            print("memory benchmark failed: exit \(child.terminationStatus), output: \(text)")
            return
        }
        let peakMiB = peakKB / 1024
        report.addMemory(
            scenario: "peak RSS, windowed count over \(count) distinct keys", mebibytes: peakMiB, goal: 512,
            notes: String(format: "RocksDB, %d partitions, 1-minute windows, %.0f s including start", partitions, seconds))
        withExtendedLifetime(broker) {}
    }

    /// The child: counts until every record is processed, then prints its peak RSS.
    static func child(servers: String, count: Int) throws {
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-rss-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        var config = StreamsConfig(applicationID: "bench-rss", bootstrapServers: servers)
        config.stateDir = stateDir
        let streams = try KafkaStreams(try StateBenchmarks.windowedCount(input: "rss-in", store: "rss-counts", output: "rss-out"), config: config, logger: Logger(label: "bench"))
        try streams.start()
        while streams.metrics.processed < Int64(count) {
            precondition(streams.state != .error, "the topology failed: \(String(describing: streams.failure))")
            Thread.sleep(forTimeInterval: 0.01)
        }
        streams.close()
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let peak = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?
            .split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0"
        print("peak_rss_kb=\(peak)")
    }
}
