import Foundation
import Rill
import RillKafka
import RillTestDriver
import XCTest

/// Joins on Kafka, through a `rill dev-broker` process with 4-partition topics, give the results
/// the test driver gives with 4 partitions.
final class JoinRuntimeTests: XCTestCase {
    var broker: DevBrokerProcess!
    var stateDir = ""

    override func setUpWithError() throws {
        broker = try DevBrokerProcess(topics: [
            "st-calls:4", "st-clinics:4", "st-out:4", "ss-left:4", "ss-right:4", "ss-out:4",
        ])
        stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-joins-\(UUID().uuidString)").path
    }

    override func tearDown() {
        broker?.stop()
        try? FileManager.default.removeItem(atPath: stateDir)
    }

    func produce(_ topic: String, _ records: [(key: String, value: String, timestamp: Int64)]) throws {
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers]))
        for record in records {
            try producer.send(
                topic: topic, partition: nil, key: Array(record.key.utf8), value: Array(record.value.utf8),
                timestamp: record.timestamp, headers: Headers())
        }
        try producer.flush(timeoutMs: 10_000)
    }

    /// Every value of `topic`'s 4 partitions, read until `count` arrived (or 60 s passed).
    func readValues(_ topic: String, count: Int) throws -> [String] {
        let consumer = try KafkaConsumer(
            config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)"]))
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<4).map { (TopicPartition(topic: topic, partition: $0), Int64(-2)) }))
        var values: [String] = []
        let deadline = Date().addingTimeInterval(60)
        while values.count < count && Date() < deadline {
            for record in try consumer.poll(max: 500, timeoutMs: 100) { values.append(String(decoding: record.value ?? [], as: UTF8.self)) }
        }
        return values
    }

    func config(_ app: String) -> StreamsConfig {
        var config = testConfig(app, broker.bootstrapServers, commitIntervalMs: 100)
        config.stateDir = stateDir
        return config
    }

    func testAStreamTableJoinOnFourPartitionsMatchesTheDriver() throws {
        func topology() throws -> Topology {
            let builder = StreamsBuilder()
            let clinics = builder.table("st-clinics", Consumed(.string, .string), materialized: .as("clinic-names"))
            builder.stream("st-calls", Consumed(.string, .string))
                .selectKey { _, call in String(call.split(separator: ":")[0]) }
                .join(clinics, joiner: { call, clinic in "\(call)@\(clinic)" }, Joined(keySerde: .string, valueSerde: .string, name: "by-clinic"))
                .to("st-out", Produced(.string, .string))
            return try builder.build()
        }
        // Timestamps start at 1: librdkafka reads a timestamp of 0 as "now".
        let clinics = (0..<10).map { (key: "c\($0)", value: "Clinic \($0)", timestamp: Int64(1)) }
        let calls = (0..<120).map { (key: "caller-\($0)", value: "c\($0 % 12):call-\($0)", timestamp: Int64($0 + 1)) }

        let driver = try TopologyTestDriver(try topology(), config: StreamsConfig(applicationID: "st"), partitions: 4)
        var clinicInput = try driver.createInputTopic("st-clinics", keySerde: .string, valueSerde: .string)
        var callInput = try driver.createInputTopic("st-calls", keySerde: .string, valueSerde: .string)
        for clinic in clinics { try clinicInput.pipeInput(key: clinic.key, value: clinic.value, timestamp: clinic.timestamp) }
        for call in calls { try callInput.pipeInput(key: call.key, value: call.value, timestamp: call.timestamp) }
        let expected = try driver.createOutputTopic("st-out", keySerde: .string, valueSerde: .string).readValuesToList().sorted()
        driver.close()
        XCTAssertEqual(expected.count, 100, "calls to c10 and c11 find no clinic")

        try produce("st-clinics", clinics)
        let streams = try KafkaStreams(try topology(), config: config("st"))
        try streams.start()
        defer { streams.close() }
        // The table is loaded when its changelog holds every clinic; only then do the calls come.
        let admin = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": "watch"]))
        defer { admin.close() }
        let deadline = Date().addingTimeInterval(60)
        var logged: Int64 = 0
        while logged < 10 && Date() < deadline {
            logged = try (0..<4).reduce(Int64(0)) { sum, partition in
                sum + (try admin.watermarks(TopicPartition(topic: "st-clinic-names-changelog", partition: partition), timeoutMs: 5_000).high)
            }
            if logged < 10 { Thread.sleep(forTimeInterval: 0.05) }
        }
        XCTAssertEqual(logged, 10)
        try produce("st-calls", calls)
        XCTAssertEqual(try readValues("st-out", count: expected.count).sorted(), expected)
    }

    func testAStreamStreamJoinOnFourPartitionsMatchesTheDriver() throws {
        func topology() throws -> Topology {
            let builder = StreamsBuilder()
            let right = builder.stream("ss-right", Consumed(.string, .string))
            builder.stream("ss-left", Consumed(.string, .string))
                .join(right, windows: try JoinWindows.ofTimeDifferenceAndGrace(.milliseconds(50), grace: .seconds(3_600))) { l, r in "\(l)+\(r)" }
                .to("ss-out", Produced(.string, .string))
            return try builder.build()
        }
        var generator = SystemRandomNumberGenerator()
        // Timestamps start at 1: librdkafka reads a timestamp of 0 as "now".
        let left = (0..<150).map { (key: "k\($0 % 20)", value: "L\($0)", timestamp: Int64($0 * 10 + 1 + Int.random(in: 0..<5, using: &generator))) }
        let right = (0..<150).map { (key: "k\($0 % 20)", value: "R\($0)", timestamp: Int64($0 * 10 + 1 + Int.random(in: 0..<5, using: &generator))) }

        let driver = try TopologyTestDriver(try topology(), config: StreamsConfig(applicationID: "ss"), partitions: 4)
        var leftInput = try driver.createInputTopic("ss-left", keySerde: .string, valueSerde: .string)
        var rightInput = try driver.createInputTopic("ss-right", keySerde: .string, valueSerde: .string)
        for record in left { try leftInput.pipeInput(key: record.key, value: record.value, timestamp: record.timestamp) }
        for record in right { try rightInput.pipeInput(key: record.key, value: record.value, timestamp: record.timestamp) }
        let expected = try driver.createOutputTopic("ss-out", keySerde: .string, valueSerde: .string).readValuesToList().sorted()
        driver.close()
        XCTAssertFalse(expected.isEmpty)

        // An inner join's results do not depend on which side's record is processed first.
        try produce("ss-left", left)
        try produce("ss-right", right)
        let streams = try KafkaStreams(try topology(), config: config("ss"))
        try streams.start()
        defer { streams.close() }
        XCTAssertEqual(try readValues("ss-out", count: expected.count).sorted(), expected)
    }
}
