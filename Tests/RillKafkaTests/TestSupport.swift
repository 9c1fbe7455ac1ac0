import Foundation
@_exported import KafkaTestSupport
import Rill
import RillKafka

/// State transitions seen by a listener, from any thread.
final class TransitionLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ entry: String) { lock.withLock { items.append(entry) } }
    var entries: [String] { lock.withLock { items } }
}


