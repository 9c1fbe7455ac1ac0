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
    private let changed = NSCondition()
    private var version = 0
    private var viewers = 0

    public init(_ view: LiveView) { self.view = view }

    /// Reads the view's topics once (at most about 100 ms).
    public func poll() throws {
        guard try view.poll() > 0 else { return }
        changed.withLock {
            version += 1
            changed.broadcast()
        }
    }

    /// The version, once it is past `since` or `timeout` has passed; counts the waiting viewers.
    public func wait(since: Int?, timeout: TimeInterval) -> (version: Int, viewers: Int) {
        changed.withLock {
            guard let since, version <= since else { return (version, viewers) }
            viewers += 1
            defer { viewers -= 1 }
            let deadline = Date().addingTimeInterval(timeout)
            while version <= since && changed.wait(until: deadline) {}
            return (version, viewers)
        }
    }

    /// Viewers waiting for a change now.
    public var waitingViewers: Int { changed.withLock { viewers } }

    /// Polls on a thread of its own until `stop` holds (a worker, which has no demo loop).
    public func follow(until stop: @escaping @Sendable () -> Bool) {
        Thread { [self] in
            while !stop() { try? poll() }
            view.close()
        }.start()
    }
}
