import Foundation
import Rill
import RillKafka
import RillTestDriver
import XCTest

/// A task reading several partitions processes them in timestamp order even when one of them
/// arrives later than the others (`max.task.idle.ms`).
final class TaskIdleTests: XCTestCase {
    var stateDir = ""

    override func setUp() {
        stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-idle-\(UUID().uuidString)").path
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: stateDir) }

    func topology() throws -> Topology {
        let builder = StreamsBuilder()
        let right = builder.stream("right", Consumed(.string, .string))
        builder.stream("left", Consumed(.string, .string))
            .join(right, windows: try JoinWindows.ofTimeDifferenceWithNoGrace(.milliseconds(20))) { l, r in "\(l)+\(r)" }
            .to("joined", Produced(.string, .string))
        return try builder.build()
    }

    // A record every 200 ms of event time on each side, 120 s in all, so windows close and their
    // segments are dropped while the inputs are processed. Timestamps start at 1: librdkafka reads a
    // timestamp of 0 as "now".
    let left = (0..<600).map { (key: "k\($0 % 20)", value: "L\($0)", timestamp: Int64($0 * 200 + 1)) }
    let right = (0..<600).map { (key: "k\($0 % 20)", value: "R\($0)", timestamp: Int64($0 * 200 + 1)) }

    /// The join's results with both inputs in timestamp order (the test driver).
    func expectedResults() throws -> [String] {
        let driver = try TopologyTestDriver(try topology(), config: StreamsConfig(applicationID: "idle"), partitions: 2)
        defer { driver.close() }
        var leftInput = try driver.createInputTopic("left", keySerde: .string, valueSerde: .string)
        var rightInput = try driver.createInputTopic("right", keySerde: .string, valueSerde: .string)
        for (l, r) in zip(left, right) {
            try leftInput.pipeInput(key: l.key, value: l.value, timestamp: l.timestamp)
            try rightInput.pipeInput(key: r.key, value: r.value, timestamp: r.timestamp)
        }
        return try driver.createOutputTopic("joined", keySerde: .string, valueSerde: .string).readValuesToList().sorted()
    }

    /// Runs the join on a 2-broker embedded cluster where the right input's broker answers 100 ms
    /// late and hands out 10 records per partition per fetch: the left input is all there long
    /// before the right one is.
    func runJoin(maxTaskIdleMs: Int64) throws -> [String] {
        let broker = try EmbeddedKafka(brokers: 2)
        let servers = broker.bootstrapServers
        for topic in ["left", "right", "joined"] {
            try broker.createTopic(topic, partitions: 2)
            for partition: Int32 in 0..<2 { broker.setLeader(of: topic, partition: partition, to: topic == "right" ? 2 : 1) }
        }
        func produce(_ topic: String, _ records: [(key: String, value: String, timestamp: Int64)], _ properties: [String: String]) throws {
            let producer = try KafkaProducer(config: KafkaClientConfig(properties.merging(["bootstrap.servers": servers]) { _, new in new }))
            for record in records {
                try producer.send(
                    topic: topic, partition: nil, key: Array(record.key.utf8), value: Array(record.value.utf8),
                    timestamp: record.timestamp, headers: Headers())
            }
            try producer.flush(timeoutMs: 10_000)
        }
        try produce("left", left, ["linger.ms": "100"])
        try produce("right", right, ["batch.num.messages": "10", "linger.ms": "0"])
        broker.setRoundTripTime(ofBroker: 2, milliseconds: 100)

        var config = testConfig("idle", servers, commitIntervalMs: 100)
        config.stateDir = stateDir
        config.maxTaskIdleMs = maxTaskIdleMs
        let streams = try KafkaStreams(try topology(), config: config)
        try streams.start()
        let deadline = Date().addingTimeInterval(60)
        while streams.metrics.processed < Int64(left.count + right.count) && Date() < deadline {
            XCTAssertNotEqual(streams.state, .error)
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertTrue(streams.close(timeout: .seconds(30)), "close flushes the output")
        let consumer = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": servers, "group.id": "check"]))
        defer { consumer.close() }
        let partitions = [TopicPartition(topic: "joined", partition: 0), TopicPartition(topic: "joined", partition: 1)]
        let total = try partitions.reduce(0) { $0 + Int(try consumer.watermarks($1, timeoutMs: 5_000).high) }
        try consumer.assign(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(-2)) }))
        var values: [String] = []
        while values.count < total && Date() < deadline {
            values += try consumer.poll(max: 500, timeoutMs: 200).map { String(decoding: $0.value ?? [], as: UTF8.self) }
        }
        return values.sorted()
    }

    func testATaskWaitsForAPartitionWhoseRecordsAreStillOnTheBroker() throws {
        let expected = try expectedResults()
        XCTAssertEqual(expected.count, 600, "each record meets the other side's record of the same time")
        XCTAssertEqual(try runJoin(maxTaskIdleMs: 0), expected)
    }

    /// The same with waiting turned off (`max.task.idle.ms` -1): the left side runs ahead and right
    /// records come after their windows closed, so results are missing. This shows the test above
    /// can fail.
    func testWithoutWaitingTheJoinMissesResults() throws {
        let expected = try expectedResults()
        XCTAssertLessThan(try runJoin(maxTaskIdleMs: -1).count, expected.count)
    }
}
