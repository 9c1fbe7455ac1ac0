import Rill

/// The records a task has fetched but not processed, per input partition. The next record is
/// the head with the smallest timestamp, so a task processes its partitions in time order.
struct PartitionGroup {
    private(set) var queues: [PartitionQueue] = []
    private(set) var buffered = 0

    var isEmpty: Bool { queues.isEmpty }

    mutating func add(_ partition: TopicPartition) -> PartitionQueue {
        if let existing = queues.first(where: { $0.partition == partition }) { return existing }
        let queue = PartitionQueue(partition: partition)
        queues.append(queue)
        return queue
    }

    mutating func remove(_ partition: TopicPartition) {
        guard let index = queues.firstIndex(where: { $0.partition == partition }) else { return }
        buffered -= queues[index].count
        queues.remove(at: index)
    }

    /// Drops every fetched record not yet processed (they are fetched again from the processed offsets).
    mutating func dropBuffered() {
        for queue in queues { queue.dropBuffered() }
        buffered = 0
    }

    mutating func append(_ record: RawRecord, to queue: PartitionQueue) {
        queue.append(record)
        buffered += 1
    }

    /// Removes and returns the buffered record with the smallest timestamp, with its queue.
    mutating func next() -> (record: RawRecord, queue: PartitionQueue)? {
        guard buffered > 0 else { return nil }
        var best: PartitionQueue?
        if queues.count == 1 {
            best = queues[0]
        } else {
            var bestTimestamp = Int64.max
            for queue in queues {
                if let head = queue.headTimestamp, best == nil || head < bestTimestamp {
                    best = queue
                    bestTimestamp = head
                }
            }
        }
        guard let best, let record = best.removeFirst() else { return nil }
        buffered -= 1
        return (record, best)
    }
}

/// One input partition of a task: its fetched records (FIFO) and its positions.
final class PartitionQueue {
    let partition: TopicPartition
    private var records: [RawRecord] = []
    private var head = 0
    /// Last processed offset + 1: what a commit stores.
    var processedOffset: Int64?
    var committedOffset: Int64?

    init(partition: TopicPartition) { self.partition = partition }

    var count: Int { records.count - head }
    var headTimestamp: Int64? { head < records.count ? records[head].timestamp : nil }

    func append(_ record: RawRecord) { records.append(record) }

    func dropBuffered() {
        records = []
        head = 0
    }

    func removeFirst() -> RawRecord? {
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
