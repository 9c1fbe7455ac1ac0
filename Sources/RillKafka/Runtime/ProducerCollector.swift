import Rill

/// Sends a task's output through the thread's producer.
final class ProducerCollector: RecordCollector {
    let producer: KafkaProducer
    private var partitionCounts: [String: Int32] = [:]

    init(producer: KafkaProducer) { self.producer = producer }

    func send(topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64, headers: Headers) throws {
        do {
            try producer.send(
                topic: topic, partition: partition, key: key, value: value, timestamp: timestamp, headers: headers)
        } catch {
            throw StreamsError.production(topic: topic, reason: "\(error)")
        }
    }

    func partitionCount(topic: String) throws -> Int32 {
        if let known = partitionCounts[topic] { return known }
        guard let count = try producer.partitionCount(topic: topic, timeoutMs: 10_000) else {
            throw StreamsError.production(topic: topic, reason: "topic does not exist")
        }
        partitionCounts[topic] = count
        return count
    }
}
