import ArgumentParser
import Foundation
import Logging
import Rill
import RillKafka
import Synchronization

/// `rill demo`: the embedded broker, a traffic generator, a topology running on it, and a live view.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a topology on the embedded broker with generated call traffic and a live view.")

    @Option(help: "Calls generated per second.")
    var rate: Int = 2_000

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var seconds: Int?

    @Option(help: "Stream threads.")
    var threads: Int = 1

    func validate() throws {
        guard rate >= 1 else { throw ValidationError("--rate must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let broker = try EmbeddedKafka(brokers: 1)
        for topic in ["calls", "inbound-calls", "calls-dlq"] { try broker.createTopic(topic, partitions: 8) }

        var config = StreamsConfig(applicationID: "rill-demo", bootstrapServers: broker.bootstrapServers)
        config.commitIntervalMs = 1_000
        config.numStreamThreads = threads
        config.deserializationExceptionHandler = .deadLetter(topic: "calls-dlq")
        let streams = try KafkaStreams(try demoTopology(), config: config)
        try streams.start()

        let generator = try TrafficGenerator(bootstrapServers: broker.bootstrapServers, rate: rate)
        generator.start()
        let view = try LiveView(bootstrapServers: broker.bootstrapServers, streams: streams, generator: generator)

        let stop = Atomic<Bool>(false)
        for sig in [SIGINT, SIGTERM] { signal(sig, SIG_IGN) }
        let signals = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.store(true, ordering: .relaxed) }
            source.resume()
            return source
        }
        let started = Date()
        while !stop.load(ordering: .relaxed) {
            try view.refresh(elapsed: Date().timeIntervalSince(started))
            if let seconds, Date().timeIntervalSince(started) >= Double(seconds) { break }
            if streams.state == .error { break }
        }
        generator.stop()
        streams.close()
        view.close()
        withExtendedLifetime((broker, signals)) {}
        if let failure = streams.failure {
            throw ValidationError("the topology stopped: \(failure)")
        }
    }
}

/// Produces realistic call events: clinics with different base rates that rise and fall, a few
/// malformed records among them.
final class TrafficGenerator: @unchecked Sendable {
    private let producer: KafkaProducer
    private let rate: Int
    private let running = Atomic<Bool>(false)
    let produced = Atomic<Int>(0)
    private let finished = DispatchSemaphore(value: 0)

    static let clinics = (1...12).map { String(format: "clinic-%02d", $0) }

    init(bootstrapServers: String, rate: Int) throws {
        producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": bootstrapServers, "linger.ms": "5"]))
        self.rate = rate
    }

    func start() {
        running.store(true, ordering: .relaxed)
        Thread { [self] in
            defer { finished.signal() }
            var sequence = 0
            let start = Date()
            let weights = Self.clinics.indices.map { 1.0 + Double($0 % 5) }
            while running.load(ordering: .relaxed) {
                let elapsed = Date().timeIntervalSince(start)
                let due = Int(elapsed * Double(rate))
                while sequence < due {
                    sequence += 1
                    // Each clinic's share swings on its own slow sine wave.
                    let shares = weights.enumerated().map { index, weight in
                        weight * (1.2 + sin(elapsed / 7 + Double(index)))
                    }
                    let clinic = Self.clinics[pick(shares, seed: sequence)]
                    let value: [UInt8]
                    if sequence % 997 == 0 {
                        value = Array("{\"callId\":\"c-\(sequence)\",\"clinicId\":".utf8)  // malformed JSON
                    } else {
                        let call = Call(
                            callId: "c-\(sequence)", clinicId: clinic,
                            direction: sequence % 3 == 0 ? .outbound : .inbound,
                            status: [.started, .started, .answered, .ended, .missed][sequence % 5],
                            ts: Int64(Date().timeIntervalSince1970 * 1000))
                        value = (try? Array(JSONEncoder().encode(call))) ?? []
                    }
                    try? producer.send(
                        topic: "calls", partition: nil, key: Array(clinic.utf8), value: value, timestamp: nil,
                        headers: Headers())
                    produced.add(1, ordering: .relaxed)
                }
                producer.poll(timeoutMs: 0)
                Thread.sleep(forTimeInterval: 0.005)
            }
            try? producer.flush(timeoutMs: 5_000)
        }.start()
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        finished.wait()
    }

    private func pick(_ shares: [Double], seed: Int) -> Int {
        let total = shares.reduce(0, +)
        var target = Double((seed &* 2_654_435_761) % 10_000) / 10_000 * total
        for (index, share) in shares.enumerated() {
            target -= share
            if target <= 0 { return index }
        }
        return shares.count - 1
    }
}

/// Reads the topology's output and draws counts per clinic, refreshing in place on a terminal.
final class LiveView {
    private let consumer: KafkaConsumer
    private let dlqConsumer: KafkaConsumer
    private let streams: KafkaStreams
    private let generator: TrafficGenerator
    private var perClinic: [String: Int] = [:]
    private var outputCount = 0
    private var deadLetters = 0
    private var lastDraw = Date.distantPast
    private let isTerminal = isatty(STDOUT_FILENO) != 0

    init(bootstrapServers: String, streams: KafkaStreams, generator: TrafficGenerator) throws {
        func reader(_ topic: String) throws -> KafkaConsumer {
            let consumer = try KafkaConsumer(
                config: KafkaClientConfig([
                    "bootstrap.servers": bootstrapServers, "group.id": "rill-demo-view-\(topic)",
                    "enable.auto.commit": "false",
                ]))
            try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<8).map {
                (TopicPartition(topic: topic, partition: $0), Int64(-2))
            }))
            return consumer
        }
        consumer = try reader("inbound-calls")
        dlqConsumer = try reader("calls-dlq")
        self.streams = streams
        self.generator = generator
    }

    func refresh(elapsed: TimeInterval) throws {
        for record in try consumer.poll(max: 10_000, timeoutMs: 100) {
            outputCount += 1
            if let key = record.key { perClinic[String(decoding: key, as: UTF8.self), default: 0] += 1 }
        }
        deadLetters += try dlqConsumer.poll(max: 10_000, timeoutMs: 0).count
        guard Date().timeIntervalSince(lastDraw) >= 1 else { return }
        lastDraw = Date()
        draw(elapsed: elapsed)
    }

    private func draw(elapsed: TimeInterval) {
        let metrics = streams.metrics
        var lines: [String] = []
        lines.append("Rill demo: calls -> filter(inbound, started) -> inbound-calls   [state: \(streams.state.rawValue)]")
        lines.append(String(format: "elapsed %5.0f s   generated %8d   processed %8d   inbound started %8d   dead letters %4d",
                            elapsed, generator.produced.load(ordering: .relaxed), Int(metrics.processed), outputCount,
                            deadLetters))
        lines.append("")
        let top = perClinic.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        let maxCount = max(top.first?.value ?? 1, 1)
        for (clinic, count) in top {
            let bar = String(repeating: "#", count: max(1, count * 50 / maxCount))
            lines.append("\(clinic) \(String(count).leftPadded(to: 8)) \(bar)")
        }
        lines.append("")
        lines.append(isTerminal ? "Ctrl-C to stop." : "")
        let text = lines.joined(separator: "\n") + "\n"
        FileHandle.standardOutput.write(Data(((isTerminal ? "\u{1B}[H\u{1B}[2J" : "") + text).utf8))
    }

    func close() {
        consumer.close()
        dlqConsumer.close()
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: " ", count: max(0, width - count)) + self
    }
}
