/// Serializes records and hands them to the task's record collector.
@usableFromInline
package final class SinkNode<K, V>: InputNode<K, V> {
    @usableFromInline
    enum Target: Sendable {
        case topic(String)
        case extractor(TopicNameExtractor<K, V>)
    }

    /// Serializes and sends one record: the node's work. Made by
    /// ``sender(target:keySerde:valueSerde:partitioner:)``, in the caller's specialization when the
    /// DSL is inlined into user code.
    @usableFromInline
    typealias Send = NodeWork<SinkNode, K, V>

    @usableFromInline
    typealias MakeSend = @Sendable (Target, Serde<K>, Serde<V>, StreamPartitioner<K, V>?) -> Send

    /// The work for a record passed by value (the entry is ``InputNode/entry``).
    let sendByValue: @Sendable (SinkNode, Record<K, V>) throws -> Void

    init(name: String, context: NodeContext, send: Send) throws {
        if let child = context.children.first {
            throw TopologyError("'\(name)' is a sink and can't have children ('\(child.name)')")
        }
        sendByValue = send.process
        super.init(name: name, task: context.task, entry: send.entry)
    }

    override func process(_ record: Record<K, V>) throws {
        try sendByValue(self, record)
    }

    @inlinable
    static func sender(
        target: Target, keySerde: Serde<K>, valueSerde: Serde<V>, partitioner: StreamPartitioner<K, V>?
    ) -> Send {
        NodeWork(
            entry: { node, record in
                try send(
                    record.assumingMemoryBound(to: Record<K, V>.self), from: unsafeDowncast(node, to: SinkNode.self),
                    target: target, keySerde: keySerde, valueSerde: valueSerde, partitioner: partitioner)
            },
            process: { node, record in
                try withUnsafePointer(to: record) {
                    try send(
                        $0, from: node, target: target, keySerde: keySerde, valueSerde: valueSerde, partitioner: partitioner)
                }
            })
    }

    @inlinable
    static func send(
        _ record: UnsafePointer<Record<K, V>>, from node: SinkNode, target: Target, keySerde: Serde<K>, valueSerde: Serde<V>,
        partitioner: StreamPartitioner<K, V>?
    ) throws {
        let topic: String
        switch target {
        case .topic(let name): topic = name
        case .extractor(let extract):
            topic = try userCode(node) { try extract(record.pointee.key, record.pointee.value, node.task.recordMetadata) }
        }
        let keyBytes: [UInt8]?
        let valueBytes: [UInt8]?
        do { keyBytes = try keySerde.serialize(record.pointee.key) } catch {
            throw StreamsError.serialization(topic: topic, node: node.name, part: "key", reason: "\(error)")
        }
        do { valueBytes = try valueSerde.serialize(record.pointee.value) } catch {
            throw StreamsError.serialization(topic: topic, node: node.name, part: "value", reason: "\(error)")
        }
        var partition: Int32? = nil
        if let partitioner {
            let count = try node.task.collector.partitionCount(topic: topic)
            partition = try userCode(node) { try partitioner(topic, record.pointee.key, record.pointee.value, count) }
        }
        try node.withTask { task in
            try task.collector.send(
                topic: topic, partition: partition, key: keyBytes, value: valueBytes,
                timestamp: record.pointee.timestamp, headers: record.pointee.headers)
        }
    }
}

/// Chooses a sink's topic per record: `(key, value, where the input record came from) -> topic`.
public typealias TopicNameExtractor<K, V> = @Sendable (K, V, RecordMetadata?) throws -> String

/// Chooses a partition per record: `(topic, key, value, partition count) -> partition`, or `nil` for the default partitioner.
public typealias StreamPartitioner<K, V> = @Sendable (String, K, V, Int32) throws -> Int32?
