import CoreMetrics
import Logging
import Prometheus
import RillHTTP
import RillKafka

/// A sample app's HTTP endpoint (`--http-port`): RillHTTP's `/health`, `/metrics`, `/topology` and
/// `/stores`, the app's live page at `/`, and what the page reads, `/api/live`.
///
/// `/api/live?since=<version>` waits (up to 1 s) until the app's outputs have moved past that
/// version, so an open page redraws as soon as something changes; without `since` it answers at once.
public struct WebFront: Sendable {
    public let port: Int
    /// Where the application's metrics go (`metricsFactory`), for `/metrics`.
    public let registry = PrometheusCollectorRegistry()

    public init(port: Int) { self.port = port }

    public var metricsFactory: MetricsFactory { PrometheusMetricsFactory(registry: registry) }

    /// The endpoint of `streams`, whose page shows `feed`.
    public func server(streams: KafkaStreams, app: LiveApp, feed: LiveFeed, logger: Logger = Logger(label: "rill.http"))
        -> StreamsHTTPServer
    {
        var server = StreamsHTTPServer(streams: streams, port: port, metrics: registry, logger: logger)
        app.stores(&server)
        server.page("/", html: app.page)
        server.json("/api/live") { query in
            let (version, viewers) = await feed.next(since: query["since"].flatMap(Int.init), timeout: .seconds(1))
            let metrics = streams.metrics
            return LiveSnapshot(
                version: version, viewers: viewers, state: streams.state.rawValue, processed: metrics.processed,
                dropped: metrics.dropped, view: feed.view.snapshot())
        }
        return server
    }
}

/// What `/api/live` answers: the feed's version, the application's state and counters, and the
/// app's own view under `view`.
struct LiveSnapshot: Encodable {
    let version: Int
    let viewers: Int
    let state: String
    let processed: Int64
    let dropped: Int64
    let view: any Encodable & Sendable

    private enum CodingKeys: String, CodingKey { case version, viewers, state, processed, dropped, view }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(viewers, forKey: .viewers)
        try container.encode(state, forKey: .state)
        try container.encode(processed, forKey: .processed)
        try container.encode(dropped, forKey: .dropped)
        try view.encode(to: container.superEncoder(forKey: .view))
    }
}
