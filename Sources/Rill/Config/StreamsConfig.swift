/// What a streams application runs with. Keys follow Kafka Streams; any key that is not
/// a Streams key is a client property and goes to librdkafka as it is.
///
/// ```swift
/// var config = StreamsConfig(applicationID: "call-volume", bootstrapServers: "localhost:9092")
/// config.deserializationExceptionHandler = .deadLetter(topic: "calls-dlq")
/// config["linger.ms"] = "5"
/// ```
public struct StreamsConfig: Sendable {
    /// `application.id`: the consumer group id and the prefix of internal topics.
    public var applicationID: String
    /// `bootstrap.servers`.
    public var bootstrapServers: String
    /// `commit.interval.ms`: how often offsets are committed (default 30 s; 100 ms under exactly-once).
    public var commitIntervalMs: Int64
    /// `processing.guarantee`.
    public var processingGuarantee: ProcessingGuarantee
    /// `num.stream.threads`.
    public var numStreamThreads: Int
    /// `num.standby.replicas`: above 0, an instance keeps warm copies of the persistent stores of
    /// tasks it does not run, to take them over without a full restore (see the README for how
    /// many it keeps).
    public var numStandbyReplicas: Int
    /// `state.dir`.
    public var stateDir: String
    /// `default.key.serde`, used where an operator has none of its own.
    public var defaultKeySerde: AnySerde?
    /// `default.value.serde`, used where an operator has none of its own.
    public var defaultValueSerde: AnySerde?
    /// `default.deserialization.exception.handler`.
    public var deserializationExceptionHandler: ErrorHandling
    /// `processing.exception.handler`: for errors thrown by processors (user code).
    public var processingExceptionHandler: ErrorHandling
    /// `production.exception.handler` (or `default.production.exception.handler`): for records the
    /// brokers refuse (too large, unknown topic). Authorization and authentication failures stop the
    /// application whatever it says, as in Kafka Streams. A dead-letter record is the refused record
    /// (its key, value and headers as sent) with `rill.error` and `rill.sink.topic` headers.
    public var productionExceptionHandler: ErrorHandling
    /// `rill.startup.timeout.ms`: how long `start()` waits for the brokers before failing.
    public var startupTimeoutMs: Int64
    /// `task.timeout.ms`: how long a stream thread waits for brokers that stopped answering before
    /// it fails with an error naming them (default 5 minutes, as in Kafka Streams).
    public var taskTimeoutMs: Int64
    /// `max.task.idle.ms`: how long a task reading several partitions (a join, a merge) waits for
    /// one of them that has no records buffered while others do, so that it processes them in
    /// timestamp order. 0 (the default) waits only for records already on the broker; -1 never waits.
    public var maxTaskIdleMs: Int64
    /// `statestore.cache.max.bytes` (or its old name `cache.max.bytes.buffering`): the record cache
    /// of all stream threads together, split evenly between them (default 10 MiB; 0 turns caching off).
    public var cacheMaxBytes: Int
    /// `application.server`: the `host:port` where this instance answers queries (its HTTP endpoint),
    /// which it tells the other instances so that a query for any key can be routed to the instance
    /// holding it (`KafkaStreams.metadata(forKey:store:)`). Unset (the default), nothing is shared.
    public var applicationServer: HostInfo?
    /// Properties for the Kafka clients (librdkafka), e.g. `security.protocol`, `linger.ms`.
    public var clientProperties: [String: String]

    private var commitIntervalWasSet = false

    public init(applicationID: String, bootstrapServers: String = "") {
        self.applicationID = applicationID
        self.bootstrapServers = bootstrapServers
        self.commitIntervalMs = 30_000
        self.processingGuarantee = .atLeastOnce
        self.numStreamThreads = 1
        self.numStandbyReplicas = 0
        self.stateDir = "/tmp/rill"
        self.defaultKeySerde = nil
        self.defaultValueSerde = nil
        self.deserializationExceptionHandler = .fail
        self.processingExceptionHandler = .fail
        self.productionExceptionHandler = .fail
        self.startupTimeoutMs = 30_000
        self.taskTimeoutMs = 300_000
        self.maxTaskIdleMs = 0
        self.cacheMaxBytes = 10 << 20
        self.clientProperties = [:]
    }

    /// A config from Kafka Streams-style properties. Streams keys are parsed; other keys are
    /// client properties (validated by the runtime, which names any key librdkafka rejects).
    public init(properties: [String: String]) throws {
        guard let id = properties["application.id"], !id.isEmpty else {
            throw ConfigError(key: "application.id", message: "is required")
        }
        self.init(applicationID: id)
        for (key, value) in properties where key != "application.id" { try set(key, value) }
    }

    /// Sets a property by its Kafka Streams name (unknown names are client properties), checking
    /// the values of Kafka Streams' own properties; librdkafka checks the rest when a client starts.
    public mutating func set(_ key: String, _ value: String) throws {
        try validate(key: key, value: value)
        self[key] = value
    }

    /// The dead-letter topics the exception handlers write to.
    public var deadLetterTopics: Set<String> {
        var topics: Set<String> = []
        for handling in [deserializationExceptionHandler, processingExceptionHandler, productionExceptionHandler] {
            if case .deadLetter(let topic) = handling { topics.insert(topic) }
        }
        return topics
    }

    /// Reads or sets a property by its Kafka Streams name; unknown names are client properties.
    public subscript(key: String) -> String? {
        get {
            switch key {
            case "application.id": return applicationID
            case "bootstrap.servers": return bootstrapServers
            case "commit.interval.ms": return String(commitIntervalMs)
            case "processing.guarantee": return processingGuarantee.rawValue
            case "num.stream.threads": return String(numStreamThreads)
            case "num.standby.replicas": return String(numStandbyReplicas)
            case "state.dir": return stateDir
            case "rill.startup.timeout.ms": return String(startupTimeoutMs)
            case "task.timeout.ms": return String(taskTimeoutMs)
            case "max.task.idle.ms": return String(maxTaskIdleMs)
            case "statestore.cache.max.bytes", "cache.max.bytes.buffering": return String(cacheMaxBytes)
            case "application.server": return applicationServer?.description
            default: return clientProperties[key]
            }
        }
        set {
            switch key {
            case "application.id": applicationID = newValue ?? ""
            case "bootstrap.servers": bootstrapServers = newValue ?? ""
            case "commit.interval.ms":
                if let v = newValue.flatMap(Int64.init) { commitIntervalMs = v; commitIntervalWasSet = true }
            case "processing.guarantee":
                if let v = newValue.flatMap(ProcessingGuarantee.init(rawValue:)) {
                    processingGuarantee = v
                    if v == .exactlyOnceV2 && !commitIntervalWasSet { commitIntervalMs = 100 }
                }
            case "num.stream.threads": if let v = newValue.flatMap(Int.init) { numStreamThreads = v }
            case "num.standby.replicas": if let v = newValue.flatMap(Int.init) { numStandbyReplicas = v }
            case "state.dir": if let v = newValue { stateDir = v }
            case "rill.startup.timeout.ms": if let v = newValue.flatMap(Int64.init) { startupTimeoutMs = v }
            case "task.timeout.ms": if let v = newValue.flatMap(Int64.init) { taskTimeoutMs = v }
            case "max.task.idle.ms": if let v = newValue.flatMap(Int64.init) { maxTaskIdleMs = v }
            case "statestore.cache.max.bytes", "cache.max.bytes.buffering":
                if let v = newValue.flatMap(Int.init) { cacheMaxBytes = v }
            case "default.deserialization.exception.handler":
                if let v = newValue.flatMap(ErrorHandling.init(configValue:)) { deserializationExceptionHandler = v }
            case "processing.exception.handler":
                if let v = newValue.flatMap(ErrorHandling.init(configValue:)) { processingExceptionHandler = v }
            case "production.exception.handler", "default.production.exception.handler":
                if let v = newValue.flatMap(ErrorHandling.init(configValue:)) { productionExceptionHandler = v }
            case "application.server": applicationServer = newValue.flatMap(HostInfo.init)
            case "default.key.serde": defaultKeySerde = newValue.flatMap(builtInSerde(named:))
            case "default.value.serde": defaultValueSerde = newValue.flatMap(builtInSerde(named:))
            default: clientProperties[key] = newValue
            }
        }
    }

    private func validate(key: String, value: String) throws {
        switch key {
        case "commit.interval.ms", "rill.startup.timeout.ms", "task.timeout.ms":
            guard Int64(value).map({ $0 >= 0 }) == true else { throw ConfigError(key: key, message: "must be milliseconds >= 0, got '\(value)'") }
        case "max.task.idle.ms":
            guard Int64(value).map({ $0 >= -1 }) == true else { throw ConfigError(key: key, message: "must be milliseconds >= -1, got '\(value)'") }
        case "statestore.cache.max.bytes", "cache.max.bytes.buffering":
            guard Int(value).map({ $0 >= 0 }) == true else { throw ConfigError(key: key, message: "must be bytes >= 0, got '\(value)'") }
        case "num.stream.threads":
            guard Int(value).map({ $0 >= 1 }) == true else { throw ConfigError(key: key, message: "must be >= 1, got '\(value)'") }
        case "num.standby.replicas":
            guard Int(value).map({ $0 >= 0 }) == true else { throw ConfigError(key: key, message: "must be >= 0, got '\(value)'") }
        case "processing.guarantee":
            guard ProcessingGuarantee(rawValue: value) != nil else {
                throw ConfigError(key: key, message: "must be at_least_once or exactly_once_v2, got '\(value)'")
            }
        case "default.deserialization.exception.handler", "processing.exception.handler", "production.exception.handler",
            "default.production.exception.handler":
            guard ErrorHandling(configValue: value) != nil else {
                throw ConfigError(key: key, message: "must be fail, log_and_continue or dead_letter:<topic>, got '\(value)'")
            }
        case "application.server":
            guard HostInfo(value) != nil else { throw ConfigError(key: key, message: "must be host:port, got '\(value)'") }
        case "default.key.serde", "default.value.serde":
            guard builtInSerde(named: value) != nil else {
                throw ConfigError(key: key, message: "must be one of bytes, string, int32, int64, double, uuid; got '\(value)'")
            }
        default: break
        }
    }
}

extension StreamsConfig: CustomStringConvertible {
    /// Whether a property holds a secret (a password, key or token), which is never printed.
    public static func isSecret(_ key: String) -> Bool {
        let key = key.lowercased()
        return ["password", "secret", "jaas", "oauthbearer.config", "key.pem", "private", "token", "credential"]
            .contains { key.contains($0) }
    }

    /// The settings as `key=value` lines, secrets shown as `[redacted]`.
    public var description: String {
        var lines = [
            "application.id=\(applicationID)", "bootstrap.servers=\(bootstrapServers)",
            "commit.interval.ms=\(commitIntervalMs)", "processing.guarantee=\(processingGuarantee.rawValue)",
            "num.stream.threads=\(numStreamThreads)", "state.dir=\(stateDir)",
            "statestore.cache.max.bytes=\(cacheMaxBytes)",
        ]
        for (key, value) in clientProperties.sorted(by: { $0.key < $1.key }) {
            lines.append("\(key)=\(Self.isSecret(key) ? "[redacted]" : value)")
        }
        return lines.joined(separator: "\n")
    }
}

/// `processing.guarantee`.
public enum ProcessingGuarantee: String, Sendable {
    case atLeastOnce = "at_least_once"
    case exactlyOnceV2 = "exactly_once_v2"
}

/// A configuration value that can't be used; the message names the key.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let key: String
    public let message: String
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }
    public var description: String { "Invalid configuration '\(key)': \(message)" }
}

extension ErrorHandling {
    init?(configValue: String) {
        switch configValue {
        case "fail": self = .fail
        case "log_and_continue", "continue": self = .logAndContinue
        default:
            guard configValue.hasPrefix("dead_letter:") else { return nil }
            let topic = String(configValue.dropFirst("dead_letter:".count))
            guard !topic.isEmpty else { return nil }
            self = .deadLetter(topic: topic)
        }
    }
}

private func builtInSerde(named name: String) -> AnySerde? {
    switch name.lowercased() {
    case "bytes", "bytearray": return AnySerde(Serde<[UInt8]>.bytes)
    case "string": return AnySerde(Serde<String>.string)
    case "int32", "integer": return AnySerde(Serde<Int32>.int32)
    case "int64", "long": return AnySerde(Serde<Int64>.int64)
    case "double": return AnySerde(Serde<Double>.double)
    case "uuid": return AnySerde(Serde<UUID>.uuid)
    default: return nil
    }
}

import Foundation
