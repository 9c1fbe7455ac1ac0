/// Serializes records and hands them to the task's record collector.
package final class SinkNode<K, V>: InputNode<K, V> {
    enum Target {
        case topic(String)
        case extractor(TopicNameExtractor<K, V>)
    }

    let target: Target
    let keySerde: Serde<K>
    let valueSerde: Serde<V>
    let partitioner: StreamPartitioner<K, V>?

    init(
        name: String, context: NodeContext, target: Target, keySerde: Serde<K>, valueSerde: Serde<V>,
        partitioner: StreamPartitioner<K, V>?
    ) throws {
        if let child = context.children.first {
            throw TopologyError("'\(name)' is a sink and can't have children ('\(child.name)')")
        }
        self.target = target
        self.keySerde = keySerde
        self.valueSerde = valueSerde
        self.partitioner = partitioner
        super.init(name: name, task: context.task)
    }

    override func process(_ record: Record<K, V>) throws {
        let topic: String
        switch target {
        case .topic(let name): topic = name
        case .extractor(let extract):
            topic = try userCode(self) { try extract(record.key, record.value, task.recordMetadata) }
        }
        let keyBytes: [UInt8]?
        let valueBytes: [UInt8]?
        do { keyBytes = try keySerde.serialize(record.key) } catch {
            throw StreamsError.serialization(topic: topic, node: name, part: "key", reason: "\(error)")
        }
        do { valueBytes = try valueSerde.serialize(record.value) } catch {
            throw StreamsError.serialization(topic: topic, node: name, part: "value", reason: "\(error)")
        }
        var partition: Int32? = nil
        if let partitioner {
            let count = try task.collector.partitionCount(topic: topic)
            partition = try userCode(self) { try partitioner(topic, record.key, record.value, count) }
        }
        try task.collector.send(
            topic: topic, partition: partition, key: keyBytes, value: valueBytes,
            timestamp: record.timestamp, headers: record.headers)
    }
}

/// Chooses a sink's topic per record: `(key, value, where the input record came from) -> topic`.
public typealias TopicNameExtractor<K, V> = @Sendable (K, V, RecordMetadata?) throws -> String

/// Chooses a partition per record: `(topic, key, value, partition count) -> partition`, or `nil` for the default partitioner.
public typealias StreamPartitioner<K, V> = @Sendable (String, K, V, Int32) throws -> Int32?
