import Foundation
import Synchronization

/// Holds back the stream threads of one application instance from leaving the consumer group until
/// all of them have made their last commit: the first consumer to leave starts a rebalance, and a
/// broker may refuse the others' commits while it runs. A thread that fails arrives too, so nobody
/// waits for it; the wait is bounded all the same.
final class ShutdownBarrier: Sendable {
    private let remaining: Mutex<Int>
    private let done = DispatchSemaphore(value: 0)

    init(parties: Int) { remaining = Mutex(parties) }

    /// Counts one more thread (one that replaces a failed thread, which has arrived already).
    func join() {
        remaining.withLock { $0 += 1 }
    }

    /// Marks this thread's last commit made (once per thread).
    func arrive() {
        let last = remaining.withLock { count -> Bool in
            count -= 1
            return count == 0
        }
        if last { done.signal() }
    }

    /// Waits until every thread has arrived, or `timeout` passes.
    func wait(timeout: Duration) {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        if done.wait(timeout: .now() + seconds) == .success { done.signal() }
    }
}
