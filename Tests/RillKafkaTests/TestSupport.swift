import Foundation
import Rill

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
