import CRdKafka
import Logging
import Rill
import Synchronization

/// A rebalance of a consumer group: partitions given to or taken from this consumer.
public enum RebalanceEvent: Sendable {
    case assigned([TopicPartition])
    case revoked([TopicPartition])
    /// Taken away without a rebalance this consumer took part in (e.g. its session expired): another
    /// member may own them already, so nothing may be committed for them.
    case lost([TopicPartition])
}

/// A Kafka consumer (librdkafka's high-level consumer): group membership, batch polling, explicit commits.
public final class KafkaConsumer: @unchecked Sendable {
    let client: KafkaClient
    private let queue: OpaquePointer
    private let callbacks: Callbacks
    private let logger: Logger
    private let closed = Atomic<Bool>(false)
    /// Only the polling thread touches it, so it skips the runtime's exclusivity checks.
    @exclusivity(unchecked) private var buffer: [UnsafeMutablePointer<rd_kafka_message_t>?] = []
    /// Topic names by librdkafka topic handle, so a name is decoded once, not per record.
    @exclusivity(unchecked) private var topicNames: [OpaquePointer: String] = [:]

    /// The topic of the previous message: a batch comes in runs of one partition.
    @exclusivity(unchecked) private var lastTopic: (handle: OpaquePointer, name: String)?

    private func topicName(_ handle: OpaquePointer) -> String {
        if let lastTopic, lastTopic.handle == handle { return lastTopic.name }
        let name = topicNames[handle] ?? String(cString: rd_kafka_topic_name(handle))
        topicNames[handle] = name
        lastTopic = (handle, name)
        return name
    }

    /// What librdkafka's rebalance callback reaches through its opaque pointer.
    final class Callbacks: @unchecked Sendable {
        var rebalance: (@Sendable (RebalanceEvent) -> [TopicPartition: Int64])?
        let logger: Logger
        /// Since when librdkafka has reported every broker down.
        let brokersDown = Mutex<ContinuousClock.Instant?>(nil)
        init(logger: Logger) { self.logger = logger }
    }

    /// Called on the polling thread when partitions are assigned or revoked, before librdkafka applies
    /// the change. For an assignment it may answer where to start reading some of the partitions
    /// (the others start at their committed offsets).
    public var rebalanceHandler: (@Sendable (RebalanceEvent) -> [TopicPartition: Int64])? {
        get { callbacks.rebalance }
        set { callbacks.rebalance = newValue }
    }

    public init(config: KafkaClientConfig, logger: Logger = Logger(label: "rill.kafka.consumer")) throws {
        let conf = try config.makeConf()
        let callbacks = Callbacks(logger: logger)
        self.callbacks = callbacks
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
        rd_kafka_conf_set_error_cb(conf) { _, error, reason, opaque in
            guard let opaque else { return }
            let callbacks = Unmanaged<Callbacks>.fromOpaque(opaque).takeUnretainedValue()
            if error == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue {
                callbacks.brokersDown.withLock { $0 = $0 ?? .now }
            }
            callbacks.logger.debug("Kafka client error (librdkafka logs it too): \(reason.map { String(cString: $0) } ?? "\(error)")")
        }
        rd_kafka_conf_set_rebalance_cb(conf) { handle, error, partitions, opaque in
            guard let handle, let opaque else { return }
            let callbacks = Unmanaged<Callbacks>.fromOpaque(opaque).takeUnretainedValue()
            let list = partitions.map(topicPartitions) ?? []
            // NULL when the protocol is not known (e.g. the member has just lost the group).
            let cooperative = rd_kafka_rebalance_protocol(handle).map { String(cString: $0) } == "COOPERATIVE"
            switch error {
            case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
                let positions = callbacks.rebalance?(.assigned(list)) ?? [:]
                if let partitions, !positions.isEmpty {
                    for index in 0..<Int(partitions.pointee.cnt) {
                        let element = partitions.pointee.elems[index]
                        let key = TopicPartition(topic: String(cString: element.topic), partition: element.partition)
                        if let position = positions[key] { partitions.pointee.elems[index].offset = position }
                    }
                }
                if cooperative {
                    if let e = rd_kafka_incremental_assign(handle, partitions) { rd_kafka_error_destroy(e) }
                } else {
                    rd_kafka_assign(handle, partitions)
                }
            case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
                _ = callbacks.rebalance?(rd_kafka_assignment_lost(handle) != 0 ? .lost(list) : .revoked(list))
                if cooperative {
                    if let e = rd_kafka_incremental_unassign(handle, partitions) { rd_kafka_error_destroy(e) }
                } else {
                    rd_kafka_assign(handle, nil)
                }
            default:
                callbacks.logger.warning("Rebalance error: \(String(cString: rd_kafka_err2str(error)))")
                rd_kafka_assign(handle, nil)
            }
        }
        client = try KafkaClient(
            type: RD_KAFKA_CONSUMER, conf: conf, servers: config.bootstrapServers, callbackTarget: callbacks)
        rd_kafka_poll_set_consumer(client.handle)
        guard let queue = rd_kafka_queue_get_consumer(client.handle) else {
            throw KafkaError(message: "librdkafka gave no consumer queue")
        }
        self.queue = queue
        self.logger = logger
    }

    /// Joins the group and subscribes to `topics`.
    public func subscribe(_ topics: [String]) throws {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, -1) }
        let error = rd_kafka_subscribe(client.handle, list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(error, context: "Could not subscribe to \(topics)")
        }
    }

    /// Reads the given partitions from the given offsets (-2 beginning, -1 end, -1000 committed), without the group.
    public func assign(_ partitions: [TopicPartition: Int64]) throws {
        let list = makeList(partitions.map { ($0.key, $0.value, nil) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_assign(client.handle, list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error, context: "Could not assign partitions") }
    }

    /// Up to `max` records, waiting at most `timeoutMs` for the first. Serves rebalance callbacks.
    ///
    /// Throws when a partition's position was reset (the records there were lost to retention) and on
    /// fatal errors; transient errors (a broker going away) are logged and retried by librdkafka.
    public func poll(max: Int, timeoutMs: Int32) throws -> [ConsumedRecord] {
        var records: [ConsumedRecord] = []
        try poll(max: max, timeoutMs: timeoutMs) { records.append($0) }
        return records
    }

    /// As ``poll(max:timeoutMs:)``, handing each record to `take` as it is read, to keep: a runtime
    /// that moves records into its own queues copies none of them. Returns how many were read.
    @discardableResult
    public func poll(max: Int, timeoutMs: Int32, _ take: (__owned ConsumedRecord) throws -> Void) throws -> Int {
        if buffer.count < max { buffer = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: max) }
        // librdkafka's batch consume waits out its whole timeout unless the batch fills, so take
        // what is there at once; when nothing is, wait for the first message alone, then the rest.
        var count = buffer.withUnsafeMutableBufferPointer { pointer in
            rd_kafka_consume_batch_queue(queue, 0, pointer.baseAddress, max)
        }
        if count == 0 && timeoutMs > 0, let first = rd_kafka_consume_queue(queue, timeoutMs) {
            buffer[0] = first
            count = 1 + Swift.max(0, buffer.withUnsafeMutableBufferPointer { pointer in
                max > 1 ? rd_kafka_consume_batch_queue(queue, 0, pointer.baseAddress! + 1, max - 1) : 0
            })
        }
        guard count > 0 else { return 0 }
        var taken = 0
        var failure: KafkaError?
        // Every message is destroyed, even after `take` throws.
        defer { for index in 0..<count { if let message = buffer[index] { rd_kafka_message_destroy(message) } } }
        for index in 0..<count {
            guard let message = buffer[index] else { continue }
            let m = message.pointee
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }

                let where_ = m.rkt.map { "topic '\(String(cString: rd_kafka_topic_name($0)))' partition \(m.partition)" } ?? "consumer"
                let error = KafkaError(m.err, context: "Consumer error on \(where_)")
                if m.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m.err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE
                    || m.err == RD_KAFKA_RESP_ERR__FATAL
                {
                    failure = failure ?? error
                } else {
                    logger.warning("\(error)")
                }
                continue
            }
            var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let timestamp = rd_kafka_message_timestamp(message, &timestampType)
            try take(
                ConsumedRecord(
                    topic: m.rkt.map(topicName) ?? "", partition: m.partition, offset: m.offset,
                    timestamp: timestamp,
                    key: m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) },
                    value: m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) },
                    headers: RawRecord.headers(of: message)))
            taken += 1
        }
        if let failure { throw failure }
        if taken > 0 { callbacks.brokersDown.withLock { $0 = nil } }
        return taken
    }

    /// Since when librdkafka has reported every broker down, or nil while brokers answer (as
    /// far as this consumer has seen: records, or ``brokersAnswer(timeoutMs:)``).
    public var allBrokersDownSince: ContinuousClock.Instant? { callbacks.brokersDown.withLock { $0 } }

    /// Asks the brokers for metadata; true (and the consumer counts them as up again) when one answers.
    public func brokersAnswer(timeoutMs: Int32) -> Bool {
        guard (try? client.hasController(timeoutMs: timeoutMs)) != nil else { return false }
        callbacks.brokersDown.withLock { $0 = nil }
        return true
    }

    /// Commits `offsets` (the next offset to read per partition) synchronously, with optional metadata.
    public func commit(_ offsets: [TopicPartition: (offset: Int64, metadata: String?)]) throws {
        guard !offsets.isEmpty else { return }
        let list = makeList(offsets.map { ($0.key, $0.value.offset, $0.value.metadata) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_commit(client.handle, list, 0)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(error, context: "Commit of \(offsets.count) partition offsets failed")
        }
    }

    /// The committed offsets (and metadata) of `partitions`; partitions with none are absent.
    public func committed(_ partitions: [TopicPartition], timeoutMs: Int32) throws
        -> [TopicPartition: (offset: Int64, metadata: String?)]
    {
        let list = makeList(partitions.map { ($0, -1001, nil) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_committed(client.handle, list, timeoutMs)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(error, context: "Fetching committed offsets failed")
        }
        var result: [TopicPartition: (offset: Int64, metadata: String?)] = [:]
        for i in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[i]
            guard element.offset >= 0 else { continue }
            var metadata: String?
            if let bytes = element.metadata, element.metadata_size > 0 {
                metadata = String(decoding: UnsafeRawBufferPointer(start: bytes, count: element.metadata_size), as: UTF8.self)
            }
            result[TopicPartition(topic: String(cString: element.topic), partition: element.partition)] =
                (element.offset, metadata)
        }
        return result
    }

    /// The partitions currently assigned to this consumer.
    public func assignment() throws -> [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let error = rd_kafka_assignment(client.handle, &list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw KafkaError(error, context: "Assignment") }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return topicPartitions(list)
    }

    /// Stops fetching `partitions` until resumed.
    public func pause(_ partitions: [TopicPartition]) throws {
        let list = makeList(partitions.map { ($0, -1001, nil) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        rd_kafka_pause_partitions(client.handle, list)
    }

    /// Fetches `partitions` again.
    public func resume(_ partitions: [TopicPartition]) throws {
        let list = makeList(partitions.map { ($0, -1001, nil) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        rd_kafka_resume_partitions(client.handle, list)
    }

    /// The low and high watermark offsets of a partition, from the broker.
    public func watermarks(_ partition: TopicPartition, timeoutMs: Int32) throws -> (low: Int64, high: Int64) {
        try client.watermarks(partition, timeoutMs: timeoutMs)
    }

    /// The end offset of `partition` as of the consumer's last fetch from it (no request to the
    /// brokers), or `nil` when it has fetched nothing from it yet.
    public func lastKnownEndOffset(_ partition: TopicPartition) -> Int64? {
        lastKnownWatermarks(partition)?.high
    }

    /// The log start and end offsets of `partition` as of the consumer's last fetch from it (no
    /// request to the brokers), or `nil` when it has fetched nothing from it yet.
    public func lastKnownWatermarks(_ partition: TopicPartition) -> (low: Int64, high: Int64)? {
        var low: Int64 = -1
        var high: Int64 = -1
        let error = rd_kafka_get_watermark_offsets(client.handle, partition.topic, partition.partition, &low, &high)
        return error == RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0 && low >= 0 ? (low, high) : nil
    }

    /// The partition count of `topic`, or `nil` when it does not exist (never creates it).
    public func partitionCount(topic: String, timeoutMs: Int32) throws -> Int32? {
        try client.partitionCount(topic: topic, timeoutMs: timeoutMs)
    }

    /// Leaves the group (revoking partitions through the rebalance handler). Idempotent.
    public func close() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        rd_kafka_consumer_close(client.handle)
    }

    deinit {
        close()
        rd_kafka_queue_destroy(queue)
    }
}

func topicPartitions(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition] {
    (0..<Int(list.pointee.cnt)).map { i in
        TopicPartition(topic: String(cString: list.pointee.elems[i].topic), partition: list.pointee.elems[i].partition)
    }
}

/// A librdkafka partition list; metadata strings are copied with malloc, which librdkafka frees.
func makeList(_ entries: [(TopicPartition, Int64, String?)]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
    // librdkafka aborts on allocation failure rather than returning NULL, so these are never nil.
    guard let list = rd_kafka_topic_partition_list_new(Int32(entries.count)) else {
        preconditionFailure("rd_kafka_topic_partition_list_new returned NULL")
    }
    for (partition, offset, metadata) in entries {
        guard let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition) else { continue }
        element.pointee.offset = offset
        if let metadata {
            let bytes = Array(metadata.utf8)
            if let copy = malloc(max(bytes.count, 1)) {
                bytes.withUnsafeBytes { buffer in
                    if let base = buffer.baseAddress { copy.copyMemory(from: base, byteCount: buffer.count) }
                }
                element.pointee.metadata = copy
                element.pointee.metadata_size = bytes.count
            }
        }
    }
    return list
}

import Foundation
