import Rill

/// Why a streams application can't start or had to stop; the message names the topic, servers or key at fault.
public enum RuntimeError: Error, CustomStringConvertible, Sendable {
    case brokerUnreachable(servers: String, timeoutMs: Int64, reason: String)
    case missingSourceTopics([String], servers: String)
    case missingSinkTopics([String], servers: String)
    case internalTopicPartitions(topic: String, expected: Int32, actual: Int32)
    /// An internal topic exists with a config it can't work with.
    case internalTopicConfig(topic: String, key: String, expected: String, actual: String)
    case invalidClientProperty(key: String, reason: String)
    case illegalState(String)
    case streamThreadDied(thread: String, reason: String)
    /// Another instance of the application asked every instance to shut down.
    case applicationShutdownRequested(reason: String)

    public var description: String {
        switch self {
        case .brokerUnreachable(let servers, let timeoutMs, let reason):
            return "Could not reach Kafka at bootstrap.servers=\(servers) within \(timeoutMs) ms: \(reason)"
        case .missingSourceTopics(let topics, let servers):
            return "Source topic\(topics.count == 1 ? "" : "s") \(topics.map { "'\($0)'" }.joined(separator: ", ")) "
                + "not found on the brokers at \(servers): create \(topics.count == 1 ? "it" : "them") first"
        case .missingSinkTopics(let topics, let servers):
            return "Output topic\(topics.count == 1 ? "" : "s") \(topics.map { "'\($0)'" }.joined(separator: ", ")) "
                + "not found on the brokers at \(servers): create \(topics.count == 1 ? "it" : "them") first"
        case .internalTopicPartitions(let topic, let expected, let actual):
            return "Internal topic '\(topic)' has \(actual) partitions but needs \(expected): create it with \(expected) "
                + "partitions before starting (on `rill dev-broker`: --topic \(topic):\(expected))"
        case .internalTopicConfig(let topic, let key, let expected, let actual):
            return "Internal topic '\(topic)' has \(key)=\(actual) but needs \(expected): change it on the brokers "
                + "(or delete the topic so it is created again) before starting"
        case .invalidClientProperty(let key, let reason):
            return "Invalid configuration '\(key)': \(reason)"
        case .illegalState(let message):
            return message
        case .streamThreadDied(let thread, let reason):
            return "Stream thread \(thread) stopped: \(reason)"
        case .applicationShutdownRequested(let reason):
            return "Another instance of the application asked every instance to shut down: \(reason)"
        }
    }
}
