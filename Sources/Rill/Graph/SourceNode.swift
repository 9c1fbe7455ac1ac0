/// A source node, seen from the task: takes raw records.
@usableFromInline
package class SourceNodeBase: AnyNode {
    /// Deserializes `raw` and forwards it. Deserialization failures are thrown as ``DeserializationFailure``.
    func process(_ raw: RawRecord) throws {}
}

/// Reads a record's bytes, deserializes them and forwards the typed record.
@usableFromInline
package final class SourceNode<K, V>: SourceNodeBase {
    @usableFromInline let downstream: Downstream<K, V>

    /// Deserializes one raw record and forwards it. Made by ``decoder(keySerde:valueSerde:timestampExtractor:)``,
    /// in the caller's specialization when the DSL is inlined into user code.
    @usableFromInline
    typealias Decode = (SourceNode<K, V>, RawRecord) throws -> Void

    @usableFromInline
    typealias MakeDecode = @Sendable (Serde<K>, Serde<V>, TimestampExtractor<K, V>?) -> Decode

    let decode: Decode

    init(name: String, context: NodeContext, decode: @escaping Decode) throws {
        downstream = try Downstream(context.children, parent: name)
        self.decode = decode
        super.init(name: name, task: context.task)
    }

    override func process(_ raw: RawRecord) throws {
        try decode(self, raw)
    }

    @inlinable
    static func decoder(keySerde: Serde<K>, valueSerde: Serde<V>, timestampExtractor: TimestampExtractor<K, V>?)
        -> Decode
    {
        { node, raw in
            let key: K
            let value: V
            do {
                key = try keySerde.deserialize(raw.key)
            } catch {
                throw DeserializationFailure(
                    error: .deserialization(source: raw.metadata, part: "key", node: node.name, reason: "\(error)"))
            }
            do {
                value = try valueSerde.deserialize(raw.value)
            } catch {
                throw DeserializationFailure(
                    error: .deserialization(source: raw.metadata, part: "value", node: node.name, reason: "\(error)"))
            }
            var timestamp = raw.timestamp
            if let timestampExtractor {
                timestamp = try userCode(node) { try timestampExtractor(key, value, raw.timestamp) }
            }
            guard timestamp >= 0 else {
                node.task.skipInvalidTimestamp(raw, extracted: timestamp)
                return
            }
            node.withTask { $0.advanceStreamTime(to: timestamp) }
            try node.downstream.forward(Record(key: key, value: value, timestamp: timestamp, headers: raw.headers))
        }
    }
}

/// Event time from a deserialized record: `(key, value, record timestamp) -> epoch ms`.
public typealias TimestampExtractor<K, V> = @Sendable (K, V, Int64) throws -> Int64

/// A deserialization error, kept apart so the task can hand it to the deserialization handler.
@usableFromInline
struct DeserializationFailure: Error {
    @usableFromInline let error: StreamsError

    @usableFromInline
    init(error: StreamsError) { self.error = error }
}
