import CRdKafka

/// An error from librdkafka or from this wrapper; the message names the topic, partition or servers at fault.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    /// librdkafka's `rd_kafka_resp_err_t` value, or -1 for errors of the wrapper itself.
    public let code: Int32
    public let message: String

    public init(code: Int32 = -1, message: String) {
        self.code = code
        self.message = message
    }

    init(_ error: rd_kafka_resp_err_t, context: String) {
        code = error.rawValue
        message = "\(context): \(String(cString: rd_kafka_err2str(error)))"
    }

    public var description: String { message }

    /// Whether retrying the same call may succeed.
    public var isRetriable: Bool {
        code == RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue || code == RD_KAFKA_RESP_ERR__TRANSPORT.rawValue
            || code == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue || code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue
    }
}

/// A topic and a partition.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)-\(partition)" }

    public static func < (a: TopicPartition, b: TopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }
}

/// A record read by a ``KafkaConsumer``.
public typealias ConsumedRecord = RawRecord

import Rill
