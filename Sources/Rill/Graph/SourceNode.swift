/// Reads a record's bytes, deserializes them and forwards the typed record.
package final class SourceNode<K, V>: AnyNode {
    let downstream: Downstream<K, V>
    let keySerde: Serde<K>
    let valueSerde: Serde<V>
    let timestampExtractor: TimestampExtractor<K, V>?

    init(
        name: String, context: NodeContext, keySerde: Serde<K>, valueSerde: Serde<V>,
        timestampExtractor: TimestampExtractor<K, V>?
    ) throws {
        downstream = try Downstream(context.children, parent: name)
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.timestampExtractor = timestampExtractor
        super.init(name: name, task: context.task)
    }

    /// Deserializes `raw` and forwards it. Deserialization failures are thrown as ``DeserializationFailure``.
    func process(_ raw: RawRecord) throws {
        let key: K
        let value: V
        do {
            key = try keySerde.deserialize(raw.key)
        } catch {
            throw DeserializationFailure(
                error: .deserialization(source: raw.metadata, part: "key", node: name, reason: "\(error)"))
        }
        do {
            value = try valueSerde.deserialize(raw.value)
        } catch {
            throw DeserializationFailure(
                error: .deserialization(source: raw.metadata, part: "value", node: name, reason: "\(error)"))
        }
        var timestamp = raw.timestamp
        if let timestampExtractor {
            timestamp = try userCode(self) { try timestampExtractor(key, value, raw.timestamp) }
        }
        guard timestamp >= 0 else {
            task.skipInvalidTimestamp(raw, extracted: timestamp)
            return
        }
        task.advanceStreamTime(to: timestamp)
        try downstream.forward(Record(key: key, value: value, timestamp: timestamp, headers: raw.headers))
    }
}

/// Event time from a deserialized record: `(key, value, record timestamp) -> epoch ms`.
public typealias TimestampExtractor<K, V> = @Sendable (K, V, Int64) throws -> Int64

/// A deserialization error, kept apart so the task can hand it to the deserialization handler.
struct DeserializationFailure: Error {
    let error: StreamsError
}
