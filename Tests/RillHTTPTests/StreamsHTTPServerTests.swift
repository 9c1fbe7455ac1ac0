import Foundation
import Logging
import Prometheus
import Rill
import RillHTTP
import RillKafka
import Synchronization
import KafkaTestSupport
import XCTest

/// `StreamsHTTPServer` in front of applications running on the embedded broker: health, metrics,
/// the topology, store queries and their errors, and routing a key to the instance that holds it.
final class StreamsHTTPServerTests: XCTestCase {
    var broker: EmbeddedKafka!
    var stateDirs: [String] = []
    var servers: [Task<Void, Error>] = []

    override func setUpWithError() throws {
        broker = try EmbeddedKafka()
        try broker.createTopic("http-in", partitions: 4)
    }

    override func tearDown() {
        for server in servers { server.cancel() }
        for dir in stateDirs { try? FileManager.default.removeItem(atPath: dir) }
        broker = nil
    }

    /// Counts per key (`http-counts`) and per key and minute (`http-windows`).
    func streams(_ app: String, server: HostInfo? = nil, metrics: PrometheusCollectorRegistry? = nil) throws -> KafkaStreams {
        let builder = StreamsBuilder()
        let grouped = builder.stream("http-in", Consumed(.string, .string)).groupByKey()
        grouped.count(materialized: .as("http-counts"))
        grouped.windowedBy(try TimeWindows.ofSizeWithNoGrace(.seconds(60))).count(materialized: .as("http-windows"))
        var config = testConfig(app, broker.bootstrapServers, commitIntervalMs: 200)
        config.applicationServer = server
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-http-\(UUID().uuidString)").path
        stateDirs.append(dir)
        config.stateDir = dir
        return try KafkaStreams(
            try builder.build(), config: config,
            metricsFactory: metrics.map { PrometheusMetricsFactory(registry: $0) } ?? PrometheusMetricsFactory(registry: .init()))
    }

    /// The server's own log: quiet, as cancelling a test's server logs its open connections.
    static let quiet: Logger = {
        var logger = Logger(label: "rill.http.test")
        logger.logLevel = .critical
        return logger
    }()

    /// Starts `server` and returns the port it listens on.
    func serve(_ server: StreamsHTTPServer) throws -> Int {
        let port = Atomic(0)
        var server = server
        server.onListening = { port.store($0, ordering: .relaxed) }
        let running = server
        servers.append(Task.detached { try await running.run() })
        XCTAssertTrue(eventually(timeout: 10) { port.load(ordering: .relaxed) > 0 }, "the HTTP server did not start")
        return port.load(ordering: .relaxed)
    }

    func testEndpointsAnswerFromTheRunningApplicationAndNameWhatIsWrong() throws {
        let registry = PrometheusCollectorRegistry()
        let streams = try streams("http-app", metrics: registry)
        var http = StreamsHTTPServer(streams: streams, host: "127.0.0.1", port: 0, metrics: registry, logger: Self.quiet)
        http.queryable(keyValueStore: "http-counts", key: String.self, value: Int64.self)
        http.queryable(windowStore: "http-windows", key: String.self, value: Int64.self)
        let port = try serve(http)
        func get(_ path: String) throws -> HTTPAnswer { try httpGet(port: port, path) }

        // Before it runs: not healthy, and queries are to be retried.
        var answer = try get("/health")
        XCTAssertEqual(answer.status, 503)
        XCTAssertEqual((answer.json as? [String: Any])?["state"] as? String, "created")
        answer = try get("/stores/http-counts/k1")
        XCTAssertEqual(answer.status, 503, answer.body)
        XCTAssertEqual(answer.headers["retry-after"], "1")

        try streams.start()
        defer { streams.close() }
        try produceIndexed(broker.bootstrapServers, "http-in", 0..<200, keys: 10)
        XCTAssertTrue(eventually { (try? get("/stores/http-counts/k3"))?.body == #"{"key":"k3","value":20}"# })
        XCTAssertEqual(try get("/health").status, 200)

        // Key-value: a key, a missing key, the whole store, a key range.
        answer = try get("/stores/http-counts/k%3F")
        XCTAssertEqual(answer.status, 404)
        XCTAssertTrue(answer.body.contains("'k?'"), answer.body)
        let all = try XCTUnwrap(try get("/stores/http-counts").json as? [[String: Any]])
        XCTAssertEqual(all.count, 10)
        XCTAssertEqual(all.compactMap { $0["value"] as? Int }.reduce(0, +), 200)
        let range = try XCTUnwrap(try get("/stores/http-counts?from=k1&to=k3").json as? [[String: Any]])
        XCTAssertEqual(Set(range.compactMap { $0["key"] as? String }), ["k1", "k2", "k3"])

        // Windows: one key's, every key's, and malformed ranges.
        XCTAssertEqual(try get("/stores/http-windows/k3").body, #"[{"key":"k3","value":20,"windowEnd":60000,"windowStart":0}]"#)
        XCTAssertEqual(try get("/stores/http-windows/k3?from=60000").body, "[]")
        let windows = try XCTUnwrap(try get("/stores/http-windows?from=0&to=0").json as? [[String: Any]])
        XCTAssertEqual(windows.count, 10)
        answer = try get("/stores/http-windows/k3?from=yesterday")
        XCTAssertEqual(answer.status, 400)
        XCTAssertTrue(answer.body.contains("'from'") && answer.body.contains("yesterday"), answer.body)
        answer = try get("/stores/http-windows?from=5&to=1")
        XCTAssertEqual(answer.status, 400)
        XCTAssertTrue(answer.body.contains("empty"), answer.body)

        // Unknown store, unknown path.
        answer = try get("/stores/nope/k1")
        XCTAssertEqual(answer.status, 404)
        XCTAssertTrue(answer.body.contains("'nope'") && answer.body.contains("'http-counts'"), answer.body)
        answer = try get("/nowhere")
        XCTAssertEqual(answer.status, 404)
        XCTAssertTrue(answer.body.contains("/nowhere"), answer.body)

        // Metrics, topology, the list of stores.
        answer = try get("/metrics")
        XCTAssertEqual(answer.status, 200)
        XCTAssertTrue(answer.headers["content-type"]?.hasPrefix("text/plain") == true)
        XCTAssertTrue(answer.body.contains("rill_records_processed_total{"), answer.body)
        XCTAssertTrue(try get("/topology").body.contains("Sub-topology: 0"))
        XCTAssertTrue(try get("/topology?format=mermaid").body.hasPrefix("flowchart"))
        XCTAssertTrue(try get("/topology?format=dot").body.hasPrefix("digraph"))
        answer = try get("/topology?format=svg")
        XCTAssertEqual(answer.status, 400)
        XCTAssertTrue(answer.body.contains("'svg'"), answer.body)
        let list = try XCTUnwrap(try get("/stores").json as? [String: Any])
        XCTAssertEqual((list["stores"] as? [[String: Any]])?.compactMap { $0["name"] as? String }, ["http-counts", "http-windows"])

        // Closed: unhealthy, and queries can't be answered here any more (503, not the caller's fault).
        streams.close()
        answer = try get("/health")
        XCTAssertEqual(answer.status, 503)
        XCTAssertEqual((answer.json as? [String: Any])?["state"] as? String, "notRunning")
        answer = try get("/stores/http-counts/k3")
        XCTAssertEqual(answer.status, 503, answer.body)
        XCTAssertTrue(answer.body.contains("notRunning"), answer.body)
    }

    func testKeysOfTheWrongTypeAreBadRequests() throws {
        let streams = try streams("http-types")
        var http = StreamsHTTPServer(streams: streams, host: "127.0.0.1", port: 0, logger: Self.quiet)
        http.queryable(keyValueStore: "http-counts", key: Int64.self, value: Int64.self)
        let port = try serve(http)
        try streams.start()
        defer { streams.close() }
        XCTAssertTrue(eventually { streams.state == .running })

        var answer = try httpGet(port: port, "/stores/http-counts/k1")
        XCTAssertEqual(answer.status, 400)
        XCTAssertTrue(answer.body.contains("'k1'") && answer.body.contains("Int64"), answer.body)
        // A key that parses, for a store whose keys are of another type.
        answer = try httpGet(port: port, "/stores/http-counts/7")
        XCTAssertEqual(answer.status, 400)
        XCTAssertTrue(answer.body.contains("http-counts") && answer.body.contains("Int64"), answer.body)
        XCTAssertEqual(try httpGet(port: port, "/metrics").status, 404)
    }

    func testAKeyIsRoutedToTheWorkerThatHoldsIt() throws {
        let ports = [freePort(), freePort()]
        let hosts = ports.map { HostInfo(host: "127.0.0.1", port: $0) }
        let workers = try hosts.map { try streams("http-routing", server: $0) }
        defer { for worker in workers { worker.close() } }
        for (worker, port) in zip(workers, ports) {
            var http = StreamsHTTPServer(streams: worker, host: "127.0.0.1", port: port, logger: Self.quiet)
            http.queryable(keyValueStore: "http-counts", key: String.self, value: Int64.self)
            XCTAssertEqual(try serve(http), port)
            try worker.start()
        }
        try produceIndexed(broker.bootstrapServers, "http-in", 0..<400, keys: 20)
        let keys = (0..<20).map { "k\($0)" }

        // Both run two of the four tasks, and agree where every key is.
        XCTAssertTrue(eventually(timeout: 60) {
            workers.allSatisfy { $0.state == .running && $0.allMetadata.count == 2 }
                && keys.allSatisfy { key in
                    let answers = workers.map { try? $0.metadata(forKey: key, store: "http-counts") }
                    return answers[0] != nil && answers[0] == answers[1]
                }
        }, "\(workers.map(\.allMetadata))")
        XCTAssertEqual(workers[0].allMetadata.map(\.tasks.count), [2, 2])

        // Every key from worker 0: answered there, or redirected to worker 1 and answered there.
        var redirected = 0
        XCTAssertTrue(try eventually(timeout: 30) {
            redirected = 0
            for key in keys {
                var answer = try httpGet(port: ports[0], "/stores/http-counts/\(key)")
                if answer.status == 307 {
                    redirected += 1
                    let location = answer.headers["location"] ?? ""
                    guard location.hasPrefix("http://\(hosts[1])/stores/http-counts/\(key)?") else { return false }
                    answer = try httpGet(port: ports[1], String(location.dropFirst("http://\(hosts[1])".count)))
                }
                guard answer.body == #"{"key":"\#(key)","value":20}"# else { return false }
            }
            return true
        })
        XCTAssertGreaterThan(redirected, 0)
        XCTAssertLessThan(redirected, keys.count)

        // A request already routed once is not sent on again.
        let elsewhere = try XCTUnwrap(keys.first { try! workers[0].metadata(forKey: $0, store: "http-counts")?.activeHost == hosts[1] })
        let answer = try httpGet(port: ports[0], "/stores/http-counts/\(elsewhere)?routed=1")
        XCTAssertEqual(answer.status, 503, answer.body)

        // Worker 1 leaves: worker 0 takes its tasks over, and answers for every key itself.
        workers[1].close()
        XCTAssertTrue(try eventually(timeout: 60) {
            guard workers[0].state == .running, workers[0].allMetadata.map(\.host) == [hosts[0]] else { return false }
            for key in keys where try httpGet(port: ports[0], "/stores/http-counts/\(key)").body != #"{"key":"\#(key)","value":20}"# {
                return false
            }
            return true
        }, "\(workers[0].allMetadata)")
        XCTAssertEqual(try workers[0].metadata(forKey: elsewhere, store: "http-counts")?.activeHost, hosts[0])
    }
}
