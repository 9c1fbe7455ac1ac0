import Logging
import Rill

/// Creates missing topics: through the in-process embedded broker when that is the cluster, else
/// with `CreateTopics`, else (a cluster with no controller, like the embedded broker seen from
/// another process) through the brokers' auto-creation. Then checks the partition counts: an
/// internal topic with another count than it needs is an error; other topics get a warning.
struct TopicProvisioner {
    let admin: KafkaAdmin
    let bootstrapServers: String
    let logger: Logger
    let timeoutMs: Int32

    /// `wanted`: topic → partition count; internal topics are those starting with `internalPrefix`.
    func ensure(
        _ wanted: [String: Int32], configs: [String: [String: String]], existing: [String: Int32], internalPrefix: String?
    ) throws {
        func isInternal(_ topic: String) -> Bool { internalPrefix.map(topic.hasPrefix) ?? false }
        for (topic, expected) in wanted.sorted(by: { $0.key < $1.key }) where isInternal(topic) {
            if let actual = existing[topic], actual != expected {
                throw RuntimeError.internalTopicPartitions(topic: topic, expected: expected, actual: actual)
            }
        }
        let missing = wanted.filter { existing[$0.key] == nil }
        guard !missing.isEmpty else { return }
        let topics = missing.map { NewTopic(name: $0.key, partitions: $0.value, configs: configs[$0.key] ?? [:]) }
            .sorted { $0.name < $1.name }
        logger.info("Creating topics \(topics.map { "\($0.name) (\($0.partitions) partitions)" })")
        if let embedded = EmbeddedKafka.inProcess(at: bootstrapServers) {
            try embedded.createTopics(topics, timeoutMs: timeoutMs)
        } else if try admin.canCreateTopics(timeoutMs: timeoutMs) {
            try admin.createTopics(topics, timeoutMs: timeoutMs)
        } else {
            logger.warning("The cluster has no controller to create topics; relying on the brokers' topic auto-creation")
            for topic in topics { try? admin.requestAutoCreation(of: topic.name, timeoutMs: timeoutMs) }
        }
        let now = try admin.partitionCounts(topics: Array(missing.keys), timeoutMs: timeoutMs)
        for topic in topics {
            guard let actual = now[topic.name] else {
                throw RuntimeError.illegalState(
                    "Could not create topic '\(topic.name)' on the brokers at \(bootstrapServers): "
                        + "create it with \(topic.partitions) partitions")
            }
            guard actual != topic.partitions else { continue }
            if isInternal(topic.name) {
                throw RuntimeError.internalTopicPartitions(topic: topic.name, expected: topic.partitions, actual: actual)
            }
            logger.warning("Topic '\(topic.name)' has \(actual) partitions (wanted \(topic.partitions))")
        }
    }
}
