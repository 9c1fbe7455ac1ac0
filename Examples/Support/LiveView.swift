import Foundation
import RillHTTP
import RillKafka
import Synchronization

/// What a sample app shows live, read from its output topics: frames of text for the demo's
/// terminal, and JSON for its web page (`--http-port`).
public protocol LiveView: AnyObject, Sendable {
    /// Reads what arrived since the last call, waiting at most about 100 ms; returns how many
    /// records it read. One caller at a time.
    func poll() throws -> Int
    /// The terminal frame.
    func render(streams: KafkaStreams, elapsed: TimeInterval) -> [String]
    /// What the web page draws.
    func snapshot() -> any Encodable & Sendable
    func close()
}

/// A sample app's live parts: its view, its web page, and the stores its endpoint serves.
public struct LiveApp: Sendable {
    public var view: @Sendable (_ bootstrapServers: String) throws -> LiveView
    /// The page served at `/`; it reads `/api/live`.
    public var page: String
    public var stores: @Sendable (inout StreamsHTTPServer) -> Void

    public init(
        view: @escaping @Sendable (String) throws -> LiveView, page: String,
        stores: @escaping @Sendable (inout StreamsHTTPServer) -> Void
    ) {
        self.view = view
        self.page = page
        self.stores = stores
    }
}

/// A live view with a version that moves on with every read that brought records, so that a page
/// can wait for the next change (`/api/live?since=<version>`) instead of asking again and again.
public final class LiveFeed: @unchecked Sendable {
    public let view: LiveView
    private struct Waiting {
        var version = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }
    private let waiting = Mutex(Waiting())

    public init(_ view: LiveView) { self.view = view }

    /// Reads the view's topics once (at most about 100 ms) and wakes the viewers if it brought records.
    public func poll() throws {
        guard try view.poll() > 0 else { return }
        let woken = waiting.withLock { waiting in
            waiting.version += 1
            defer { waiting.waiters = [:] }
            return Array(waiting.waiters.values)
        }
        for viewer in woken { viewer.resume() }
    }

    /// The version, once it is past `since` (plus `settle`, so that a burst of changes is one) or
    /// once `timeout` has passed; and the viewers waiting now. Suspends; blocks no thread.
    public func next(since: Int?, timeout: Duration, settle: Duration = .milliseconds(300)) async -> (version: Int, viewers: Int) {
        if let since, waiting.withLock({ $0.version <= since }) {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let id = waiting.withLock { waiting -> UInt64? in
                    guard waiting.version <= since else { return nil }
                    waiting.nextWaiter += 1
                    waiting.waiters[waiting.nextWaiter] = continuation
                    return waiting.nextWaiter
                }
                guard let id else { return continuation.resume() }
                Task {
                    try? await Task.sleep(for: timeout)
                    waiting.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
                }
            }
            if waiting.withLock({ $0.version > since }) { try? await Task.sleep(for: settle) }
        }
        return waiting.withLock { ($0.version, $0.waiters.count) }
    }

    /// Polls on a thread of its own until `stop` holds (a worker, which has no demo loop).
    public func follow(until stop: @escaping @Sendable () -> Bool) {
        Thread { [self] in
            while !stop() {
                do { try poll() } catch { Thread.sleep(forTimeInterval: 0.5) }
            }
            view.close()
        }.start()
    }
}
