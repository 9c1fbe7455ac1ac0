import Rill
import XCTest

/// `application.server`: `host:port`, checked when set.
final class HostInfoTests: XCTestCase {
    func testHostAndPortParseAndPrintBack() {
        XCTAssertEqual(HostInfo("worker-1.internal:8080"), HostInfo(host: "worker-1.internal", port: 8080))
        XCTAssertEqual(HostInfo("[::1]:9000"), HostInfo(host: "::1", port: 9000))
        XCTAssertEqual(HostInfo(host: "::1", port: 9000).description, "[::1]:9000")
        XCTAssertEqual(HostInfo("10.0.0.7:1")?.description, "10.0.0.7:1")
        for bad in ["worker", "worker:", ":8080", "worker:0", "worker:65536", "worker:http", "http://worker:80", "a b:80"] {
            XCTAssertNil(HostInfo(bad), bad)
        }
    }

    func testApplicationServerIsAStreamsPropertyCheckedWhenSet() throws {
        var config = StreamsConfig(applicationID: "app")
        XCTAssertNil(config.applicationServer)
        try config.set("application.server", "localhost:7070")
        XCTAssertEqual(config.applicationServer, HostInfo(host: "localhost", port: 7070))
        XCTAssertEqual(config["application.server"], "localhost:7070")
        XCTAssertNil(config.clientProperties["application.server"], "not a librdkafka property")
        XCTAssertThrowsError(try config.set("application.server", "localhost")) { error in
            XCTAssertTrue("\(error)".contains("application.server") && "\(error)".contains("host:port"), "\(error)")
        }
    }
}
