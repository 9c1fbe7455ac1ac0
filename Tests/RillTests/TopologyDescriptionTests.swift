import Rill
import XCTest

/// `describe()` prints Kafka Streams' text, with its generated names.
final class TopologyDescriptionTests: XCTestCase {
    func testSimpleChain() throws {
        let builder = StreamsBuilder()
        builder.stream("calls", Consumed(.string, .string))
            .filter { _, _ in true }
            .mapValues { $0 }
            .to("out", Produced(.string, .string))
        XCTAssertEqual("\(try builder.build().describe())", """
            Topologies:
               Sub-topology: 0
                Source: KSTREAM-SOURCE-0000000000 (topics: [calls])
                  --> KSTREAM-FILTER-0000000001
                Processor: KSTREAM-FILTER-0000000001 (stores: [])
                  --> KSTREAM-MAPVALUES-0000000002
                  <-- KSTREAM-SOURCE-0000000000
                Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])
                  --> KSTREAM-SINK-0000000003
                  <-- KSTREAM-FILTER-0000000001
                Sink: KSTREAM-SINK-0000000003 (topic: out)
                  <-- KSTREAM-MAPVALUES-0000000002


            """)
    }

    func testAGlobalTableIsASubtopologyThatMakesNoTasks() throws {
        let builder = StreamsBuilder()
        let calls = builder.stream("calls", Consumed(.string, .string))
        let clinics = builder.globalTable("clinics", Consumed(.string, .string))
        calls.join(clinics, keySelector: { _, call in call }, joiner: { call, clinic in call + clinic })
            .to("out", Produced(.string, .string))
        XCTAssertEqual("\(try builder.build().describe())", """
            Topologies:
               Sub-topology: 0
                Source: KSTREAM-SOURCE-0000000000 (topics: [calls])
                  --> KSTREAM-JOIN-0000000004
                Processor: KSTREAM-JOIN-0000000004 (stores: [])
                  --> KSTREAM-SINK-0000000005
                  <-- KSTREAM-SOURCE-0000000000
                Sink: KSTREAM-SINK-0000000005 (topic: out)
                  <-- KSTREAM-JOIN-0000000004

              Sub-topology: 1 for global store (will not generate tasks)
                Source: KSTREAM-SOURCE-0000000002 (topics: [clinics])
                  --> KTABLE-SOURCE-0000000003
                Processor: KTABLE-SOURCE-0000000003 (stores: [clinics-STATE-STORE-0000000001])
                  --> none
                  <-- KSTREAM-SOURCE-0000000002


            """)
    }

    func testRepartitionSplitsIntoTwoSubtopologies() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string))
            .selectKey { _, v in v }
            .repartition(Repartitioned(keySerde: .string, valueSerde: .string))
            .to("out", Produced(.string, .string))
        // selectKey 1, repartition 2, then sink 3, filter 4, source 5 are burnt; the final sink is 6.
        XCTAssertEqual("\(try builder.build().describe())", """
            Topologies:
               Sub-topology: 0
                Source: KSTREAM-SOURCE-0000000000 (topics: [in])
                  --> KSTREAM-KEY-SELECT-0000000001
                Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
                  --> KSTREAM-FILTER-0000000004
                  <-- KSTREAM-SOURCE-0000000000
                Processor: KSTREAM-FILTER-0000000004 (stores: [])
                  --> KSTREAM-SINK-0000000003
                  <-- KSTREAM-KEY-SELECT-0000000001
                Sink: KSTREAM-SINK-0000000003 (topic: KSTREAM-REPARTITION-0000000002-repartition)
                  <-- KSTREAM-FILTER-0000000004

              Sub-topology: 1
                Source: KSTREAM-SOURCE-0000000005 (topics: [KSTREAM-REPARTITION-0000000002-repartition])
                  --> KSTREAM-SINK-0000000006
                Sink: KSTREAM-SINK-0000000006 (topic: out)
                  <-- KSTREAM-SOURCE-0000000005


            """)
    }

    func testNamedRepartitionUsesTopicDerivedNodeNames() throws {
        let builder = StreamsBuilder()
        builder.stream("in", Consumed(.string, .string))
            .repartition(Repartitioned(named: "by-key", keySerde: .string, valueSerde: .string))
            .to("out", Produced(.string, .string, named: "to-out"))
        let text = "\(try builder.build().describe())"
        XCTAssertTrue(text.contains("Processor: by-key-repartition-filter (stores: [])"), text)
        XCTAssertTrue(text.contains("Sink: by-key-repartition-sink (topic: by-key-repartition)"), text)
        XCTAssertTrue(text.contains("Source: by-key-repartition-source (topics: [by-key-repartition])"), text)
        XCTAssertTrue(text.contains("Sink: to-out (topic: out)"), text)
    }

    func testSplitBranchesAreOrderedBySubtreeSizeThenName() throws {
        let builder = StreamsBuilder()
        let branches = builder.stream("in", Consumed(.string, .int64))
            .split(named: "s-")
            .branch({ _, n in n > 0 }, Branched.as("pos"))
            .defaultBranch(Branched.as("rest"))
        branches["s-pos"]?.mapValues { $0 }.to("positive", Produced(.string, .int64))
        branches["s-rest"]?.to("other", Produced(.string, .int64))
        XCTAssertEqual("\(try builder.build().describe())", """
            Topologies:
               Sub-topology: 0
                Source: KSTREAM-SOURCE-0000000000 (topics: [in])
                  --> s-
                Processor: s- (stores: [])
                  --> s-pos, s-rest
                  <-- KSTREAM-SOURCE-0000000000
                Processor: s-pos (stores: [])
                  --> KSTREAM-MAPVALUES-0000000003
                  <-- s-
                Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])
                  --> KSTREAM-SINK-0000000004
                  <-- s-pos
                Processor: s-rest (stores: [])
                  --> KSTREAM-SINK-0000000005
                  <-- s-
                Sink: KSTREAM-SINK-0000000004 (topic: positive)
                  <-- KSTREAM-MAPVALUES-0000000003
                Sink: KSTREAM-SINK-0000000005 (topic: other)
                  <-- s-rest


            """)
    }

    func testMergeAndExtractorSink() throws {
        let builder = StreamsBuilder()
        let a = builder.stream("a", Consumed(.string, .string))
        let b = builder.stream("b", Consumed(.string, .string))
        a.merge(b).to({ _, _, _ in "x" }, Produced(.string, .string))
        XCTAssertEqual("\(try builder.build().describe())", """
            Topologies:
               Sub-topology: 0
                Source: KSTREAM-SOURCE-0000000000 (topics: [a])
                  --> KSTREAM-MERGE-0000000002
                Source: KSTREAM-SOURCE-0000000001 (topics: [b])
                  --> KSTREAM-MERGE-0000000002
                Processor: KSTREAM-MERGE-0000000002 (stores: [])
                  --> KSTREAM-SINK-0000000003
                  <-- KSTREAM-SOURCE-0000000000, KSTREAM-SOURCE-0000000001
                Sink: KSTREAM-SINK-0000000003 (extractor class: TopicNameExtractor)
                  <-- KSTREAM-MERGE-0000000002


            """)
    }
}
