import CoreMetrics
import Rill

/// What a stream thread reports through swift-metrics (to whatever backend the application has
/// bootstrapped, e.g. Prometheus). Every metric has `application` and `thread` dimensions; per-task
/// ones add `task`, per-partition ones `topic` and `partition`. Counters only count up: a backend
/// derives rates (Prometheus: `rate(rill_records_processed_total[1m])`).
///
/// | label | kind | what |
/// |---|---|---|
/// | `rill_records_processed_total` | counter, per task | records taken from the input |
/// | `rill_records_dropped_total` | counter, per task (`task=producer` for refused output) | records skipped by a handler or for a bad timestamp |
/// | `rill_dead_letter_records_total` | counter, per task (`task=producer` likewise) | records sent to a dead-letter topic |
/// | `rill_poll_time`, `rill_process_time`, `rill_punctuate_time` | timers | each loop iteration's poll, processing and punctuation |
/// | `rill_commit_latency` | timer | each commit: caches, producer flush, offsets |
/// | `rill_records_restored_total` | counter | changelog records restored into stores |
/// | `rill_restore_remaining_records` | gauge | records left to restore in the current restore |
/// | `rill_consumer_lag` | gauge, per partition | the partition's end offset minus the next offset to process, at each commit |
final class StreamThreadMetrics {
    private let factory: MetricsFactory
    private let dimensions: [(String, String)]
    let pollTime: Timer
    let processTime: Timer
    let punctuateTime: Timer
    let commitLatency: Timer
    let restoredRecords: Counter
    let restoreRemaining: Gauge

    private struct TaskCounters {
        let processed: Counter
        let dropped: Counter
        let deadLettered: Counter
        var reported = TaskMetrics()
    }
    private var tasks: [TaskID: TaskCounters] = [:]
    private let producerDropped: Counter
    private let producerDeadLettered: Counter
    private var producerReported: (dropped: Int64, deadLettered: Int64) = (0, 0)
    private var lag: [TopicPartition: Gauge] = [:]

    init(applicationID: String, thread: String, factory: MetricsFactory) {
        self.factory = factory
        dimensions = [("application", applicationID), ("thread", thread)]
        pollTime = Timer(label: "rill_poll_time", dimensions: dimensions, factory: factory)
        processTime = Timer(label: "rill_process_time", dimensions: dimensions, factory: factory)
        punctuateTime = Timer(label: "rill_punctuate_time", dimensions: dimensions, factory: factory)
        commitLatency = Timer(label: "rill_commit_latency", dimensions: dimensions, factory: factory)
        restoredRecords = Counter(label: "rill_records_restored_total", dimensions: dimensions, factory: factory)
        restoreRemaining = Gauge(label: "rill_restore_remaining_records", dimensions: dimensions, factory: factory)
        let producer = dimensions + [("task", "producer")]
        producerDropped = Counter(label: "rill_records_dropped_total", dimensions: producer, factory: factory)
        producerDeadLettered = Counter(label: "rill_dead_letter_records_total", dimensions: producer, factory: factory)
    }

    /// Adds what task `id` counted since the last report.
    func report(task id: TaskID, _ metrics: TaskMetrics) {
        var counters = tasks[id] ?? {
            let task = dimensions + [("task", id.description)]
            return TaskCounters(
                processed: Counter(label: "rill_records_processed_total", dimensions: task, factory: factory),
                dropped: Counter(label: "rill_records_dropped_total", dimensions: task, factory: factory),
                deadLettered: Counter(label: "rill_dead_letter_records_total", dimensions: task, factory: factory))
        }()
        let reported = counters.reported
        if metrics.processedRecords > reported.processedRecords {
            counters.processed.increment(by: metrics.processedRecords - reported.processedRecords)
        }
        if metrics.droppedRecords > reported.droppedRecords {
            counters.dropped.increment(by: metrics.droppedRecords - reported.droppedRecords)
        }
        if metrics.deadLetterRecords > reported.deadLetterRecords {
            counters.deadLettered.increment(by: metrics.deadLetterRecords - reported.deadLetterRecords)
        }
        counters.reported = metrics
        tasks[id] = counters
    }

    /// Forgets task `id` (closed here); its counters carry on if it comes back.
    func taskClosed(_ id: TaskID) {
        tasks[id] = nil
    }

    /// Adds what the production exception handler dropped or dead-lettered since the last report.
    func reportProducer(dropped: Int64, deadLettered: Int64) {
        if dropped > producerReported.dropped { producerDropped.increment(by: dropped - producerReported.dropped) }
        if deadLettered > producerReported.deadLettered {
            producerDeadLettered.increment(by: deadLettered - producerReported.deadLettered)
        }
        producerReported = (dropped, deadLettered)
    }

    /// Records how far `partition` is behind its end offset.
    func reportLag(_ partition: TopicPartition, _ records: Int64) {
        let gauge = lag[partition] ?? {
            let made = Gauge(
                label: "rill_consumer_lag",
                dimensions: dimensions + [("topic", partition.topic), ("partition", String(partition.partition))],
                factory: factory)
            lag[partition] = made
            return made
        }()
        gauge.record(records)
    }
}
