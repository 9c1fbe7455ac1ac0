/// Topology pictures: the description as a Mermaid flowchart or a Graphviz DOT graph, with one box
/// per sub-topology, topics between them, and the stores each processor uses.
///
/// ```swift
/// print(try builder.build().describe().mermaid)   // paste into a Markdown file, or mermaid.live
/// print(try builder.build().describe().dot)       // dot -Tsvg topology.dot > topology.svg
/// ```
extension TopologyDescription {
    /// The ways a description can be printed.
    public enum Format: String, CaseIterable, Sendable {
        /// Kafka Streams' text (``TopologyDescription/description``).
        case text
        /// A Mermaid flowchart (``TopologyDescription/mermaid``).
        case mermaid
        /// A Graphviz DOT graph (``TopologyDescription/dot``).
        case dot
    }

    /// The description in `format`.
    public func rendered(as format: Format) -> String {
        switch format {
        case .text: description
        case .mermaid: mermaid
        case .dot: dot
        }
    }

    /// A Mermaid flowchart: sub-topologies as subgraphs, topics as stadiums, stores as cylinders
    /// joined to their processors by dotted lines.
    public var mermaid: String {
        let picture = Picture(self)
        var lines = ["flowchart TB"]
        for cluster in picture.clusters {
            lines.append("  subgraph \(cluster.id)[\"\(mermaidEscaped(cluster.title))\"]")
            for node in cluster.nodes { lines.append("    \(node.id)[\"\(mermaidEscaped(node.label))\"]") }
            for store in cluster.stores { lines.append("    \(store.id)[(\"\(mermaidEscaped(store.label))\")]") }
            lines.append("  end")
        }
        for topic in picture.topics { lines.append("  \(topic.id)([\"\(mermaidEscaped(topic.label))\"])") }
        for edge in picture.edges { lines.append("  \(edge.from) \(edge.isStore ? "-.-" : "-->") \(edge.to)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A Graphviz DOT graph: sub-topologies as clusters, topics as ellipses, stores as cylinders
    /// joined to their processors by dashed lines.
    public var dot: String {
        let picture = Picture(self)
        var lines = ["digraph topology {", "  node [shape=box];"]
        for cluster in picture.clusters {
            lines.append("  subgraph cluster_\(cluster.id) {")
            lines.append("    label=\"\(dotEscaped(cluster.title))\";")
            for node in cluster.nodes { lines.append("    \(node.id) [label=\"\(dotEscaped(node.label))\"];") }
            for store in cluster.stores {
                lines.append("    \(store.id) [label=\"\(dotEscaped(store.label))\", shape=cylinder];")
            }
            lines.append("  }")
        }
        for topic in picture.topics { lines.append("  \(topic.id) [label=\"\(dotEscaped(topic.label))\", shape=ellipse];") }
        for edge in picture.edges {
            lines.append("  \(edge.from) -> \(edge.to)\(edge.isStore ? " [style=dashed, arrowhead=none]" : "");")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The graph both pictures draw, with identifiers safe in either language (`n…` nodes, `t…` topics,
/// `s…` stores, `sub…` sub-topologies), numbered in the description's order.
private struct Picture {
    struct Item {
        let id: String
        let label: String
    }
    struct Cluster {
        let id: String
        let title: String
        var nodes: [Item] = []
        var stores: [Item] = []
    }
    struct Edge {
        let from: String
        let to: String
        /// A processor's use of a store, drawn undirected and dotted.
        var isStore = false
    }

    var clusters: [Cluster] = []
    var topics: [Item] = []
    var edges: [Edge] = []
    private var nodeIDs: [String: String] = [:]
    private var topicIDs: [String: String] = [:]
    private var storeIDs: [String: String] = [:]

    init(_ description: TopologyDescription) {
        let groups = description.subtopologies.map { ("Sub-topology \($0.id)", $0.nodes) }
            + description.globalStores.map { ("Sub-topology \($0.id) (global store)", [$0.source, $0.processor]) }
        for (title, nodes) in groups {
            for node in nodes { nodeIDs[node.name] = "n\(nodeIDs.count)" }
            var cluster = Cluster(id: "sub\(clusters.count)", title: title)
            for node in nodes {
                let id = nodeIDs[node.name]!
                switch node.kind {
                case .source(let names):
                    cluster.nodes.append(Item(id: id, label: "Source: \(node.name)"))
                    for name in names { edges.append(Edge(from: topic(name), to: id)) }
                case .processor(let stores):
                    cluster.nodes.append(Item(id: id, label: node.name))
                    for name in stores {
                        if storeIDs[name] == nil {
                            storeIDs[name] = "s\(storeIDs.count)"
                            cluster.stores.append(Item(id: storeIDs[name]!, label: name))
                        }
                        edges.append(Edge(from: id, to: storeIDs[name]!, isStore: true))
                    }
                case .sink(let name?):
                    cluster.nodes.append(Item(id: id, label: "Sink: \(node.name)"))
                    edges.append(Edge(from: id, to: topic(name)))
                case .sink(nil):
                    cluster.nodes.append(Item(id: id, label: "Sink: \(node.name) (topic chosen per record)"))
                }
                for successor in node.successors { if let to = nodeIDs[successor] { edges.append(Edge(from: id, to: to)) } }
            }
            clusters.append(cluster)
        }
    }

    /// The topic's identifier, added on first use.
    private mutating func topic(_ name: String) -> String {
        if let id = topicIDs[name] { return id }
        let id = "t\(topicIDs.count)"
        topicIDs[name] = id
        topics.append(Item(id: id, label: name))
        return id
    }
}

/// Text inside a quoted Mermaid label: its quote is written as an entity.
private func mermaidEscaped(_ text: String) -> String {
    text.replacingOccurrences(of: "\"", with: "#quot;")
}

/// Text inside a quoted DOT string.
private func dotEscaped(_ text: String) -> String {
    text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
}
