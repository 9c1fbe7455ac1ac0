import Rill
import XCTest

/// A topology that can't work fails when it is built, with one error naming the operator.
final class TopologyValidationTests: XCTestCase {
    func assertTopologyError(_ body: () throws -> Void, mentions: String..., file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertTrue(error is TopologyError, "\(type(of: error))", file: file, line: line)
            for word in mentions { XCTAssertTrue("\(error)".contains(word), "\(error)", file: file, line: line) }
        }
    }

    func testNoSources() {
        assertTopologyError({ _ = try StreamsBuilder().build() }, mentions: "no source")
    }

    func testSinkWithoutTopic() {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string)).to("", Produced(.string, .string, named: "nowhere"))
        assertTopologyError({ _ = try builder.build() }, mentions: "'nowhere'", "no topic")
        assertTopologyError(
            {
                let topology = Topology()
                try topology.addSource(name: "s", topics: ["in"], keySerde: .string, valueSerde: .string)
                try topology.addSink(name: "k", topic: "", keySerde: .string, valueSerde: .string, parents: ["s"])
            }, mentions: "'k'")
    }

    func testDuplicateNameInTheDSL() {
        let builder = StreamsBuilder()
        let stream = builder.stream("in", Consumed(.string, .string))
        stream.filter(named: "twice") { _, _ in true }.to("a", Produced(.string, .string))
        stream.mapValues(named: "twice") { $0 }.to("b", Produced(.string, .string))
        assertTopologyError({ _ = try builder.build() }, mentions: "'twice'", "more than once")
    }

    func testDuplicateNameByHand() {
        assertTopologyError(
            {
                let topology = Topology()
                try topology.addSource(name: "s", topics: ["in"], keySerde: .string, valueSerde: .string)
                try topology.addSink(name: "s", topic: "out", keySerde: .string, valueSerde: .string, parents: ["s"])
            }, mentions: "'s'")
    }

    func testChildOfUnknownParent() {
        assertTopologyError(
            {
                let topology = Topology()
                try topology.addSource(name: "s", topics: ["in"], keySerde: .string, valueSerde: .string)
                try topology.addSink(name: "k", topic: "out", keySerde: .string, valueSerde: .string, parents: ["ghost"])
            }, mentions: "'k'", "'ghost'")
    }

    func testMismatchedRecordTypesBetweenHandWiredNodes() {
        assertTopologyError(
            {
                let topology = Topology()
                try topology.addSource(name: "s", topics: ["in"], keySerde: .string, valueSerde: .int64)
                try topology.addSink(name: "k", topic: "out", keySerde: .string, valueSerde: .string, parents: ["s"])
            }, mentions: "'k'", "'s'", "Int64")
    }

    func testTopicReadByTwoSources() {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string)).to("a", Produced(.string, .string))
        builder.stream("in", Consumed(.string, .string, named: "again")).to("b", Produced(.string, .string))
        assertTopologyError({ _ = try builder.build() }, mentions: "'in'", "'again'")
    }

    func testSourceWithoutTopics() {
        let builder = StreamsBuilder()
        builder.stream([String](), Consumed(.string, .string)).to("a", Produced(.string, .string))
        assertTopologyError({ _ = try builder.build() }, mentions: "KSTREAM-SOURCE-0000000000")
    }
}
