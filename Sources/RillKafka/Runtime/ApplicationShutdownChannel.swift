import Foundation
import Logging
import Rill
import Synchronization

/// How the instances of one application tell each other to shut down (the uncaught-exception
/// handler's `shutdownApplication`). Kafka Streams sends the request in the consumer group's
/// assignment, which librdkafka's C API can't reach; Rill uses a topic of its own instead,
/// `<application.id>-rill-shutdown`. Each instance follows partition 0 from where it stood when the
/// instance started, so a request stops the instances running then, not those started later.
final class ApplicationShutdownChannel: @unchecked Sendable {
    static func topic(applicationID: String) -> String { "\(applicationID)-rill-shutdown" }

    private let topic: String
    private let consumer: KafkaConsumer
    private let producerConfig: KafkaClientConfig
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    init(applicationID: String, consumerConfig: KafkaClientConfig, producerConfig: KafkaClientConfig, logger: Logger) throws {
        topic = Self.topic(applicationID: applicationID)
        var consumerConfig = consumerConfig
        consumerConfig["client.id"] = "\(applicationID)-shutdown-listener"
        consumer = try KafkaConsumer(config: consumerConfig, logger: logger)
        self.producerConfig = producerConfig
        self.logger = logger
    }

    /// Starts following the topic from its end; `onRequest` gets the reason of the first request seen.
    func start(timeoutMs: Int32, onRequest: @escaping @Sendable (String) -> Void) throws {
        let partition = TopicPartition(topic: topic, partition: 0)
        let (_, end) = try consumer.watermarks(partition, timeoutMs: timeoutMs)
        try consumer.assign([partition: end])
        started.store(true, ordering: .relaxed)
        Thread { [self] in
            defer { finished.signal() }
            while !stopRequested.load(ordering: .relaxed) {
                guard let records = try? consumer.poll(max: 10, timeoutMs: 200), let request = records.first else { continue }
                onRequest(request.value.map { String(decoding: $0, as: UTF8.self) } ?? "no reason given")
                return
            }
        }.start()
    }

    /// Asks every instance to shut down, naming `reason`.
    func requestShutdown(reason: String) throws {
        let producer = try KafkaProducer(config: producerConfig, logger: logger)
        try producer.send(
            topic: topic, partition: 0, key: nil, value: Array(reason.utf8),
            timestamp: Int64(Date().timeIntervalSince1970 * 1000), headers: Headers())
        try producer.flush(timeoutMs: 10_000)
    }

    func stop() {
        stopRequested.store(true, ordering: .relaxed)
        if started.load(ordering: .relaxed) { _ = finished.wait(timeout: .now() + 5) }
        consumer.close()
    }
}
