import Rill
import XCTest

/// `describe().mermaid` and `.dot`: the graph of the text description, as pictures.
final class TopologyPictureTests: XCTestCase {
    /// A word count: a repartition splits it in two sub-topologies joined by a topic; the count
    /// keeps a store.
    func wordCount() throws -> TopologyDescription {
        let builder = StreamsBuilder()
        builder.stream("lines", Consumed(.string, .string))
            .flatMapValues { $0.split(separator: " ").map(String.init) }
            .groupBy { _, word in word }
            .count(materialized: .as("counts"))
            .toStream()
            .to("word-counts", Produced(.string, Serde<Int64>.int64.optional))
        return try builder.build().describe()
    }

    func testMermaidHasASubgraphPerSubtopologyTopicsBetweenThemAndStoresByTheirProcessors() throws {
        XCTAssertEqual(try wordCount().mermaid, """
            flowchart TB
              subgraph sub0["Sub-topology 0"]
                n0["Source: KSTREAM-SOURCE-0000000000"]
                n1["KSTREAM-FLATMAPVALUES-0000000001"]
                n2["KSTREAM-KEY-SELECT-0000000002"]
                n3["counts-repartition-filter"]
                n4["Sink: counts-repartition-sink"]
              end
              subgraph sub1["Sub-topology 1"]
                n5["Source: counts-repartition-source"]
                n6["KSTREAM-AGGREGATE-0000000003"]
                n7["KTABLE-TOSTREAM-0000000007"]
                n8["Sink: KSTREAM-SINK-0000000008"]
                s0[("counts")]
              end
              t0(["lines"])
              t1(["counts-repartition"])
              t2(["word-counts"])
              t0 --> n0
              n0 --> n1
              n1 --> n2
              n2 --> n3
              n3 --> n4
              n4 --> t1
              t1 --> n5
              n5 --> n6
              n6 -.- s0
              n6 --> n7
              n7 --> n8
              n8 --> t2

            """)
    }

    func testDotHasAClusterPerSubtopologyTopicsBetweenThemAndStoresByTheirProcessors() throws {
        XCTAssertEqual(try wordCount().dot, """
            digraph topology {
              node [shape=box];
              subgraph cluster_sub0 {
                label="Sub-topology 0";
                n0 [label="Source: KSTREAM-SOURCE-0000000000"];
                n1 [label="KSTREAM-FLATMAPVALUES-0000000001"];
                n2 [label="KSTREAM-KEY-SELECT-0000000002"];
                n3 [label="counts-repartition-filter"];
                n4 [label="Sink: counts-repartition-sink"];
              }
              subgraph cluster_sub1 {
                label="Sub-topology 1";
                n5 [label="Source: counts-repartition-source"];
                n6 [label="KSTREAM-AGGREGATE-0000000003"];
                n7 [label="KTABLE-TOSTREAM-0000000007"];
                n8 [label="Sink: KSTREAM-SINK-0000000008"];
                s0 [label="counts", shape=cylinder];
              }
              t0 [label="lines", shape=ellipse];
              t1 [label="counts-repartition", shape=ellipse];
              t2 [label="word-counts", shape=ellipse];
              t0 -> n0;
              n0 -> n1;
              n1 -> n2;
              n2 -> n3;
              n3 -> n4;
              n4 -> t1;
              t1 -> n5;
              n5 -> n6;
              n6 -> s0 [style=dashed, arrowhead=none];
              n6 -> n7;
              n7 -> n8;
              n8 -> t2;
            }

            """)
    }

    func testGlobalStoresExtractorSinksAndQuotesInNames() throws {
        let builder = StreamsBuilder()
        let calls = builder.stream(#"calls "raw""#, Consumed(.string, .string))
        let clinics = builder.globalTable(#"clinics\eu"#, Consumed(.string, .string))
        calls.join(clinics, keySelector: { _, call in call }, joiner: { call, clinic in call + clinic })
            .to({ key, _, _ in "out-\(key)" }, Produced(.string, .string))
        let description = try builder.build().describe()
        let mermaid = description.mermaid
        XCTAssertTrue(mermaid.contains(#"t0(["calls #quot;raw#quot;"])"#), mermaid)
        XCTAssertTrue(mermaid.contains(#"subgraph sub1["Sub-topology 1 (global store)"]"#), mermaid)
        XCTAssertTrue(mermaid.contains(#"n2["Sink: KSTREAM-SINK-0000000005 (topic chosen per record)"]"#), mermaid)
        XCTAssertTrue(mermaid.contains(#"s0[("clinics\eu-STATE-STORE-0000000001")]"#), mermaid)
        let dot = description.dot
        XCTAssertTrue(dot.contains(#"t0 [label="calls \"raw\"", shape=ellipse];"#), dot)
        XCTAssertTrue(dot.contains(#"t1 [label="clinics\\eu", shape=ellipse];"#), dot)
        XCTAssertTrue(dot.contains(#"label="Sub-topology 1 (global store)";"#), dot)
        // The extractor sink goes to no topic node; the global table's source reads its topic.
        XCTAssertFalse(dot.contains("n2 -> t"), dot)
        XCTAssertTrue(dot.contains("t1 -> n3;"), dot)
        XCTAssertEqual(description.rendered(as: .text), "\(description)")
        XCTAssertEqual(description.rendered(as: .dot), dot)
        XCTAssertEqual(description.rendered(as: .mermaid), mermaid)
    }
}
