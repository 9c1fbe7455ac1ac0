import CRdKafka
import Logging
import Rill
import Synchronization

/// A Kafka producer (librdkafka). Sends are asynchronous; ``flush(timeoutMs:)`` waits for delivery
/// and reports the first delivery failure since the last flush, ``flushDeliveries(timeoutMs:)`` every
/// record that failed.
public final class KafkaProducer: @unchecked Sendable {
    let client: KafkaClient
    private let deliveries: DeliveryState
    private let logger: Logger

    /// A record librdkafka gave up on, with why.
    public struct DeliveryFailure: Sendable {
        /// The record as it was sent (its offset is meaningless).
        public var record: RawRecord
        public var error: KafkaError
    }

    /// Delivery failures, recorded by librdkafka's delivery-report callback.
    final class DeliveryState: Sendable {
        let failures = Mutex<[DeliveryFailure]>([])
    }

    public init(config: KafkaClientConfig, logger: Logger = Logger(label: "rill.kafka.producer")) throws {
        var config = config
        if config["partitioner"] == nil { config["partitioner"] = "murmur2_random" }  // where Java clients put keys
        let conf = try config.makeConf()
        let state = DeliveryState()
        deliveries = state
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(state).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
            guard let message, let opaque, message.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
            let state = Unmanaged<DeliveryState>.fromOpaque(opaque).takeUnretainedValue()
            let record = RawRecord(message: UnsafeMutablePointer(mutating: message))
            let error = KafkaError(
                message.pointee.err, context: "Delivery to topic '\(record.topic)' partition \(message.pointee.partition) failed")
            state.failures.withLock { $0.append(DeliveryFailure(record: record, error: error)) }
        }
        client = try KafkaClient(
            type: RD_KAFKA_PRODUCER, conf: conf, servers: config.bootstrapServers, callbackTarget: state)
        self.logger = logger
    }

    /// Enqueues one record. `partition` nil uses the partitioner; `timestamp` nil lets librdkafka stamp it.
    /// When librdkafka's queue is full, serves delivery reports and retries.
    public func send(
        topic: String, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64?, headers: Headers
    ) throws {
        try send(to: self.topic(topic), partition: partition, key: key, value: value, timestamp: timestamp, headers: headers)
    }

    /// A topic this producer writes to, resolved once: senders that keep it skip the lookup by name.
    public struct Topic: @unchecked Sendable {
        public let name: String
        let handle: OpaquePointer
    }

    /// The topic named `name` (librdkafka's topic handle, made on first use and kept).
    public func topic(_ name: String) throws -> Topic {
        try topicHandles.withLock { handles in
            if let known = handles[name] { return Topic(name: name, handle: known) }
            guard let made = rd_kafka_topic_new(client.handle, name, nil) else {
                throw KafkaError(message: "Could not make a handle for topic '\(name)'")
            }
            handles[name] = made
            return Topic(name: name, handle: made)
        }
    }

    /// Enqueues one record to a resolved topic; see ``send(topic:partition:key:value:timestamp:headers:)``.
    public func send(
        to topic: Topic, partition: Int32?, key: [UInt8]?, value: [UInt8]?, timestamp: Int64?, headers: Headers
    ) throws {
        var nativeHeaders: OpaquePointer? = nil
        if !headers.isEmpty {
            nativeHeaders = rd_kafka_headers_new(headers.count)
            for header in headers {
                if let bytes = header.value {
                    bytes.withUnsafeBytes { buffer in
                        _ = rd_kafka_header_add(nativeHeaders, header.key, -1, buffer.baseAddress, buffer.count)
                    }
                } else {
                    _ = rd_kafka_header_add(nativeHeaders, header.key, -1, nil, 0)
                }
            }
        }
        let topicHandle = topic.handle
        var error: rd_kafka_resp_err_t
        repeat {
            error = withOptionalBytes(key) { keyPointer, keyCount in
                withOptionalBytes(value) { valuePointer, valueCount in
                    withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { fields in
                        var n = 0
                        func add(_ type: rd_kafka_vtype_t, _ set: (inout rd_kafka_vu_t) -> Void) {
                            var field = rd_kafka_vu_t()
                            field.vtype = type
                            set(&field)
                            fields.initializeElement(at: n, to: field)
                            n += 1
                        }
                        add(RD_KAFKA_VTYPE_RKT) { $0.u.rkt = topicHandle }
                        add(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition ?? -1 }
                        add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                        add(RD_KAFKA_VTYPE_VALUE) {
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: valuePointer)
                            $0.u.mem.size = valueCount
                        }
                        add(RD_KAFKA_VTYPE_KEY) {
                            $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: keyPointer)
                            $0.u.mem.size = keyCount
                        }
                        if let timestamp { add(RD_KAFKA_VTYPE_TIMESTAMP) { $0.u.i64 = timestamp } }
                        if let nativeHeaders { add(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = nativeHeaders } }
                        let result = rd_kafka_produceva(client.handle, fields.baseAddress, n)
                        let code = rd_kafka_error_code(result)
                        if let result { rd_kafka_error_destroy(result) }
                        return code
                    }
                }
            }
            if error == RD_KAFKA_RESP_ERR__QUEUE_FULL { rd_kafka_poll(client.handle, 10) }
        } while error == RD_KAFKA_RESP_ERR__QUEUE_FULL
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            // On failure the headers were not handed over.
            if let nativeHeaders { rd_kafka_headers_destroy(nativeHeaders) }
            throw KafkaError(error, context: "Could not send to topic '\(topic.name)'")
        }
    }

    /// librdkafka topic handles by name, made once per topic (sends come from one thread at a time).
    private let topicHandles = Mutex<[String: OpaquePointer]>([:])


    /// Serves delivery reports; `timeoutMs` 0 does not block.
    public func poll(timeoutMs: Int32 = 0) {
        rd_kafka_poll(client.handle, timeoutMs)
    }

    /// Waits until every sent record is delivered; throws the first delivery failure since the last flush.
    public func flush(timeoutMs: Int32) throws {
        let failures = try flushDeliveries(timeoutMs: timeoutMs)
        if let first = failures.first {
            throw KafkaError(code: first.error.code, message: "\(failures.count) record(s) not delivered; first: \(first.error.message)")
        }
    }

    /// Waits until every sent record is delivered or failed, and returns the records that failed
    /// since the last call (or ``takeDeliveryFailures()``). Throws when the wait times out.
    public func flushDeliveries(timeoutMs: Int32) throws -> [DeliveryFailure] {
        let error = rd_kafka_flush(client.handle, timeoutMs)
        let failures = takeDeliveryFailures()
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                error, context: "Flush to bootstrap.servers=\(client.servers) did not finish within \(timeoutMs) ms "
                    + "(\(rd_kafka_outq_len(client.handle)) records outstanding)")
        }
        return failures
    }

    /// The records whose delivery failed since the last call, as reported so far by ``poll(timeoutMs:)``.
    public func takeDeliveryFailures() -> [DeliveryFailure] {
        deliveries.failures.withLock { failures in
            defer { failures = [] }
            return failures
        }
    }

    /// Records handed to the producer and not yet delivered or failed.
    public var outstanding: Int32 { rd_kafka_outq_len(client.handle) }

    /// The partition count of `topic`, or `nil` when it does not exist (never creates it).
    public func partitionCount(topic: String, timeoutMs: Int32) throws -> Int32? {
        try client.partitionCount(topic: topic, timeoutMs: timeoutMs)
    }

    deinit {
        rd_kafka_flush(client.handle, 5_000)
        topicHandles.withLock { handles in
            for handle in handles.values { rd_kafka_topic_destroy(handle) }
        }
    }
}

/// Calls `body` with a pointer and count for `bytes`, or (nil, 0) for nil.
@inline(__always)
func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
    guard let bytes else { return body(nil, 0) }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}
