import Foundation
import Hummingbird
import Logging
import NIOPosix
import Prometheus
import Rill
import RillKafka
import ServiceLifecycle

/// An HTTP endpoint for a running ``KafkaStreams``, on Hummingbird: what Kafka Streams users get
/// from JMX and interactive queries, the way Swift servers serve it.
///
/// | request | answer |
/// |---|---|
/// | `GET /health` | 200 `{"state":"running"}` while the application runs, else 503 with its state |
/// | `GET /metrics` | the `rill_` metrics in Prometheus' text format |
/// | `GET /topology?format=text\|mermaid\|dot` | the topology, described or drawn |
/// | `GET /stores` | the queryable stores, and the instances with their tasks |
/// | `GET /stores/{store}/{key}` | the key's value (a window store: `?from=&to=` window starts, epoch ms; a session store: its sessions), from the instance that holds it |
/// | `GET /stores/{store}?from=&to=` | a key range of a key-value store, or every key's windows starting in a time range of a window store, on this instance |
///
/// A key held by another instance is redirected there (307) when every instance sets
/// `application.server`; without it, each instance answers from its own tasks. Errors are JSON,
/// `{"error": "...", "status": 4xx|5xx}`: an unknown store or a key not found is 404, a key or a
/// range that doesn't parse is 400, and a query the application can't answer now (rebalancing,
/// restoring, the key's instance not yet known) is 503 with `Retry-After`.
///
/// ```swift
/// let registry = PrometheusCollectorRegistry()
/// let streams = try KafkaStreams(topology, config: config, metricsFactory: PrometheusMetricsFactory(registry: registry))
/// var http = StreamsHTTPServer(streams: streams, port: 8080, metrics: registry)
/// http.queryable(windowStore: "call-counts", key: String.self, value: Int64.self)
/// try await ServiceGroup(services: [streams, http], logger: logger).run()
/// ```
public struct StreamsHTTPServer: Service {
    private let streams: KafkaStreams
    private let host: String
    private let port: Int
    private let metrics: PrometheusCollectorRegistry?
    private let logger: Logger
    /// Told the port the server listens on, once it does.
    public var onListening: @Sendable (Int) async -> Void
    private var stores: [String: StoreEndpoint] = [:]
    private var pages: [String: Page] = [:]

    /// Serves `streams` on `host:port` (port 0: any free port, which `onListening` is told).
    /// `metrics` is the registry the application's `PrometheusMetricsFactory` writes to.
    public init(
        streams: KafkaStreams, host: String = "0.0.0.0", port: Int, metrics: PrometheusCollectorRegistry? = nil,
        logger: Logger = Logger(label: "rill.http"), onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.streams = streams
        self.host = host
        self.port = port
        self.metrics = metrics
        self.logger = logger
        self.onListening = onListening
    }

    /// Serves the key-value store `name` (a DSL table's too) under `/stores/{name}`; keys are
    /// read from the path with `K(_:)`.
    public mutating func queryable<K: LosslessStringConvertible & Encodable, V: Encodable>(
        keyValueStore name: String, key: K.Type, value: V.Type
    ) {
        stores[name] = .keyValue(name: name, streams: streams, key: key, value: value)
    }

    /// Serves the window store `name` (a windowed aggregation's too) under `/stores/{name}`.
    public mutating func queryable<K: LosslessStringConvertible & Encodable, V: Encodable>(
        windowStore name: String, key: K.Type, value: V.Type
    ) {
        stores[name] = .window(name: name, streams: streams, key: key, value: value)
    }

    /// Serves the session store `name` under `/stores/{name}/{key}`.
    public mutating func queryable<K: LosslessStringConvertible & Encodable, V: Encodable>(
        sessionStore name: String, key: K.Type, value: V.Type
    ) {
        stores[name] = .session(name: name, streams: streams, key: key, value: value)
    }

    /// Serves `html` at `path` (e.g. `/`), as a page of the application's own.
    public mutating func page(_ path: String, html: String) {
        pages[path] = .html(html)
    }

    /// Serves what `body` returns at `path` as JSON, computed at each request from its query
    /// parameters. `body` may suspend (to wait for a change, say) but must not block.
    public mutating func json(
        _ path: String, _ body: @escaping @Sendable (_ query: [String: String]) async throws -> any Encodable
    ) {
        pages[path] = .json(body)
    }

    public func run() async throws {
        let router = Router()
        router.get("health") { _, _ in health() }
        router.get("metrics") { _, _ in try metricsText() }
        router.get("topology") { request, _ in try topology(format: request.uri.queryParameters.get("format")) }
        router.get("stores") { _, _ in try await blocking { try storeList() } }
        router.get("stores/:store") { request, context in
            let store = try endpoint(context.parameters.get("store"))
            return try await blocking { try store.range(parameters(request)) }
        }
        router.get("stores/:store/:key") { request, context in
            let store = try endpoint(context.parameters.get("store"))
            let key = context.parameters.get("key").map { $0.removingPercentEncoding ?? $0 } ?? ""
            return try await blocking { try store.key(key, parameters(request), request.uri.path) }
        }
        for (path, page) in pages {
            router.get(RouterPath(path)) { request, _ in
                switch page {
                case .html(let html):
                    return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
                case .json(let body):
                    do { return JSONReply.ok(try await body(parameters(request))) } catch { throw HTTPFailure.from(error) }
                }
            }
        }
        let app = Application(
            router: router.addingErrorReplies(),
            configuration: .init(address: .hostname(host, port: port), serverName: "rill"),
            onServerRunning: { [onListening] channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.run()
    }

    private func health() -> Response {
        let state = streams.state
        return JSONReply.make(state == .running ? .ok : .serviceUnavailable, ["state": state.rawValue])
    }

    private func metricsText() throws -> Response {
        guard let metrics else {
            throw HTTPFailure(.notFound, "no metrics registry was given to this endpoint")
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
    }

    private func topology(format: String?) throws -> Response {
        let chosen = format ?? "text"
        guard let format = TopologyDescription.Format(rawValue: chosen) else {
            throw HTTPFailure(.badRequest, "unknown topology format '\(chosen)': use text, mermaid or dot")
        }
        let type = format == .dot ? "text/vnd.graphviz; charset=utf-8" : "text/plain; charset=utf-8"
        return Response(
            status: .ok, headers: [.contentType: type],
            body: .init(byteBuffer: ByteBuffer(string: streams.topology.describe().rendered(as: format))))
    }

    private struct StoreList: Encodable {
        struct Store: Encodable { let name: String; let type: String }
        struct Instance: Encodable { let host: String; let tasks: [String]; let stores: [String] }
        let stores: [Store]
        let instances: [Instance]
    }

    private func storeList() throws -> Response {
        let list = StoreList(
            stores: stores.values.map { StoreList.Store(name: $0.name, type: $0.kind) }.sorted { $0.name < $1.name },
            instances: streams.allMetadata.map {
                StoreList.Instance(host: $0.host.description, tasks: $0.tasks.sorted().map(\.description), stores: $0.stores.sorted())
            })
        return JSONReply.ok(list)
    }

    private func endpoint(_ name: String?) throws -> StoreEndpoint {
        let name = name.map { $0.removingPercentEncoding ?? $0 } ?? ""
        guard let store = stores[name] else {
            let known = stores.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw HTTPFailure(.notFound, "no queryable store named '\(name)' (this endpoint serves \(known.isEmpty ? "none" : known))")
        }
        return store
    }
}

/// A page of the application's own.
private enum Page: Sendable {
    case html(String)
    case json(@Sendable ([String: String]) async throws -> any Encodable)
}

/// The request's query parameters (the first of repeated ones).
private func parameters(_ request: Request) -> [String: String] {
    Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) }) { first, _ in first }
}

/// Runs a query, which may wait for a stream thread to let go of its stores, off the event loop on
/// a pool of its own (queries beyond its threads wait their turn); its errors become JSON answers.
func blocking<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
    do { return try await queryPool.runIfActive(body) } catch { throw HTTPFailure.from(error) }
}

/// The threads store queries run on.
private let queryPool: NIOThreadPool = {
    let pool = NIOThreadPool(numberOfThreads: 4)
    pool.start()
    return pool
}()
