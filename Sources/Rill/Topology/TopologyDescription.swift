/// A printable picture of a topology, in Kafka Streams' `TopologyDescription` text format.
public struct TopologyDescription: Sendable, CustomStringConvertible {
    /// One connected part of the graph; each becomes one task per partition.
    public struct Subtopology: Sendable {
        public let id: Int
        /// Nodes in Kafka Streams' order: larger sub-trees first, then by name.
        public let nodes: [Node]
    }

    /// A node with its neighbours, by name.
    public struct Node: Sendable {
        /// What a node is: a source of topics, a processor with its stores, or a sink to a topic
        /// (`nil` when a topic-name extractor picks it per record).
        public enum Kind: Sendable, Equatable {
            case source(topics: [String])
            case processor(stores: [String])
            case sink(topic: String?)
        }
        public let name: String
        public let kind: Kind
        public let successors: [String]
        public let predecessors: [String]
    }

    /// A global table's store, filled by a source and a processor of its own on every instance.
    public struct GlobalStore: Sendable {
        public let id: Int
        public let source: Node
        public let processor: Node
    }

    public let subtopologies: [Subtopology]
    /// Numbered after the sub-topologies.
    public let globalStores: [GlobalStore]

    init(_ topology: Topology) {
        var result: [Subtopology] = []
        for (id, names) in topology.subtopologies.enumerated() {
            let members = Set(names)
            var children: [String: [String]] = [:]
            for name in names {
                for parent in topology.node(named: name)?.parents ?? [] where members.contains(parent) {
                    children[parent, default: []].append(name)
                }
            }
            var sizes: [String: Int] = [:]
            func size(_ name: String) -> Int {
                if let known = sizes[name] { return known }
                let total = 1 + (children[name] ?? []).reduce(0) { $0 + size($1) }
                sizes[name] = total
                return total
            }
            let order: (String, String) -> Bool = { a, b in
                let (sa, sb) = (size(a), size(b))
                return sa != sb ? sa > sb : a < b
            }
            let nodes = names.sorted(by: order).map { name -> Node in
                let definition = topology.node(named: name)
                let kind = definition?.kind ?? .processor(stores: [])
                return Node(
                    name: name, kind: kind,
                    successors: (children[name] ?? []).sorted(by: order),
                    predecessors: (definition?.parents ?? []).sorted(by: order))
            }
            result.append(Subtopology(id: id, nodes: nodes))
        }
        subtopologies = result
        globalStores = topology.globalTables.enumerated().map { index, table in
            GlobalStore(
                id: result.count + index,
                source: Node(name: table.sourceName, kind: .source(topics: [table.topic]), successors: [table.processorName], predecessors: []),
                processor: Node(
                    name: table.processorName, kind: .processor(stores: [table.storeBuilder.name]), successors: [],
                    predecessors: [table.sourceName]))
        }
    }

    /// The text Kafka Streams prints for `topology.describe()`.
    public var description: String {
        var text = "Topologies:\n "
        for subtopology in subtopologies {
            text += "  Sub-topology: \(subtopology.id)\n"
            for node in subtopology.nodes {
                text += "    " + node.text + "\n"
            }
            text += "\n"
        }
        for store in globalStores {
            text += "  Sub-topology: \(store.id) for global store (will not generate tasks)\n"
            text += "    " + store.source.text + "\n"
            text += "    " + store.processor.text + "\n"
            text += "\n"
        }
        return text
    }
}

extension TopologyDescription.Node {
    var text: String {
        func names(_ list: [String]) -> String { list.isEmpty ? "none" : list.joined(separator: ", ") }
        switch kind {
        case .source(let topics):
            return "Source: \(name) (topics: [\(topics.joined(separator: ", "))])\n      --> \(names(successors))"
        case .processor(let stores):
            return "Processor: \(name) (stores: [\(stores.joined(separator: ", "))])\n      --> \(names(successors))"
                + "\n      <-- \(names(predecessors))"
        case .sink(let topic?):
            return "Sink: \(name) (topic: \(topic))\n      <-- \(names(predecessors))"
        case .sink(nil):
            return "Sink: \(name) (extractor class: TopicNameExtractor)\n      <-- \(names(predecessors))"
        }
    }
}
