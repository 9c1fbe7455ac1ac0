import Foundation
import Rill
import RillRocksDB
import RillTestDriver
import XCTest

/// Store misuse gives one clear error naming the store (and processor).
final class StoreErrorTests: XCTestCase {
    func counts(_ name: String = "counts") -> KeyValueStoreBuilder<String, Int64> {
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name), keySerde: .string, valueSerde: .int64)
    }

    func topology(processorStores: [String], added: [KeyValueStoreBuilder<String, Int64>]) throws -> Topology {
        let topology = Topology()
        try topology.addSource(name: "in", topics: ["words"], keySerde: .string, valueSerde: .string)
        try topology.addProcessor(name: "count", parents: ["in"], stores: processorStores) { CountingProcessor() }
        try topology.addSink(name: "out", topic: "counts", keySerde: .string, valueSerde: .int64, parents: ["count"])
        for builder in added { try topology.addStateStore(builder) }
        return topology
    }

    func testDuplicateStoreNames() throws {
        XCTAssertThrowsError(try topology(processorStores: ["counts"], added: [counts(), counts()])) { error in
            XCTAssertTrue("\(error)".contains("'counts'") && "\(error)".contains("more than once"), "\(error)")
        }
        let builder = StreamsBuilder()
        builder.addStateStore(counts()).addStateStore(counts())
        builder.stream("in", Consumed(.string, .string)).to("out", Produced(.string, .string))
        XCTAssertThrowsError(try builder.build()) { XCTAssertTrue("\($0)".contains("'counts'"), "\($0)") }
    }

    func testProcessorUsingAStoreItIsNotConnectedTo() throws {
        let topology = try topology(processorStores: [], added: [counts()])
        XCTAssertThrowsError(try TopologyTestDriver(topology)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("'counts'") && text.contains("'count'") && text.contains("not connected"), text)
        }
    }

    func testProcessorNamingAStoreThatWasNeverAdded() throws {
        let topology = try topology(processorStores: ["counts"], added: [])
        XCTAssertThrowsError(try TopologyTestDriver(topology)) { error in
            XCTAssertTrue("\(error)".contains("'count'") && "\(error)".contains("'counts'"), "\(error)")
        }
    }

    func testConnectingAStoreToAnUnknownProcessor() throws {
        let topology = try topology(processorStores: [], added: [])
        XCTAssertThrowsError(try topology.addStateStore(counts(), connectedTo: ["ghost"])) { error in
            XCTAssertTrue("\(error)".contains("'ghost'"), "\(error)")
        }
    }

    func testWrongStoreTypesAreAnErrorNamingTheStore() throws {
        let topology = try topology(processorStores: ["counts"], added: [counts()])
        let driver = try TopologyTestDriver(topology)
        defer { driver.close() }
        XCTAssertThrowsError(try driver.keyValueStore(named: "counts", keyType: Int64.self, valueType: String.self)) { error in
            XCTAssertTrue("\(error)".contains("'counts'"), "\(error)")
        }
    }

    func testALockedStateDirectoryIsAnErrorNamingIt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-lock-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try TopologyTestDriver(
            try topology(processorStores: ["counts"], added: [counts()]), stateDirectory: directory)
        XCTAssertThrowsError(
            try TopologyTestDriver(try topology(processorStores: ["counts"], added: [counts()]), stateDirectory: directory)
        ) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(directory) && text.contains("locked"), text)
        }
        first.close()
        // Released on close: a new driver can take the directory, and finds the data.
        let again = try TopologyTestDriver(
            try topology(processorStores: ["counts"], added: [counts()]), stateDirectory: directory)
        again.close()
    }

    func testPersistentDataIsThereForTheNextDriverOnTheSameDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-reuse-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try TopologyTestDriver(
            try topology(processorStores: ["counts"], added: [counts()]), stateDirectory: directory)
        var input = try first.createInputTopic("words", keySerde: .string, valueSerde: .string)
        try input.pipeInput(key: "a", value: "a", timestamp: 0)
        try input.pipeInput(key: "a", value: "a", timestamp: 0)
        first.close()
        let second = try TopologyTestDriver(
            try topology(processorStores: ["counts"], added: [counts()]), stateDirectory: directory)
        defer { second.close() }
        var again = try second.createInputTopic("words", keySerde: .string, valueSerde: .string)
        try again.pipeInput(key: "a", value: "a", timestamp: 0)
        XCTAssertEqual(try second.createOutputTopic("counts", keySerde: .string, valueSerde: .int64).readValue(), 3)
    }
}
