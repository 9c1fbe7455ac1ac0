import CRdKafka
import Logging
import Rill

/// Sends the output of a thread's tasks through its producer, and applies the production exception
/// handler to records the producer or the brokers refuse: at once when the send itself fails, and
/// from delivery reports at ``poll()`` and ``flush()`` (so before any commit).
final class ProducerCollector: RecordCollector {
    let producer: KafkaProducer
    private let handling: ErrorHandling
    private let logger: Logger
    private var partitionCounts: [String: Int32] = [:]
    /// The handles of the topics written lately: a thread writes a few (its sinks and changelogs,
    /// often in turn), and the producer's own lookup takes a lock and hashes the name. Only the
    /// collector's thread uses it, so it skips the runtime's exclusivity checks.
    @exclusivity(unchecked) private var recentTopics: [KafkaProducer.Topic] = []
    /// Records the handler dropped or sent to its dead-letter topic.
    private(set) var dropped: Int64 = 0
    private(set) var deadLettered: Int64 = 0

    init(producer: KafkaProducer, handling: ErrorHandling, logger: Logger) {
        self.producer = producer
        self.handling = handling
        self.logger = logger
    }

    func send(topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers) throws {
        do {
            let target = try resolve(topic)
            try producer.send(
                to: target, partition: partition, key: key, value: value, timestamp: timestamp, headers: headers)
        } catch let error as KafkaError {
            let record = RawRecord(
                topic: topic, partition: partition ?? -1, offset: -1, timestamp: timestamp, key: key, value: value,
                headers: headers)
            try handle([KafkaProducer.DeliveryFailure(record: record, error: error)])
        }
    }

    /// The handle of `topic`, from the recent topics when it is one.
    private func resolve(_ topic: String) throws -> KafkaProducer.Topic {
        for known in recentTopics where known.name == topic { return known }
        let made = try producer.topic(topic)
        if recentTopics.count == Self.recentTopicLimit { recentTopics.removeFirst() }
        recentTopics.append(made)
        return made
    }

    private static let recentTopicLimit = 8

    func partitionCount(topic: String) throws -> Int32 {
        if let known = partitionCounts[topic] { return known }
        guard let count = try producer.partitionCount(topic: topic, timeoutMs: 10_000) else {
            throw StreamsError.production(topic: topic, reason: "topic does not exist")
        }
        partitionCounts[topic] = count
        return count
    }

    /// Serves delivery reports and handles the records that failed.
    func poll() throws {
        producer.poll(timeoutMs: 0)
        try handle(producer.takeDeliveryFailures())
    }

    /// Waits until everything sent is delivered or handled (dead letters included).
    func flush(timeoutMs: Int32 = 60_000) throws {
        var failures = try producer.flushDeliveries(timeoutMs: timeoutMs)
        while !failures.isEmpty {
            try handle(failures)
            failures = try producer.flushDeliveries(timeoutMs: timeoutMs)
        }
    }

    /// Errors no handler may skip: the application can't write at all, as Kafka Streams treats them.
    static let fatalErrors: Set<Int32> = [
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED.rawValue, RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED.rawValue,
        RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED.rawValue, RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED.rawValue,
        RD_KAFKA_RESP_ERR__AUTHENTICATION.rawValue, RD_KAFKA_RESP_ERR__FATAL.rawValue, RD_KAFKA_RESP_ERR__FENCED.rawValue,
        RD_KAFKA_RESP_ERR_PRODUCER_FENCED.rawValue, RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH.rawValue,
    ]

    private func handle(_ failures: [KafkaProducer.DeliveryFailure]) throws {
        for failure in failures {
            let topic = failure.record.topic
            let reason = failure.error.message
            if Self.fatalErrors.contains(failure.error.code) {
                throw StreamsError.production(topic: topic, reason: reason)
            }
            switch handling {
            case .fail:
                throw StreamsError.production(topic: topic, reason: reason)
            case .logAndContinue:
                dropped += 1
                logger.warning("Dropping a record the brokers refused for topic '\(topic)': \(reason)", metadata: ["topic": "\(topic)"])
            case .deadLetter(let deadLetterTopic):
                guard topic != deadLetterTopic else {
                    throw StreamsError.production(topic: topic, reason: "dead-letter record not delivered: \(reason)")
                }
                var headers = failure.record.headers
                headers.add("rill.error", string: "\(StreamsError.production(topic: topic, reason: reason))")
                headers.add("rill.sink.topic", string: topic)
                try send(
                    topic: deadLetterTopic, partition: nil, key: failure.record.key, value: failure.record.value,
                    timestamp: failure.record.timestamp, headers: headers)
                deadLettered += 1
                logger.warning(
                    "Sent a record the brokers refused for topic '\(topic)' to dead-letter topic '\(deadLetterTopic)': \(reason)",
                    metadata: ["topic": "\(topic)"])
            }
        }
    }
}
