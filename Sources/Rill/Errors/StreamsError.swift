/// An error while processing records, naming the topic, partition, offset or processor at fault.
public enum StreamsError: Error, CustomStringConvertible, Sendable {
    /// A record's key or value could not be deserialized.
    case deserialization(source: RecordMetadata, part: String, node: String, reason: String)
    /// A record could not be serialized for a sink.
    case serialization(topic: String, node: String, part: String, reason: String)
    /// A processor (user code) threw while processing a record.
    case processing(node: String, source: RecordMetadata?, reason: String)
    /// A punctuator threw.
    case punctuation(node: String, reason: String)
    /// A configured serde does not fit the type an operator needs.
    case serdeMismatch(node: String, part: String, needed: String, configured: String?)
    /// A record could not be produced.
    case production(topic: String, reason: String)
    /// Anything else, with its message.
    case other(String)

    /// Whether a record could not be produced.
    public var isProduction: Bool {
        if case .production = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .deserialization(let source, let part, let node, let reason):
            return "Failed to deserialize \(part) of record from topic '\(source.topic)' partition \(source.partition) "
                + "offset \(source.offset) in \(node): \(reason)"
        case .serialization(let topic, let node, let part, let reason):
            return "Failed to serialize \(part) for topic '\(topic)' in \(node): \(reason)"
        case .processing(let node, let source, let reason):
            let from = source.map { " (record from topic '\($0.topic)' partition \($0.partition) offset \($0.offset))" } ?? ""
            return "Processor \(node) failed\(from): \(reason)"
        case .punctuation(let node, let reason):
            return "Punctuator of \(node) failed: \(reason)"
        case .serdeMismatch(let node, let part, let needed, let configured):
            if let configured {
                return "\(node) needs a \(part) serde for \(needed), but the configured default is for \(configured)"
            }
            return "\(node) has no \(part) serde for \(needed): pass one (Consumed/Produced) or set a default in StreamsConfig"
        case .production(let topic, let reason):
            return "Failed to produce to topic '\(topic)': \(reason)"
        case .other(let message):
            return message
        }
    }
}

/// How a handler treats a record that failed: stop, skip it, or send it to a dead-letter topic.
public enum ErrorHandling: Sendable, Equatable {
    /// Stop processing with an error naming the record (the default).
    case fail
    /// Log, count and skip the record.
    case logAndContinue
    /// Write the record's original key and value bytes to `topic`, with headers
    /// `rill.error`, `rill.source.topic`, `rill.source.partition` and `rill.source.offset`; then continue.
    case deadLetter(topic: String)
}
