import Foundation
import RillKafka
import XCTest

/// `rill dev-broker`: its first line, its topics, and a clean exit on SIGTERM.
final class DevBrokerCommandTests: XCTestCase {
    func testCreatesNamedTopicsAndStopsCleanlyOnSigterm() throws {
        let broker = try DevBrokerProcess(topics: ["three:3", "default"])
        let admin = try KafkaAdmin(config: KafkaClientConfig(["bootstrap.servers": broker.bootstrapServers]))
        XCTAssertEqual(
            try admin.partitionCounts(topics: ["three", "default"], timeoutMs: 10_000), ["three": 3, "default": 4])
        broker.process.terminate()
        broker.process.waitUntilExit()
        XCTAssertEqual(broker.process.terminationStatus, 0)
    }

    func testBadTopicSpecIsAnErrorNamingIt() throws {
        let process = Process()
        process.executableURL = try DevBrokerProcess.rillBinary()
        process.arguments = ["dev-broker", "--topic", "calls:zero"]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertTrue(message.contains("calls:zero"), message)
    }
}

/// Internal topics on a broker that can't create them with a given partition count.
final class InternalTopicTests: XCTestCase {
    func topology() throws -> Topology {
        let builder = StreamsBuilder()
        builder.stream("it-in", Consumed(.string, .string))
            .repartition(Repartitioned(named: "rekeyed", keySerde: .string, valueSerde: .string))
            .to("it-out", Produced(.string, .string))
        return try builder.build()
    }

    func testAutoCreatedInternalTopicWithTheWrongPartitionCountIsAClearError() throws {
        let broker = try DevBrokerProcess(topics: ["it-in:3", "it-out:3"])
        defer { broker.stop() }
        let streams = try KafkaStreams(
            try topology(), config: StreamsConfig(applicationID: "it-app", bootstrapServers: broker.bootstrapServers))
        XCTAssertThrowsError(try streams.start()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("'it-app-rekeyed-repartition'") && text.contains("needs 3"), text)
            XCTAssertTrue(text.contains("--topic it-app-rekeyed-repartition:3"), text)
        }
    }

    func testPreCreatedInternalTopicIsUsed() throws {
        let broker = try DevBrokerProcess(topics: ["it-in:3", "it-out:3", "it-app-rekeyed-repartition:3"])
        defer { broker.stop() }
        let streams = try KafkaStreams(
            try topology(), config: StreamsConfig(applicationID: "it-app", bootstrapServers: broker.bootstrapServers))
        try streams.start()
        XCTAssertTrue(streams.close(timeout: .seconds(20)))
    }
}
