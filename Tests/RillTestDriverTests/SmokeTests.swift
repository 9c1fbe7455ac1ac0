import Rill
import RillTestDriver
import XCTest

final class SmokeTests: XCTestCase {
    func testFilterMapValuesThroughDriver() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string))
            .filter { _, v in v.hasPrefix("a") }
            .mapValues { $0.uppercased() }
            .to("out", Produced(.string, .string))
        let topology = try builder.build()
        print(topology.describe())
        let driver = try TopologyTestDriver(topology)
        var input = try driver.createInputTopic("in", keySerde: .string, valueSerde: .string)
        let output = try driver.createOutputTopic("out", keySerde: .string, valueSerde: .string)
        try input.pipeInput(key: "k1", value: "abc", timestamp: 10)
        try input.pipeInput(key: "k2", value: "xyz", timestamp: 11)
        XCTAssertEqual(try output.readRecordsToList(), [TestRecord(key: "k1", value: "ABC", timestamp: 10)])
    }
}
