import CRdKafka
import Synchronization

/// librdkafka's mock cluster, in this process: a Kafka-protocol broker on loopback TCP for tests and demos.
///
/// It lives as long as this object. Know its limits: each partition keeps at most about 5 MiB or
/// 100,000 message sets (older data is dropped), there is no compaction, transactions don't isolate,
/// and other processes can't create topics on it (they are auto-created with 4 partitions on first use).
public final class EmbeddedKafka: TopicCreator, @unchecked Sendable {
    private let client: KafkaClient
    private let cluster: OpaquePointer
    /// `127.0.0.1:PORT` (a random free port).
    public let bootstrapServers: String

    public init(brokers: Int = 1) throws {
        let config = KafkaClientConfig(["test.mock.num.brokers": String(brokers), "log_level": "3"])
        client = try KafkaClient(type: RD_KAFKA_PRODUCER, conf: try config.makeConf(), servers: "(embedded)")
        guard let cluster = rd_kafka_handle_mock_cluster(client.handle) else {
            throw KafkaError(message: "librdkafka did not start a mock cluster")
        }
        self.cluster = cluster
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        Self.running.withLock { $0[bootstrapServers] = Weak(self) }
    }

    deinit {
        Self.running.withLock { $0[bootstrapServers] = nil }
    }

    private struct Weak: @unchecked Sendable {
        weak var broker: EmbeddedKafka?
        init(_ broker: EmbeddedKafka) { self.broker = broker }
    }

    /// The embedded brokers alive in this process, by bootstrap servers.
    private static let running = Mutex<[String: Weak]>([:])

    /// The embedded broker of this process at `bootstrapServers`, if any: the runtime creates topics
    /// through it with exact partition counts, which the Kafka protocol can't do on a mock cluster.
    public static func inProcess(at bootstrapServers: String) -> EmbeddedKafka? {
        running.withLock { $0[bootstrapServers]?.broker }
    }

    /// Creates `topics` with their partition counts.
    public func createTopics(_ topics: [NewTopic], timeoutMs: Int32) throws {
        for topic in topics { try createTopic(topic.name, partitions: topic.partitions) }
    }

    /// Creates `name` with `partitions` partitions (replication factor 1).
    public func createTopic(_ name: String, partitions: Int32) throws {
        let error = rd_kafka_mock_topic_create(cluster, name, partitions, 1)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else {
            throw KafkaError(error, context: "Could not create topic '\(name)'")
        }
    }

    /// Makes the next `count` Produce requests, from any client, fail with the broker error `code`
    /// (a Kafka protocol error code, e.g. 10 for a record too large), to test production failures.
    public func failNextProduceRequests(with code: Int32, count: Int = 1) {
        failNextRequests(apiKey: 0, with: code, count: count)
    }

    /// Makes the next `count` requests of Kafka protocol API `apiKey` (e.g. 28, TxnOffsetCommit)
    /// fail with the broker error `code`.
    public func failNextRequests(apiKey: Int16, with code: Int32, count: Int = 1) {
        let errors = [rd_kafka_resp_err_t](repeating: rd_kafka_resp_err_t(rawValue: code), count: count)
        errors.withUnsafeBufferPointer { rd_kafka_mock_push_request_errors_array(cluster, apiKey, count, $0.baseAddress) }
    }

    /// Takes broker `id` (1-based) down, to test outages.
    public func setBrokerDown(_ id: Int32) {
        _ = rd_kafka_mock_broker_set_down(cluster, id)
    }

    /// Brings broker `id` back up.
    public func setBrokerUp(_ id: Int32) {
        _ = rd_kafka_mock_broker_set_up(cluster, id)
    }

    /// Makes broker `id` (1-based) the leader of `partition` of `topic`.
    public func setLeader(of topic: String, partition: Int32, to id: Int32) {
        _ = rd_kafka_mock_partition_set_leader(cluster, topic, partition, id)
    }

    /// Delays every response of broker `id` by `milliseconds`, as a distant broker would.
    public func setRoundTripTime(ofBroker id: Int32, milliseconds: Int32) {
        _ = rd_kafka_mock_broker_set_rtt(cluster, id, milliseconds)
    }
}
