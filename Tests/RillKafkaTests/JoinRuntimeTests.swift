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
            "st-calls:4", "st-clinics:4", "st-out:4", "ss-left:4", "ss-right:4", "ss-out:4", "fk-orders:4",
            "fk-customers:3", "fk-out:4",
            // What the foreign-key join's 3-partition side needs (a dev-broker auto-creates topics with 4).
            "fk-by-customer-subscription-registration-topic:3", "fk-by-customer-subscription-store-changelog:3",
            "fk-customer-rows-changelog:3", "cp-calls:4", "cp-clinics:3", "cp-out:4",
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

    /// A foreign-key join needs no co-partitioning: orders on 4 partitions join customers on 3,
    /// through subscription and response topics the runtime creates, and every order's last result
    /// is its final customer's name, however the two sides' updates interleave.
    func testAForeignKeyJoinAcrossPartitionCountsConvergesToTheJoinOfTheFinalRows() throws {
        let builder = StreamsBuilder()
        let customerTable = builder.table("fk-customers", Consumed(.string, .string), materialized: .as("customer-rows"))
        builder.table("fk-orders", Consumed(.string, .string))
            .join(customerTable, foreignKey: { order in String(order.split(separator: ":")[0]) }, named: "by-customer") { order, name in "\(order)@\(name)" }
            .toStream().to("fk-out", Produced(.string, Serde<String>.string.optional))
        let streams = try KafkaStreams(try builder.build(), config: config("fk"))
        try streams.start()
        defer { streams.close() }

        var customers: [String: String] = [:]
        var orders: [String: String] = [:]
        let firstCustomers = (0..<10).map { (key: "c\($0)", value: "name\($0)", timestamp: Int64(1)) }
        let firstOrders = (0..<50).map { (key: "o\($0)", value: "c\($0 % 12):item\($0)", timestamp: Int64(2)) }
        let renamed = (0..<5).map { (key: "c\($0)", value: "renamed\($0)", timestamp: Int64(3)) }
        let moved = (0..<10).map { (key: "o\($0)", value: "c\(($0 + 1) % 10):moved\($0)", timestamp: Int64(4)) }
        for batch in [firstCustomers, renamed] { for record in batch { customers[record.key] = record.value } }
        for batch in [firstOrders, moved] { for record in batch { orders[record.key] = record.value } }
        try produce("fk-customers", firstCustomers)
        try produce("fk-orders", firstOrders)
        try produce("fk-customers", renamed)
        try produce("fk-orders", moved)

        // The reference: a plain join of the final rows (orders of c10 and c11 have no customer).
        var expected: [String: String] = [:]
        for (key, order) in orders {
            if let name = customers[String(order.split(separator: ":")[0])] { expected[key] = "\(order)@\(name)" }
        }
        XCTAssertEqual(expected.count, 42)

        let consumer = try KafkaConsumer(
            config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers, "group.id": "check-\(UUID().uuidString)"]))
        defer { consumer.close() }
        try consumer.assign(Dictionary(uniqueKeysWithValues: (0..<4).map { (TopicPartition(topic: "fk-out", partition: $0), Int64(-2)) }))
        var latest: [String: String] = [:]
        let deadline = Date().addingTimeInterval(60)
        while latest != expected && Date() < deadline {
            for record in try consumer.poll(max: 500, timeoutMs: 100) {
                let key = String(decoding: record.key ?? [], as: UTF8.self)
                latest[key] = record.value.map { String(decoding: $0, as: UTF8.self) }
            }
        }
        XCTAssertEqual(latest, expected)
    }

    func testAJoinOfTopicsWithFourAndThreePartitionsFailsToStartNamingThem() throws {
        let builder = StreamsBuilder()
        let clinics = builder.table("cp-clinics", Consumed(.string, .string), materialized: .as("cp-clinics"))
        builder.stream("cp-calls", Consumed(.string, .string))
            .join(clinics, joiner: { call, clinic in call + clinic }, .as("enrich"))
            .to("cp-out", Produced(.string, .string))
        let streams = try KafkaStreams(try builder.build(), config: config("cp"))
        XCTAssertThrowsError(try streams.start()) { error in
            XCTAssertEqual(
                "\(error)",
                "Join 'enrich' needs co-partitioned inputs, but the topics have different partition counts: "
                    + "'cp-calls' (4), 'cp-clinics' (3). Give them the same number of partitions, or repartition one side.")
        }
        XCTAssertEqual(streams.state, .error)
        streams.close()
    }
}
