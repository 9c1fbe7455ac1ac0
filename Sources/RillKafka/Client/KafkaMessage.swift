import CRdKafka
import Rill

extension RawRecord {
    /// A copy of a librdkafka message: its topic, partition, offset, timestamp, key, value and headers.
    init(message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let m = message.pointee
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        self.init(
            topic: m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "", partition: m.partition,
            offset: m.offset, timestamp: rd_kafka_message_timestamp(message, &timestampType),
            key: m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) },
            value: m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) },
            headers: Self.headers(of: message))
    }

    static func headers(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> Headers {
        var native: OpaquePointer?
        guard rd_kafka_message_headers(message, &native) == RD_KAFKA_RESP_ERR_NO_ERROR, let native else {
            return Headers()
        }
        var headers = Headers()
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(native, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            headers.add(
                name.map { String(cString: $0) } ?? "",
                value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) })
            index += 1
        }
        return headers
    }
}
