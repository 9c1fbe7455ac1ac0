import Foundation
import Rill
import RillKafka

/// A streams configuration for tests: short commit interval, and a consumer group that notices a
/// departed member within seconds on the embedded broker.
func testConfig(_ app: String, _ servers: String, commitIntervalMs: Int64) -> StreamsConfig {
    var config = StreamsConfig(applicationID: app, bootstrapServers: servers)
    config.commitIntervalMs = commitIntervalMs
    config["consumer.session.timeout.ms"] = "6000"
    config["consumer.heartbeat.interval.ms"] = "500"
    return config
}

/// State transitions seen by a listener, from any thread.
final class TransitionLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ entry: String) { lock.withLock { items.append(entry) } }
    var entries: [String] { lock.withLock { items } }
}

/// Sends `count` records to `topic` from index `range` (key "k<index % keys>", value "v<index>",
/// timestamp 1000 + index) and waits for their delivery.
func produceIndexed(_ servers: String, _ topic: String, _ range: Range<Int>, keys: Int = Int.max) throws {
    let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers]))
    for index in range {
        try producer.send(
            topic: topic, partition: nil, key: Array("k\(index % keys)".utf8), value: Array("v\(index)".utf8),
            timestamp: Int64(1_000 + index), headers: Headers())
    }
    try producer.flush(timeoutMs: 30_000)
}

/// Whether `condition` holds within `timeout`, checking it every 20 ms.
func eventually(timeout: TimeInterval = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}
