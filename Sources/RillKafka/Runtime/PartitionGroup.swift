import Rill

/// The records a task has fetched but not processed, per input partition. The next record is
/// the head with the smallest timestamp, so a task processes its partitions in time order.
///
/// A task reading several partitions waits, before it processes, for those of them that have
/// nothing buffered (Kafka Streams' `max.task.idle.ms`): while a partition has records on the
/// broker not fetched yet, or its fetch position is not known yet, for up to
/// ``PartitionGroup/fetchWaitMs`` (or `max.task.idle.ms` if longer); while it is caught up, for
/// `max.task.idle.ms` (0 by default: not at all; -1 never waits). Without this, one side of a join
/// would run ahead of the other, and the other's records would arrive after their windows closed.
struct PartitionGroup {
    /// How long at most a task waits for records on the broker that its consumer has not fetched
    /// yet, or for a partition whose position is not known yet. Kafka Streams waits without bound;
    /// this bound keeps a task going when an open transaction on a `read_committed` input holds
    /// records back (librdkafka's cached end offset is the high watermark, not the last stable offset).
    static let fetchWaitMs: Int64 = 10_000

    /// Whether a partition has records on the broker beyond what was fetched: nil when not known.
    typealias HasUnfetchedRecords = (PartitionQueue) -> Bool?

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

    mutating func append(_ record: __owned RawRecord, to queue: PartitionQueue) {
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

    /// Whether the task may process its next record now; see the type's description.
    func isProcessable(
        now: ContinuousClock.Instant, maxTaskIdleMs: Int64, hasUnfetchedRecords: HasUnfetchedRecords
    ) -> Bool {
        guard buffered > 0 else { return false }
        guard queues.count > 1, maxTaskIdleMs >= 0 else { return true }
        var processable = true
        for queue in queues where queue.count == 0 {
            let since = queue.emptySince ?? now
            queue.emptySince = since
            let limit = hasUnfetchedRecords(queue) == false ? maxTaskIdleMs : max(maxTaskIdleMs, Self.fetchWaitMs)
            if now - since < .milliseconds(limit) { processable = false }
        }
        return processable
    }
}

/// One input partition of a task: its fetched records (FIFO) and its positions.
final class PartitionQueue {
    let partition: TopicPartition
    /// Taken records are nil: taking moves a record out without copying it.
    ///
    /// Only its stream thread touches a queue, so its fields skip the runtime's exclusivity checks.
    @exclusivity(unchecked) private var records: [RawRecord?] = []
    @exclusivity(unchecked) private var head = 0
    /// Last processed offset + 1: what a commit stores.
    @exclusivity(unchecked) var processedOffset: Int64?
    @exclusivity(unchecked) var committedOffset: Int64?

    init(partition: TopicPartition) { self.partition = partition }

    var count: Int { records.count - head }
    var headTimestamp: Int64? { head < records.count ? records[head]?.timestamp : nil }

    /// The offset after the last record fetched into the queue since the last seek.
    @exclusivity(unchecked) private(set) var fetchedOffset: Int64?
    /// Since when the queue has been empty while its task had records of other partitions to process.
    @exclusivity(unchecked) var emptySince: ContinuousClock.Instant?

    /// Where the consumer reads this partition next: after what was fetched, processed or committed.
    var nextFetchOffset: Int64? { fetchedOffset ?? processedOffset ?? committedOffset }

    func append(_ record: __owned RawRecord) {
        fetchedOffset = record.offset + 1
        records.append(record)
        emptySince = nil
    }

    func dropBuffered() {
        records = []
        head = 0
        fetchedOffset = nil
    }

    func removeFirst() -> RawRecord? {
        guard head < records.count else { return nil }
        let record = records[head].take()
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
