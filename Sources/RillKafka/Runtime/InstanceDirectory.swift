import Foundation
import Logging
import Rill
import Synchronization

/// Which instance of an application (its `application.server`) runs which task, so that a query
/// for a key can be routed to the instance that holds it.
///
/// Kafka Streams shares each member's `application.server` in the consumer group's assignment user
/// data, which librdkafka's C API can't reach. Rill's stream threads publish their tasks instead,
/// after every rebalance, to a compacted topic of their own, `<application.id>-rill-instances`
/// (one record per stream thread, keyed by its instance's server and its name, so that a restarted
/// instance replaces its earlier claims; a tombstone when it closes), and every instance follows
/// that topic from its beginning.
///
/// One partition orders every claim. A task claimed by two threads (one has taken it over, the
/// other has not published since) belongs to the later claim. A crashed instance's claims stay
/// until the threads that take its tasks over publish theirs, a rebalance later.
final class InstanceDirectory: @unchecked Sendable {
    static func topic(applicationID: String) -> String { "\(applicationID)-rill-instances" }

    /// One stream thread's latest claim, at `offset` in the topic.
    struct Claim: Equatable {
        var server: HostInfo
        var tasks: Set<TaskID>
        var offset: Int64
    }

    private struct Wire: Codable {
        var server: String
        var tasks: [[Int]]
    }

    let server: HostInfo
    private let topic: String
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let logger: Logger
    private let claims = Mutex<[String: Claim]>([:])
    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    init(
        applicationID: String, server: HostInfo, consumerConfig: KafkaClientConfig, producerConfig: KafkaClientConfig,
        logger: Logger
    ) throws {
        self.server = server
        topic = Self.topic(applicationID: applicationID)
        var consumerConfig = consumerConfig
        consumerConfig["client.id"] = "\(applicationID)-instance-directory"
        consumerConfig["isolation.level"] = "read_uncommitted"
        consumer = try KafkaConsumer(config: consumerConfig, logger: logger)
        var producerConfig = producerConfig
        producerConfig["transactional.id"] = nil
        producerConfig["enable.idempotence"] = "true"
        producer = try KafkaProducer(config: producerConfig, logger: logger)
        self.logger = logger
    }

    /// Follows the topic from its beginning, on a thread of its own.
    func start() throws {
        try consumer.assign([TopicPartition(topic: topic, partition: 0): 0])
        started.store(true, ordering: .relaxed)
        Thread { [self] in
            defer { finished.signal() }
            while !stopRequested.load(ordering: .relaxed) {
                do {
                    for record in try consumer.poll(max: 500, timeoutMs: 100) { read(record) }
                } catch {
                    logger.warning("Reading \(topic) failed: \(error)")
                    Thread.sleep(forTimeInterval: 0.5)
                }
            }
        }.start()
    }

    private func read(_ record: ConsumedRecord) {
        guard let key = record.key.map({ String(decoding: $0, as: UTF8.self) }) else { return }
        guard let value = record.value else {
            claims.withLock { $0[key] = nil }
            return
        }
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(value)), let server = HostInfo(wire.server) else {
            logger.warning("Ignoring an unreadable claim of \(key) in \(topic) at offset \(record.offset)")
            return
        }
        let tasks = Set(wire.tasks.compactMap { pair -> TaskID? in
            guard pair.count == 2, let partition = Int32(exactly: pair[1]) else { return nil }
            return TaskID(subtopology: pair[0], partition: partition)
        })
        claims.withLock { $0[key] = Claim(server: server, tasks: tasks, offset: record.offset) }
    }

    /// Tells every instance that stream thread `member` of this instance now runs `tasks`.
    func publish(member: String, tasks: some Collection<TaskID>) {
        let wire = Wire(server: server.description, tasks: tasks.sorted().map { [$0.subtopology, Int($0.partition)] })
        send(member: member, value: try? JSONEncoder().encode(wire))
    }

    /// Tells every instance that stream thread `member` runs nothing any more.
    func withdraw(member: String) {
        send(member: member, value: nil)
    }

    private func send(member: String, value: Data?) {
        do {
            try producer.send(
                topic: topic, partition: 0, key: Array(member.utf8), value: value.map { Array($0) },
                timestamp: Int64(Date().timeIntervalSince1970 * 1000), headers: Headers())
            producer.poll()
            for failure in producer.takeDeliveryFailures() {
                logger.warning("A claim of \(member) did not reach \(topic): \(failure)")
            }
        } catch {
            logger.warning("Could not publish \(member)'s tasks to \(topic): \(error)")
        }
    }

    /// The server of the latest claim of `task`, if any.
    func server(of task: TaskID) -> HostInfo? {
        claims.withLock { claims in
            claims.values.filter { $0.tasks.contains(task) }.max { $0.offset < $1.offset }?.server
        }
    }

    /// Every server that runs tasks, with those tasks (a task claimed twice goes to the later claim).
    func servers() -> [HostInfo: Set<TaskID>] {
        claims.withLock { claims in
            var owner: [TaskID: Claim] = [:]
            for claim in claims.values {
                for task in claim.tasks where (owner[task]?.offset ?? -1) < claim.offset { owner[task] = claim }
            }
            var servers: [HostInfo: Set<TaskID>] = [:]
            for (task, claim) in owner { servers[claim.server, default: []].insert(task) }
            return servers
        }
    }

    /// Flushes the last claims and stops reading; once (a second call returns at once).
    func stop() {
        guard !stopRequested.exchange(true, ordering: .relaxed) else { return }
        try? producer.flush(timeoutMs: 5_000)
        if started.load(ordering: .relaxed) { _ = finished.wait(timeout: .now() + 5) }
        consumer.close()
    }
}
