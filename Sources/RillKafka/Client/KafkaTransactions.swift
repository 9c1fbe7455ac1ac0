import CRdKafka

/// A transactional call that failed, with what librdkafka says to do about it.
public struct TransactionError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    /// The producer can't go on (e.g. it was fenced by a newer one with its transactional id).
    public let isFatal: Bool
    /// The same call may succeed if made again.
    public let isRetriable: Bool
    /// The transaction must be aborted; a new one may then begin.
    public let requiresAbort: Bool

    init(_ error: OpaquePointer, context: String) {
        code = rd_kafka_error_code(error).rawValue
        message = "\(context): \(String(cString: rd_kafka_error_string(error)))"
        isFatal = rd_kafka_error_is_fatal(error) != 0
        isRetriable = rd_kafka_error_is_retriable(error) != 0
        requiresAbort = rd_kafka_error_txn_requires_abort(error) != 0
        rd_kafka_error_destroy(error)
    }

    public var description: String { message }
}

/// Transactions (the producer needs `transactional.id`): what exactly-once is made of.
extension KafkaProducer {
    /// Registers the transactional id with its coordinator, fencing older producers that had it.
    public func initTransactions(timeoutMs: Int32) throws {
        if let error = rd_kafka_init_transactions(client.handle, timeoutMs) {
            throw TransactionError(error, context: "Could not initialize transactions with bootstrap.servers=\(client.servers)")
        }
    }

    public func beginTransaction() throws {
        if let error = rd_kafka_begin_transaction(client.handle) {
            throw TransactionError(error, context: "Could not begin a transaction")
        }
    }

    /// Adds the consumer's positions `offsets` (next offsets to read, with metadata) to the
    /// transaction: they are committed for its group if and only if the transaction commits.
    public func sendOffsetsToTransaction(
        _ offsets: [TopicPartition: (offset: Int64, metadata: String?)], consumer: KafkaConsumer, timeoutMs: Int32
    ) throws {
        guard !offsets.isEmpty else { return }
        let list = makeList(offsets.map { ($0.key, $0.value.offset, $0.value.metadata) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        guard let metadata = rd_kafka_consumer_group_metadata(consumer.client.handle) else {
            throw KafkaError(message: "The consumer has no group metadata to send offsets to a transaction with")
        }
        defer { rd_kafka_consumer_group_metadata_destroy(metadata) }
        if let error = rd_kafka_send_offsets_to_transaction(client.handle, list, metadata, timeoutMs) {
            throw TransactionError(error, context: "Could not add \(offsets.count) partition offsets to the transaction")
        }
    }

    /// Flushes what was sent and commits the transaction.
    public func commitTransaction(timeoutMs: Int32) throws {
        if let error = rd_kafka_commit_transaction(client.handle, timeoutMs) {
            throw TransactionError(error, context: "Could not commit the transaction")
        }
    }

    /// Aborts the transaction: what it sent is never seen by `read_committed` consumers.
    public func abortTransaction(timeoutMs: Int32) throws {
        if let error = rd_kafka_abort_transaction(client.handle, timeoutMs) {
            throw TransactionError(error, context: "Could not abort the transaction")
        }
    }
}

extension KafkaConsumer {
    /// Moves the positions of assigned `partitions` (e.g. back to their committed offsets).
    public func seek(_ partitions: [TopicPartition: Int64], timeoutMs: Int32) throws {
        guard !partitions.isEmpty else { return }
        let list = makeList(partitions.map { ($0.key, $0.value, nil) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let error = rd_kafka_seek_partitions(client.handle, list, timeoutMs) {
            defer { rd_kafka_error_destroy(error) }
            throw KafkaError(
                code: rd_kafka_error_code(error).rawValue,
                message: "Could not seek \(partitions.count) partitions: \(String(cString: rd_kafka_error_string(error)))")
        }
        for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let element = list.pointee.elems[index]
            throw KafkaError(element.err, context: "Could not seek \(String(cString: element.topic))-\(element.partition)")
        }
    }
}

extension KafkaConsumer {
    /// The next offset the consumer will return for each of `partitions` (past any transaction
    /// markers it skipped), where known.
    public func positions(_ partitions: [TopicPartition]) throws -> [TopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        let list = makeList(partitions.map { ($0, -1001, nil) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_position(client.handle, list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error, context: "Could not read positions") }
        var result: [TopicPartition: Int64] = [:]
        for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].offset >= 0 {
            let element = list.pointee.elems[index]
            result[TopicPartition(topic: String(cString: element.topic), partition: element.partition)] = element.offset
        }
        return result
    }
}
