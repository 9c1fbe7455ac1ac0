import CRdKafka
import Logging

/// A topic to create.
public struct NewTopic: Sendable, Equatable {
    public var name: String
    public var partitions: Int32
    /// -1 for the broker's default.
    public var replicationFactor: Int32
    public var configs: [String: String]

    public init(name: String, partitions: Int32, replicationFactor: Int32 = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// Creates topics: ``KafkaAdmin`` through the Kafka protocol, ``EmbeddedKafka`` directly.
public protocol TopicCreator: Sendable {
    /// Creates `topics`; a topic that already exists is not an error.
    func createTopics(_ topics: [NewTopic], timeoutMs: Int32) throws
}

/// Topic administration: create topics and read partition counts.
public final class KafkaAdmin: TopicCreator, @unchecked Sendable {
    private let client: KafkaClient
    private let logger: Logger

    public init(config: KafkaClientConfig, logger: Logger = Logger(label: "rill.kafka.admin")) throws {
        client = try KafkaClient(type: RD_KAFKA_PRODUCER, conf: try config.makeConf(), servers: config.bootstrapServers)
        self.logger = logger
    }

    /// Creates `topics`; a topic that already exists is not an error.
    public func createTopics(_ topics: [NewTopic], timeoutMs: Int32) throws {
        guard !topics.isEmpty else { return }
        var errstr = [CChar](repeating: 0, count: 512)
        var handles: [OpaquePointer?] = []
        defer { for handle in handles { rd_kafka_NewTopic_destroy(handle) } }
        for topic in topics {
            guard let handle = rd_kafka_NewTopic_new(topic.name, topic.partitions, topic.replicationFactor, &errstr, errstr.count) else {
                throw KafkaError(message: "Invalid new topic '\(topic.name)': \(cString(errstr))")
            }
            handles.append(handle)
            for (key, value) in topic.configs {
                let error = rd_kafka_NewTopic_set_config(handle, key, value)
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(error, context: "Invalid config '\(key)' for topic '\(topic.name)'")
                }
            }
        }
        guard let queue = rd_kafka_queue_new(client.handle) else { throw KafkaError(message: "rd_kafka_queue_new failed") }
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, &errstr, errstr.count)
        handles.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_CreateTopics(client.handle, buffer.baseAddress, buffer.count, options, queue)
        }
        guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1_000) else {
            throw KafkaError(
                code: RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue,
                message: "Creating topics \(topics.map(\.name)) at bootstrap.servers=\(client.servers) timed out")
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(eventError, context: "Creating topics \(topics.map(\.name)) failed")
        }
        guard let result = rd_kafka_event_CreateTopics_result(event) else { return }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
        for i in 0..<count {
            let topicResult = results[i]
            let error = rd_kafka_topic_result_error(topicResult)
            let name = String(cString: rd_kafka_topic_result_name(topicResult))
            if error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
                let reason = rd_kafka_topic_result_error_string(topicResult).map { String(cString: $0) } ?? ""
                throw KafkaError(code: error.rawValue, message: "Could not create topic '\(name)': \(reason)")
            }
        }
    }

    /// Partition counts of `topics`; topics that don't exist are absent (never creates them).
    public func partitionCounts(topics: [String], timeoutMs: Int32) throws -> [String: Int32] {
        try client.listTopics(timeoutMs: timeoutMs).filter { topics.contains($0.key) }
    }

    /// Whether the cluster has a controller, so `CreateTopics` can work. The embedded broker seen
    /// from another process has none.
    public func canCreateTopics(timeoutMs: Int32) throws -> Bool {
        try client.hasController(timeoutMs: timeoutMs)
    }

    /// Asks for `topic`'s metadata, so that a broker with topic auto-creation creates it (with its default
    /// partition count). The fallback where `CreateTopics` is not available.
    public func requestAutoCreation(of topic: String, timeoutMs: Int32) throws {
        try client.requestMetadata(topic: topic, timeoutMs: timeoutMs)
    }

    /// The configs of `topics` (`cleanup.policy`, `retention.ms`, …) as the brokers describe them.
    /// Throws when the brokers don't serve DescribeConfigs (the embedded broker doesn't).
    public func topicConfigs(_ topics: [String], timeoutMs: Int32) throws -> [String: [String: String]] {
        guard !topics.isEmpty else { return [:] }
        var resources = topics.map { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, $0) }
        defer { for resource in resources { rd_kafka_ConfigResource_destroy(resource) } }
        guard let queue = rd_kafka_queue_new(client.handle) else { throw KafkaError(message: "rd_kafka_queue_new failed") }
        defer { rd_kafka_queue_destroy(queue) }
        var errstr = [CChar](repeating: 0, count: 512)
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &errstr, errstr.count)
        resources.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_DescribeConfigs(client.handle, buffer.baseAddress, buffer.count, options, queue)
        }
        guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1_000) else {
            throw KafkaError(code: RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue, message: "Describing the configs of \(topics) timed out")
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(eventError, context: "Describing the configs of \(topics) failed")
        }
        guard let result = rd_kafka_event_DescribeConfigs_result(event) else { return [:] }
        var count = 0
        guard let described = rd_kafka_DescribeConfigs_result_resources(result, &count) else { return [:] }
        var configs: [String: [String: String]] = [:]
        for index in 0..<count {
            guard let resource = described[index], rd_kafka_ConfigResource_error(resource) == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            let topic = String(cString: rd_kafka_ConfigResource_name(resource))
            var entryCount = 0
            guard let entries = rd_kafka_ConfigResource_configs(resource, &entryCount) else { continue }
            var values: [String: String] = [:]
            for entryIndex in 0..<entryCount {
                guard let entry = entries[entryIndex], let value = rd_kafka_ConfigEntry_value(entry) else { continue }
                values[String(cString: rd_kafka_ConfigEntry_name(entry))] = String(cString: value)
            }
            configs[topic] = values
        }
        return configs
    }

    /// Every topic on the cluster with its partition count.
    public func listTopics(timeoutMs: Int32) throws -> [String: Int32] {
        try client.listTopics(timeoutMs: timeoutMs)
    }
}
