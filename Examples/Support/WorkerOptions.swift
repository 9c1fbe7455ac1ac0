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

    @Flag(help: "Print the topology and exit.")
    public var describe = false

    public init() {}

    public func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let applicationId, applicationId.isEmpty { throw ValidationError("--application-id must not be empty") }
    }

    /// The streams config these flags give, for `defaultApplicationID` unless one is given.
    public func config(defaultApplicationID: String, bootstrapServers: String) -> StreamsConfig {
        var config = StreamsConfig(applicationID: applicationId ?? defaultApplicationID, bootstrapServers: bootstrapServers)
        config.numStreamThreads = threads
        config.processingGuarantee = guarantee.processingGuarantee
        if let stateDir { config.stateDir = stateDir }
        return config
    }
}
