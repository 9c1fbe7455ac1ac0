@_exported import TestSupport
import Rill
import RillKafka

/// A streams configuration for tests: short commit interval, and a consumer group that notices a
/// departed member within seconds on the embedded broker.
public func testConfig(_ app: String, _ servers: String, commitIntervalMs: Int64) -> StreamsConfig {
    var config = StreamsConfig(applicationID: app, bootstrapServers: servers)
    config.commitIntervalMs = commitIntervalMs
    config["consumer.session.timeout.ms"] = "6000"
    config["consumer.heartbeat.interval.ms"] = "500"
    return config
}

/// Sends the records of index `range` to `topic` (key "k<index % keys>", value "v<index>",
/// timestamp 1000 + index) and waits for their delivery.
public func produceIndexed(_ servers: String, _ topic: String, _ range: Range<Int>, keys: Int = Int.max) throws {
    let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers]))
    for index in range {
        try producer.send(
            topic: topic, partition: nil, key: Array("k\(index % keys)".utf8), value: Array("v\(index)".utf8),
            timestamp: Int64(1_000 + index), headers: Headers())
    }
    try producer.flush(timeoutMs: 30_000)
}
