import CRdKafka
import Logging

/// Where librdkafka's own log lines go.
let librdkafkaLogger = Logger(label: "rill.librdkafka")

/// Properties for a librdkafka client (`rd_kafka_conf_set`), e.g. `bootstrap.servers`, `linger.ms`.
public struct KafkaClientConfig: Sendable {
    public var properties: [String: String]

    public init(_ properties: [String: String] = [:]) {
        self.properties = properties
    }

    public subscript(key: String) -> String? {
        get { properties[key] }
        set { properties[key] = newValue }
    }

    var bootstrapServers: String { properties["bootstrap.servers"] ?? "" }

    /// A new librdkafka configuration with every property set; a property librdkafka rejects is an error naming it.
    func makeConf() throws -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else { throw KafkaError(message: "rd_kafka_conf_new failed") }
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(message: "Invalid configuration '\(key)': \(cString(errstr))")
            }
        }
        rd_kafka_conf_set_log_cb(conf) { _, level, facility, message in
            let text = "\(facility.map { String(cString: $0) } ?? ""): \(message.map { String(cString: $0) } ?? "")"
            switch level {
            case ...3: librdkafkaLogger.error("\(text)")
            case 4: librdkafkaLogger.warning("\(text)")
            case 5, 6: librdkafkaLogger.info("\(text)")
            default: librdkafkaLogger.debug("\(text)")
            }
        }
        return conf
    }
}

func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
