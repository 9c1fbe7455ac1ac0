import Rill

/// The records a task has fetched but not processed, per input partition. The next record is
/// the head with the smallest timestamp, so a task processes its partitions in time order.
struct PartitionGroup {
    private var queues: [TopicPartition: RecordQueue] = [:]
    private(set) var buffered = 0

    mutating func add(_ partition: TopicPartition) {
        if queues[partition] == nil { queues[partition] = RecordQueue() }
    }

    mutating func remove(_ partition: TopicPartition) {
        if let queue = queues.removeValue(forKey: partition) { buffered -= queue.count }
    }

    var partitions: Dictionary<TopicPartition, RecordQueue>.Keys { queues.keys }

    mutating func append(_ record: ConsumedRecord, to partition: TopicPartition) {
        queues[partition, default: RecordQueue()].append(record)
        buffered += 1
    }

    /// Removes and returns the buffered record with the smallest timestamp.
    mutating func next() -> ConsumedRecord? {
        guard buffered > 0 else { return nil }
        var best: TopicPartition?
        var bestTimestamp = Int64.max
        for (partition, queue) in queues {
            if let head = queue.headTimestamp, head < bestTimestamp || best == nil {
                best = partition
                bestTimestamp = head
            }
        }
        guard let best else { return nil }
        buffered -= 1
        return queues[best]?.removeFirst()
    }
}

/// A FIFO of fetched records of one partition.
struct RecordQueue {
    private var records: [ConsumedRecord] = []
    private var head = 0

    var count: Int { records.count - head }
    var headTimestamp: Int64? { head < records.count ? records[head].timestamp : nil }

    mutating func append(_ record: ConsumedRecord) { records.append(record) }

    mutating func removeFirst() -> ConsumedRecord? {
        guard head < records.count else { return nil }
        let record = records[head]
        head += 1
        if head == records.count {
            records.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096 && head * 2 > records.count {
            records.removeFirst(head)
            head = 0
        }
        return record
    }
}
