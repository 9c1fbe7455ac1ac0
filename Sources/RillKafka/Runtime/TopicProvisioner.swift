import Foundation
import Logging
import Rill

/// Creates missing topics: through the in-process embedded broker when that is the cluster, else
/// with `CreateTopics`, else (a cluster with no controller, like the embedded broker seen from
/// another process) through the brokers' auto-creation. Then checks the partition counts: an
/// internal topic with another count than it needs is an error; other topics get a warning.
package struct TopicProvisioner {
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
        try checkCleanupPolicies(
            wanted.keys.filter { isInternal($0) && existing[$0] != nil }.sorted(), configs: configs)
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
        try checkCleanupPolicies(missing.keys.filter(isInternal).sorted(), configs: configs)
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

    /// Checks that internal topics keep what they must: a changelog is compacted (else its
    /// state goes with the retention), a repartition or subscription topic is not compacted only
    /// (else records of one key vanish before they are read). Brokers that don't serve
    /// DescribeConfigs (the embedded broker) are not checked.
    private func checkCleanupPolicies(_ topics: [String], configs: [String: [String: String]]) throws {
        // librdkafka's mock cluster (the embedded broker, in this process or seen from another one
        // with no controller) doesn't answer DescribeConfigs: asking would only wait for the timeout.
        guard !topics.isEmpty, EmbeddedKafka.inProcess(at: bootstrapServers) == nil,
            (try? admin.canCreateTopics(timeoutMs: timeoutMs)) == true
        else { return }
        let actual: [String: [String: String]]
        do {
            actual = try admin.topicConfigs(topics, timeoutMs: timeoutMs)
        } catch {
            logger.debug("Internal topics' cleanup policies not checked: \(error)")
            return
        }
        if let wrong = Self.cleanupPolicyMismatches(topics, expected: configs, actual: actual).first {
            throw RuntimeError.internalTopicConfig(
                topic: wrong.topic, key: "cleanup.policy", expected: wrong.expected, actual: wrong.actual)
        }
    }

    /// The internal topics whose `cleanup.policy` can't work: `expected` has the configs the
    /// runtime creates changelogs with; other internal topics are expected to delete.
    package static func cleanupPolicyMismatches(
        _ topics: [String], expected: [String: [String: String]], actual: [String: [String: String]]
    ) -> [(topic: String, expected: String, actual: String)] {
        topics.compactMap { topic in
            guard let policy = actual[topic]?["cleanup.policy"] else { return nil }
            let wanted = expected[topic]?["cleanup.policy"] ?? "delete"
            let needed = wanted.contains("compact") ? "compact" : "delete"
            let has = Set(policy.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            return has.contains(needed) ? nil : (topic, wanted, policy)
        }
    }
}
