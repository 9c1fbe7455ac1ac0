import CRdKafka
import Logging

/// Owns one `rd_kafka_t` and answers metadata questions for producers, consumers and admins.
final class KafkaClient: @unchecked Sendable {
    let handle: OpaquePointer
    let servers: String
    /// The object librdkafka's callbacks reach through the opaque pointer; released only after `rd_kafka_destroy`.
    private let callbackTarget: AnyObject?

    init(type: rd_kafka_type_t, conf: OpaquePointer, servers: String, callbackTarget: AnyObject? = nil) throws {
        self.callbackTarget = callbackTarget
        var errstr = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(message: "Could not create Kafka client: \(cString(errstr))")
        }
        self.handle = handle
        self.servers = servers
    }

    /// Partition counts of every topic on the cluster (never creates topics).
    func listTopics(timeoutMs: Int32) throws -> [String: Int32] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let error = rd_kafka_metadata(handle, 1, nil, &metadata, Int32(timeoutMs))
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(error, context: "Metadata request to bootstrap.servers=\(servers) failed")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        var result: [String: Int32] = [:]
        for i in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[i]
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR, let name = topic.topic else { continue }
            result[String(cString: name)] = topic.partition_cnt
        }
        return result
    }

    /// Whether the cluster names a controller among its brokers (CreateTopics needs one).
    func hasController(timeoutMs: Int32) throws -> Bool {
        let controller = rd_kafka_controllerid(handle, timeoutMs)
        guard controller >= 0 else { return false }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let error = rd_kafka_metadata(handle, 0, nil, &metadata, timeoutMs)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(error, context: "Metadata request to bootstrap.servers=\(servers) failed")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        return (0..<Int(metadata.pointee.broker_cnt)).contains { metadata.pointee.brokers[$0].id == controller }
    }

    /// The partition count of `topic`, or `nil` when it does not exist.
    func partitionCount(topic: String, timeoutMs: Int32) throws -> Int32? {
        try listTopics(timeoutMs: timeoutMs)[topic]
    }

    /// Asks for the metadata of `topic` alone, which makes brokers that auto-create topics create it.
    func requestMetadata(topic: String, timeoutMs: Int32) throws {
        guard let handle = rd_kafka_topic_new(self.handle, topic, nil) else {
            throw KafkaError(message: "Could not make a handle for topic '\(topic)'")
        }
        defer { rd_kafka_topic_destroy(handle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let error = rd_kafka_metadata(self.handle, 0, handle, &metadata, timeoutMs)
        if let metadata { rd_kafka_metadata_destroy(metadata) }
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(error, context: "Metadata request for topic '\(topic)' failed")
        }
    }

    func watermarks(_ partition: TopicPartition, timeoutMs: Int32) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let error = rd_kafka_query_watermark_offsets(handle, partition.topic, partition.partition, &low, &high, timeoutMs)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(error, context: "Watermarks of \(partition)")
        }
        return (low, high)
    }

    deinit { rd_kafka_destroy(handle) }
}
