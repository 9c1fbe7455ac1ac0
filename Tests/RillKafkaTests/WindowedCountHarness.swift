import Foundation
import Rill
import RillKafka
import XCTest

/// A `rill dev-broker` process, the true click counts of what was produced to it, and
/// `WindowedCountWorker` processes (a windowed count on RocksDB) to start, kill and restart: what the
/// crash and fault tests share.
final class WindowedCountHarness {
    let broker: DevBrokerProcess
    let partitions: Int32
    /// The true count per "key@window start" of what was produced.
    private(set) var truth: [String: Int64] = [:]
    private(set) var produced = 0
    let base: Int64 = 1_700_000_000_000
    let windowSize: Int64 = 60_000
    let keySerde = Serde<Windowed<String>>.timeWindowed(.string, windowSize: 60_000)
    private var stateDirs: [String] = []
    private let producer: KafkaProducer

    init(partitions: Int32 = 4) throws {
        self.partitions = partitions
        broker = try DevBrokerProcess(topics: ["clicks:\(partitions)", "window-counts:\(partitions)"])
        producer = try KafkaProducer(config: KafkaClientConfig([
            "bootstrap.servers": broker.bootstrapServers, "linger.ms": "20", "batch.num.messages": "5000",
        ]))
    }

    /// A new state directory, removed by ``tearDown()``.
    func makeStateDir() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rill-fault-\(UUID().uuidString)").path
        stateDirs.append(path)
        return path
    }

    func tearDown() {
        broker.stop()
        for path in stateDirs { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Produces the next `count` clicks (50 users, a click every 6 ms: 100,000 clicks span 10 windows).
    func produce(_ count: Int) throws {
        for index in produced..<(produced + count) {
            let key = "user-\(index % 50)"
            let timestamp = base + Int64(index) * 6
            try producer.send(
                topic: "clicks", partition: nil, key: Array(key.utf8), value: Array("click".utf8), timestamp: timestamp,
                headers: Headers())
            truth["\(key)@\(timestamp / windowSize * windowSize)", default: 0] += 1
        }
        produced += count
        try producer.flush(timeoutMs: 60_000)
    }

    func startWorker(_ app: String, stateDir: String, threads: Int = 1, exactlyOnce: Bool = false) throws -> Process {
        let worker = Process()
        worker.executableURL = try DevBrokerProcess.builtExecutable("WindowedCountWorker")
        worker.arguments = [broker.bootstrapServers, stateDir, app, String(threads)] + (exactlyOnce ? ["exactly-once"] : [])
        let output = Pipe()
        worker.standardOutput = output
        let states = WorkerStates()
        workerStates[ObjectIdentifier(worker)] = states
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil } else { states.append(data) }
        }
        try worker.run()
        return worker
    }

    /// The states a worker printed, gathered from its stdout.
    final class WorkerStates: @unchecked Sendable {
        private let lock = NSCondition()
        private var text = ""
        func append(_ data: Data) {
            lock.lock()
            text += String(decoding: data, as: UTF8.self)
            lock.broadcast()
            lock.unlock()
        }
        /// The sum of the "restored=N" lines printed so far.
        var restored: Int64 {
            lock.lock()
            defer { lock.unlock() }
            return text.split(separator: "\n").compactMap { $0.hasPrefix("restored=") ? Int64($0.dropFirst(9)) : nil }.reduce(0, +)
        }
        /// Waits until the worker has printed `line` (true) or `timeout` passes (false).
        func wait(for line: String, timeout: TimeInterval) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            lock.lock()
            defer { lock.unlock() }
            while !text.contains(line + "\n") {
                if !lock.wait(until: deadline) { return false }
            }
            return true
        }
    }
    private var workerStates: [ObjectIdentifier: WorkerStates] = [:]

    /// Changelog records `worker` restored so far.
    func restoredRecords(_ worker: Process) -> Int64 { workerStates[ObjectIdentifier(worker)]?.restored ?? 0 }

    /// Waits until `worker` runs its tasks (its instance entered `running`).
    func waitUntilRunning(_ worker: Process, timeout: TimeInterval = 60) throws {
        guard workerStates[ObjectIdentifier(worker)]?.wait(for: "state=running", timeout: timeout) == true else {
            throw TestSetupError("the worker did not reach running within \(Int(timeout)) s")
        }
    }

    func kill(_ worker: Process) {
        Foundation.kill(worker.processIdentifier, SIGKILL)
        worker.waitUntilExit()
    }

    /// SIGTERM, then waits for the exit.
    func stop(_ worker: Process) {
        worker.terminate()
        worker.waitUntilExit()
    }

    /// A consumer of "window-counts" from `offsets` (the beginning of every partition by default).
    func outputConsumer(from offsets: [Int32: Int64] = [:]) throws -> KafkaConsumer {
        let consumer = try KafkaConsumer(config: KafkaClientConfig([
            "bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)",
        ]))
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<partitions).map {
            (TopicPartition(topic: "window-counts", partition: $0), offsets[$0] ?? -2)
        }))
        return consumer
    }

    /// The latest count per "key@window" in "window-counts", read until `done` holds or `timeout` passes.
    func readCounts(timeout: TimeInterval = 120, until done: ([String: Int64]) -> Bool) throws -> [String: Int64] {
        let consumer = try outputConsumer()
        defer { consumer.close() }
        var latest: [String: Int64] = [:]
        let deadline = Date().addingTimeInterval(timeout)
        while !done(latest) && Date() < deadline {
            for record in try consumer.poll(max: 1_000, timeoutMs: 100) {
                let key = try keySerde.deserialize(record.key)
                latest["\(key.key)@\(key.window.start)"] = try Serde<Int64>.int64.deserialize(record.value)
            }
        }
        return latest
    }

    /// Reads until every window has at least its true count (or 120 s pass).
    func readUntilNoneUndercounted() throws -> [String: Int64] {
        let truth = truth
        return try readCounts { latest in truth.allSatisfy { latest[$0.key, default: 0] >= $0.value } }
    }

    /// The windows whose count is below the truth.
    func undercounted(_ counts: [String: Int64]) -> [String: (counted: Int64, true: Int64)] {
        var under: [String: (Int64, Int64)] = [:]
        for (window, count) in truth where counts[window, default: 0] < count { under[window] = (counts[window, default: 0], count) }
        return under
    }

    /// The end offset of each partition of `topic`.
    func endOffsets(_ topic: String) throws -> [Int32: Int64] {
        let consumer = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": "ends"]))
        defer { consumer.close() }
        var ends: [Int32: Int64] = [:]
        for partition in 0..<partitions {
            ends[partition] = try consumer.watermarks(TopicPartition(topic: topic, partition: partition), timeoutMs: 10_000).high
        }
        return ends
    }

    /// The committed offsets of group `app` on "clicks" (-1 where none).
    func committedOffsets(_ app: String) throws -> [Int32: Int64] {
        let consumer = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": app]))
        defer { consumer.close() }
        let committed = try consumer.committed((0..<partitions).map { TopicPartition(topic: "clicks", partition: $0) }, timeoutMs: 10_000)
        return Dictionary(uniqueKeysWithValues: committed.map { ($0.key.partition, $0.value.offset) })
    }

    /// Waits for a first commit of group `app`.
    func waitForACommit(_ app: String) throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if try committedOffsets(app).values.contains(where: { $0 >= 0 }) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestSetupError("group \(app) committed nothing in 60 s")
    }
}
