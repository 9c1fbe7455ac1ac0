import Rill
import XCTest

/// Kafka Streams-style properties, and errors naming the key at fault.
final class StreamsConfigTests: XCTestCase {
    func testStreamsKeysAreParsedAndOthersAreClientProperties() throws {
        let config = try StreamsConfig(properties: [
            "application.id": "app", "bootstrap.servers": "h:9092", "commit.interval.ms": "250",
            "num.stream.threads": "3", "state.dir": "/var/rill", "linger.ms": "7",
            "default.deserialization.exception.handler": "dead_letter:app-dlq",
            "processing.exception.handler": "log_and_continue", "default.key.serde": "string",
            "default.production.exception.handler": "dead_letter:app-refused",
            "num.standby.replicas": "1", "task.timeout.ms": "60000", "max.task.idle.ms": "-1",
        ])
        XCTAssertEqual(config.applicationID, "app")
        XCTAssertEqual(config.bootstrapServers, "h:9092")
        XCTAssertEqual(config.commitIntervalMs, 250)
        XCTAssertEqual(config.numStreamThreads, 3)
        XCTAssertEqual(config.stateDir, "/var/rill")
        XCTAssertEqual(config.clientProperties, ["linger.ms": "7"])
        XCTAssertEqual(config.deserializationExceptionHandler, .deadLetter(topic: "app-dlq"))
        XCTAssertEqual(config.processingExceptionHandler, .logAndContinue)
        XCTAssertEqual(config.productionExceptionHandler, .deadLetter(topic: "app-refused"))
        XCTAssertEqual(config.numStandbyReplicas, 1)
        XCTAssertEqual(config.taskTimeoutMs, 60_000)
        XCTAssertEqual(config.maxTaskIdleMs, -1)
        XCTAssertEqual(config.defaultKeySerde?.typeName, "String")
    }

    func testPrintingAConfigNeverShowsASecret() throws {
        var config = StreamsConfig(applicationID: "app", bootstrapServers: "h:9093")
        try config.set("security.protocol", "SASL_SSL")
        try config.set("sasl.password", "hunter2")
        try config.set("ssl.key.password", "swordfish")
        try config.set("sasl.oauthbearer.client.secret", "opensesame")
        let printed = "\(config)"
        for secret in ["hunter2", "swordfish", "opensesame"] { XCTAssertFalse(printed.contains(secret), printed) }
        XCTAssertTrue(printed.contains("sasl.password=[redacted]"), printed)
        XCTAssertTrue(printed.contains("security.protocol=SASL_SSL"), printed)
        XCTAssertTrue(printed.contains("application.id=app"), printed)
    }

    func testExactlyOnceDefaultsToA100msCommitInterval() throws {
        let config = try StreamsConfig(properties: ["application.id": "a", "processing.guarantee": "exactly_once_v2"])
        XCTAssertEqual(config.processingGuarantee, .exactlyOnceV2)
        XCTAssertEqual(config.commitIntervalMs, 100)
        let explicit = try StreamsConfig(properties: [
            "application.id": "a", "processing.guarantee": "exactly_once_v2", "commit.interval.ms": "500",
        ])
        XCTAssertEqual(explicit.commitIntervalMs, 500)
    }

    func testBadValuesAreErrorsNamingTheKey() {
        for (key, value) in [
            ("commit.interval.ms", "soon"), ("num.stream.threads", "0"), ("processing.guarantee", "maybe"),
            ("default.value.serde", "xml"), ("processing.exception.handler", "dead_letter:"),
            ("production.exception.handler", "retry"), ("num.standby.replicas", "-1"), ("task.timeout.ms", "soon"),
            ("max.task.idle.ms", "-2"),
        ] {
            XCTAssertThrowsError(try StreamsConfig(properties: ["application.id": "a", key: value])) { error in
                XCTAssertTrue("\(error)".contains("'\(key)'"), "\(error)")
            }
        }
        XCTAssertThrowsError(try StreamsConfig(properties: ["bootstrap.servers": "x"])) { error in
            XCTAssertTrue("\(error)".contains("'application.id'"), "\(error)")
        }
    }
}
