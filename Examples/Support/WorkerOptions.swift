import ArgumentParser
import Rill

/// The processing guarantee, as the sample apps' `--guarantee` names it.
public enum Guarantee: String, ExpressibleByArgument, CaseIterable, Sendable {
    case atLeastOnce = "at-least-once"
    case exactlyOnce = "exactly-once"

    var processingGuarantee: ProcessingGuarantee {
        switch self {
        case .atLeastOnce: .atLeastOnce
        case .exactlyOnce: .exactlyOnceV2
        }
    }
}

/// The flags both sample apps take.
public struct WorkerOptions: ParsableArguments {
    @Option(help: "Kafka brokers, host:port[,host:port]. With it the app is a worker; without it, a demo on an embedded broker.")
    public var bootstrapServers: String?

    @Option(help: "The application id: the consumer group, and the prefix of internal topics.")
    public var applicationId: String?

    @Option(help: "Where state stores live.")
    public var stateDir: String?

    @Option(help: "Stream threads.")
    public var threads: Int = 1

    @Option(help: "Processing guarantee: \(Guarantee.allCases.map(\.rawValue).joined(separator: " or ")).")
    public var guarantee: Guarantee = .atLeastOnce

    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "A Kafka Streams or librdkafka property, KEY=VALUE; repeatable (e.g. security.protocol=SASL_SSL).",
            valueName: "key=value"))
    public var properties: [String] = []

    @Option(help: ArgumentHelp(
        "Serve HTTP on this port: a live page at /, /health, /metrics (Prometheus), /topology and /stores/{store}/{key}. The instance's application.server is localhost:PORT unless --config sets it.",
        valueName: "port"))
    public var httpPort: Int?

    @Flag(help: "Print the topology and exit.")
    public var describe = false

    @Option(help: "How --describe prints: text (Kafka Streams' format), mermaid (a flowchart) or dot (Graphviz).")
    public var describeFormat: TopologyDescription.Format = .text

    public init() {}

    public func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let applicationId, applicationId.isEmpty { throw ValidationError("--application-id must not be empty") }
        if let httpPort, !(1...65_535).contains(httpPort) { throw ValidationError("--http-port must be 1-65535, got \(httpPort)") }
        var config = StreamsConfig(applicationID: "check")
        for (key, value) in try parsedProperties() {
            do { try config.set(key, value) } catch { throw ValidationError("--config \(key): \(error)") }
        }
    }

    private func parsedProperties() throws -> [(key: String, value: String)] {
        try properties.map { property in
            guard let equals = property.firstIndex(of: "="), equals != property.startIndex else {
                throw ValidationError("--config takes KEY=VALUE, got '\(property)'")
            }
            return (String(property[..<equals]), String(property[property.index(after: equals)...]))
        }
    }

    /// The streams config these flags give, for `defaultApplicationID` unless one is given:
    /// the app's own settings (`configure`) first, then any `--config` property over them.
    ///
    /// With `--http-port`, `application.server` is `localhost:<port>` unless a `--config` sets it:
    /// workers on other hosts set theirs, so that a key's query is redirected where it can be reached.
    ///
    /// A worker that leaves or dies is noticed within 10 s (`session.timeout.ms`; Kafka's default
    /// is 45 s), so its partitions move on quickly; `--config consumer.session.timeout.ms=...` changes it.
    public func config(
        defaultApplicationID: String, bootstrapServers: String, configure: (inout StreamsConfig) -> Void
    ) throws -> StreamsConfig {
        var config = StreamsConfig(applicationID: applicationId ?? defaultApplicationID, bootstrapServers: bootstrapServers)
        config.numStreamThreads = threads
        config.processingGuarantee = guarantee.processingGuarantee
        if let stateDir { config.stateDir = stateDir }
        config["consumer.session.timeout.ms"] = "10000"
        configure(&config)
        if let httpPort { config.applicationServer = HostInfo(host: "localhost", port: httpPort) }
        for (key, value) in try parsedProperties() { try config.set(key, value) }
        return config
    }
}

extension TopologyDescription.Format: ExpressibleByArgument {}
