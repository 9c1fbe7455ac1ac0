/// A processor graph: sources that read topics, processors, and sinks that write topics.
///
/// Build one with ``StreamsBuilder`` (the DSL) or by hand with the Processor API:
/// ```swift
/// let topology = Topology()
/// try topology.addSource(name: "in", topics: ["calls"], keySerde: .string, valueSerde: .string)
/// try topology.addProcessor(name: "upper", parents: ["in"]) { Upper() }
/// try topology.addSink(name: "out", topic: "calls-upper", keySerde: .string, valueSerde: .string, parents: ["upper"])
/// ```
/// A topology is immutable once handed to a runtime and may be shared across threads.
public final class Topology: @unchecked Sendable {
    /// One node of the graph, with the factory that instantiates it per task.
    package struct Node {
        package typealias Kind = TopologyDescription.Node.Kind

        package let name: String
        package let kind: Kind
        package let parents: [String]
        /// `Record<K, V>` that the node takes and forwards, for type checks when wiring.
        let inputType: Any.Type?
        let outputType: Any.Type?
        let make: @Sendable (NodeContext) throws -> AnyNode

        func with(kind: Kind) -> Node {
            Node(name: name, kind: kind, parents: parents, inputType: inputType, outputType: outputType, make: make)
        }
    }

    /// A topic the runtime creates for the topology (raw name, without the application id prefix).
    package struct InternalTopic: Sendable, Equatable {
        package let name: String
        /// Fixed partition count, or `nil` for the count of the topics feeding it.
        package let partitions: Int32?
    }

    package private(set) var nodes: [Node] = []
    private var indexByName: [String: Int] = [:]
    package private(set) var internalTopics: [String: InternalTopic] = [:]
    /// The state stores, in the order they were added, with the processors connected to each.
    package private(set) var stores: [(builder: any StoreBuilder, processors: [String])] = []
    /// The first error met while building through the DSL, reported by ``StreamsBuilder/build()``.
    var deferredError: TopologyError?

    public init() {}

    package func node(named name: String) -> Node? { indexByName[name].map { nodes[$0] } }

    // MARK: - Processor API

    /// Adds a source reading `topics`, deserializing with the given serdes.
    @discardableResult
    public func addSource<K, V>(
        name: String, topics: [String], keySerde: Serde<K>, valueSerde: Serde<V>,
        timestampExtractor: TimestampExtractor<K, V>? = nil
    ) throws -> Topology {
        guard !topics.isEmpty else { throw TopologyError("source '\(name)' reads no topic") }
        if let empty = topics.first(where: { $0.isEmpty }) {
            throw TopologyError("source '\(name)' names an empty topic ('\(empty)')")
        }
        try add(sourceNamed: name, topics: topics, keySerde: keySerde, valueSerde: valueSerde,
                timestampExtractor: timestampExtractor, makeDecode: SourceNode.decoder)
        return self
    }

    /// Adds a processor below `parents`; `supplier` makes one instance per task.
    @discardableResult
    public func addProcessor<P: Processor & SendableMetatype>(
        name: String, parents: [String], stores: [String] = [], supplier: @escaping @Sendable () -> P
    ) throws -> Topology {
        try add(
            Node(
                name: name, kind: .processor(stores: stores), parents: parents,
                inputType: Record<P.KIn, P.VIn>.self, outputType: Record<P.KOut, P.VOut>.self,
                make: { context in try ProcessorNodeAdapter(name: name, context: context, processor: supplier()) }))
        return self
    }

    /// Adds a sink writing to `topic`.
    @discardableResult
    public func addSink<K, V>(
        name: String, topic: String, keySerde: Serde<K>, valueSerde: Serde<V>,
        partitioner: StreamPartitioner<K, V>? = nil, parents: [String]
    ) throws -> Topology {
        guard !topic.isEmpty else { throw TopologyError("sink '\(name)' has no topic") }
        try add(sinkNamed: name, target: .topic(topic), keySerde: keySerde, valueSerde: valueSerde,
                partitioner: partitioner, parents: parents, makeSend: SinkNode.sender)
        return self
    }

    /// Adds a sink that picks its topic per record.
    @discardableResult
    public func addSink<K, V>(
        name: String, topicExtractor: @escaping TopicNameExtractor<K, V>, keySerde: Serde<K>, valueSerde: Serde<V>,
        partitioner: StreamPartitioner<K, V>? = nil, parents: [String]
    ) throws -> Topology {
        try add(sinkNamed: name, target: .extractor(topicExtractor), keySerde: keySerde, valueSerde: valueSerde,
                partitioner: partitioner, parents: parents, makeSend: SinkNode.sender)
        return self
    }

    /// Adds a state store, connected to the named processors (which may also name it with `stores:`).
    /// Fails when another store has the same name or a processor is unknown.
    @discardableResult
    public func addStateStore(_ builder: any StoreBuilder, connectedTo processors: [String] = []) throws -> Topology {
        guard !builder.name.isEmpty else { throw TopologyError("a state store name is empty") }
        guard !stores.contains(where: { $0.builder.name == builder.name }) else {
            throw TopologyError("state store name '\(builder.name)' is used more than once")
        }
        stores.append((builder, []))
        for processor in processors { try connect(processor: processor, toStore: builder.name) }
        return self
    }

    /// Gives `processor` access to the store named `store`.
    public func connect(processor: String, toStore store: String) throws {
        guard let index = indexByName[processor], case .processor(var names) = nodes[index].kind else {
            throw TopologyError("state store '\(store)' is connected to '\(processor)', which is not a processor of the topology")
        }
        if !names.contains(store) {
            names.append(store)
            nodes[index] = nodes[index].with(kind: .processor(stores: names))
        }
    }

    /// The processors connected to each store, from both sides of the connection.
    package func processors(connectedTo store: String) -> [String] {
        nodes.compactMap { node in
            if case .processor(let names) = node.kind, names.contains(store) { return node.name }
            return nil
        }
    }

    /// The changelog topic of a store: `<applicationID>-<store>-changelog`.
    package static func changelogTopic(store: String, applicationID: String) -> String {
        "\(applicationID)-\(store)-changelog"
    }

    /// The sub-topology whose tasks own the store named `store`.
    package func subtopology(ofStore store: String) -> Int? {
        let users = Set(processors(connectedTo: store))
        return subtopologies.firstIndex { names in names.contains(where: users.contains) }
    }

    /// The builder of the store named `name`.
    package func storeBuilder(named name: String) -> (any StoreBuilder)? {
        stores.first { $0.builder.name == name }?.builder
    }

    /// What the topology looks like, in Kafka Streams' text format (`print(topology.describe())`).
    public func describe() -> TopologyDescription { TopologyDescription(self) }

    // MARK: - Building (shared by the DSL)

    func add(_ node: Node) throws {
        guard !node.name.isEmpty else { throw TopologyError("a processor name is empty") }
        guard indexByName[node.name] == nil else { throw TopologyError.duplicateName(node.name) }
        if case .source = node.kind {} else if node.parents.isEmpty {
            throw TopologyError("'\(node.name)' has no parent")
        }
        for parentName in node.parents {
            guard let parent = self.node(named: parentName) else {
                throw TopologyError.unknownParent(parentName, child: node.name)
            }
            if case .sink = parent.kind {
                throw TopologyError("'\(node.name)' can't be a child of sink '\(parentName)'")
            }
            if let out = parent.outputType, let input = node.inputType, ObjectIdentifier(out) != ObjectIdentifier(input) {
                throw TopologyError(
                    "'\(node.name)' takes \(input) but its parent '\(parentName)' forwards \(out)")
            }
        }
        indexByName[node.name] = nodes.count
        nodes.append(node)
    }

    @usableFromInline
    func add<K, V>(
        sourceNamed name: String, topics: [String], keySerde: Serde<K>?, valueSerde: Serde<V>?,
        timestampExtractor: TimestampExtractor<K, V>?, makeDecode: @escaping SourceNode<K, V>.MakeDecode
    ) throws {
        for topic in topics {
            if let other = nodes.first(where: { if case .source(let t) = $0.kind { return t.contains(topic) } else { return false } }) {
                throw TopologyError("topic '\(topic)' is read by two sources: '\(other.name)' and '\(name)'")
            }
        }
        try add(
            Node(
                name: name, kind: .source(topics: topics), parents: [], inputType: nil,
                outputType: Record<K, V>.self,
                make: { context in
                    let task = context.task
                    return try SourceNode(
                        name: name, context: context,
                        decode: makeDecode(
                            try resolve(keySerde, task.config.defaultKeySerde, node: name, part: "key"),
                            try resolve(valueSerde, task.config.defaultValueSerde, node: name, part: "value"),
                            timestampExtractor))
                }))
    }

    @usableFromInline
    func add<K, V>(
        sinkNamed name: String, target: SinkNode<K, V>.Target, keySerde: Serde<K>?, valueSerde: Serde<V>?,
        partitioner: StreamPartitioner<K, V>?, parents: [String], makeSend: @escaping SinkNode<K, V>.MakeSend
    ) throws {
        let topic: String?
        if case .topic(let t) = target { topic = t } else { topic = nil }
        try add(
            Node(
                name: name, kind: .sink(topic: topic), parents: parents, inputType: Record<K, V>.self,
                outputType: nil,
                make: { context in
                    let task = context.task
                    let resolved: SinkNode<K, V>.Target
                    switch target {
                    case .topic(let t): resolved = .topic(task.resolveTopic(t))
                    case .extractor: resolved = target
                    }
                    return try SinkNode<K, V>(
                        name: name, context: context,
                        send: makeSend(
                            resolved,
                            try resolve(keySerde, task.config.defaultKeySerde, node: name, part: "key"),
                            try resolve(valueSerde, task.config.defaultValueSerde, node: name, part: "value"),
                            partitioner))
                }))
    }

    @usableFromInline
    func addInternalTopic(_ name: String, partitions: Int32?) {
        internalTopics[name] = InternalTopic(name: name, partitions: partitions)
    }

    @usableFromInline
    func recordDeferred(_ error: Error) {
        guard deferredError == nil else { return }
        deferredError = (error as? TopologyError) ?? TopologyError("\(error)")
    }

    /// Checks what can only be checked on the whole graph.
    package func validate() throws {
        if let deferredError { throw deferredError }
        for node in nodes {
            guard case .processor(let names) = node.kind else { continue }
            for store in names where storeBuilder(named: store) == nil {
                throw TopologyError("processor '\(node.name)' uses state store '\(store)', which was never added to the topology")
            }
        }
        guard nodes.contains(where: { if case .source = $0.kind { return true } else { return false } }) else {
            throw TopologyError.noSources
        }
    }

    // MARK: - Structure

    /// Node names per sub-topology, numbered in the order their first node was added.
    package var subtopologies: [[String]] {
        var parent: [String: String] = [:]
        func root(_ name: String) -> String {
            var current = name
            while let next = parent[current], next != current { current = next }
            return current
        }
        func union(_ x: String, _ y: String) {
            let a = root(x), b = root(y)
            if a != b { parent[b] = a }
        }
        var firstUser: [String: String] = [:]
        for node in nodes {
            parent[node.name] = parent[node.name] ?? node.name
            for p in node.parents { union(p, node.name) }
            // Processors sharing a store run in the same task.
            if case .processor(let names) = node.kind {
                for store in names {
                    if let other = firstUser[store] { union(other, node.name) } else { firstUser[store] = node.name }
                }
            }
        }
        var groupIndex: [String: Int] = [:]
        var groups: [[String]] = []
        for node in nodes {
            let r = root(node.name)
            if let i = groupIndex[r] {
                groups[i].append(node.name)
            } else {
                groupIndex[r] = groups.count
                groups.append([node.name])
            }
        }
        return groups
    }

    /// The topics the sources of a sub-topology read (raw names).
    package func sourceTopics(ofSubtopology names: [String]) -> [String] {
        names.flatMap { name -> [String] in
            if case .source(let topics)? = node(named: name)?.kind { return topics }
            return []
        }
    }

    /// The global tables: each application instance reads their topics whole into its own store.
    package private(set) var globalTables: [GlobalTableDefinition] = []

    func addGlobalTable(_ definition: GlobalTableDefinition) throws {
        let name = definition.storeBuilder.name
        guard !stores.contains(where: { $0.builder.name == name }), !globalTables.contains(where: { $0.storeBuilder.name == name }) else {
            throw TopologyError("state store '\(name)' is added twice: store names must be unique")
        }
        globalTables.append(definition)
    }

    /// The joins whose inputs must be co-partitioned, each with the nodes feeding its sides.
    package private(set) var copartitionedJoins: [(join: String, sides: [String])] = []

    /// Records that the inputs of `join` (the nodes in `sides`) must be co-partitioned.
    package func requireCopartitioning(join: String, sides: [String]) {
        copartitionedJoins.append((join, sides))
    }

    /// Each co-partitioned join with the source topics (raw names) feeding each of its sides.
    package var copartitionGroups: [(join: String, sides: [[String]])] {
        copartitionedJoins.map { join in (join.join, join.sides.map { sourceTopics(upstreamOf: $0) }) }
    }

    /// The source topics whose records reach `node`.
    package func sourceTopics(upstreamOf node: String) -> [String] {
        var seen: Set<String> = []
        var pending = [node]
        var topics: [String] = []
        while let name = pending.popLast() {
            guard seen.insert(name).inserted, let definition = self.node(named: name) else { continue }
            if case .source(let sourceTopics) = definition.kind { topics += sourceTopics }
            pending += definition.parents
        }
        return topics.sorted()
    }

    /// Every topic the topology reads, raw names.
    package var sourceTopics: [String] {
        nodes.flatMap { node -> [String] in
            if case .source(let topics) = node.kind { return topics }
            return []
        }
    }

    /// Every fixed topic the topology writes, raw names.
    package var sinkTopics: [String] {
        nodes.compactMap { node -> String? in
            if case .sink(let topic) = node.kind { return topic }
            return nil
        }
    }

    /// Whether some sink picks its topic per record.
    package var hasTopicExtractorSinks: Bool {
        nodes.contains { if case .sink(nil) = $0.kind { return true } else { return false } }
    }

    /// `name` as the brokers know it: internal topics get `<applicationID>-` in front.
    package func resolvedTopic(_ name: String, applicationID: String) -> String {
        internalTopics[name] != nil ? "\(applicationID)-\(name)" : name
    }
}

/// The serde given, else the configured default if it fits `T`.
func resolve<T>(_ given: Serde<T>?, _ configured: AnySerde?, node: String, part: String) throws -> Serde<T> {
    if let given { return given }
    guard let configured else {
        throw StreamsError.serdeMismatch(node: node, part: part, needed: "\(T.self)", configured: nil)
    }
    guard let typed = configured.typed(T.self) else {
        throw StreamsError.serdeMismatch(node: node, part: part, needed: "\(T.self)", configured: configured.typeName)
    }
    return typed
}

extension Topology {
    /// The partition count of each internal topic (raw names): its fixed count; else, for a topic
    /// feeding a join, the count of the join's other inputs; else the largest count among the
    /// topics read by the sub-topology that writes it.
    package func internalTopicPartitions(sourcePartitions: [String: Int32]) -> [String: Int32] {
        var counts = sourcePartitions
        var result: [String: Int32] = [:]
        for topic in internalTopics.values {
            if let fixed = topic.partitions {
                result[topic.name] = fixed
                counts[topic.name] = fixed
            }
        }
        let groups = subtopologies
        var changed = true
        while changed {
            changed = false
            // A topic feeding a join takes the partition count its co-partitioned inputs already have.
            for group in copartitionGroups {
                let topics = group.sides.flatMap { $0 }
                guard let count = topics.compactMap({ counts[$0] }).max() else { continue }
                for topic in topics where internalTopics[topic] != nil && result[topic] == nil {
                    result[topic] = count
                    counts[topic] = count
                    changed = true
                }
            }
            if changed { continue }
            for topic in internalTopics.values where result[topic.name] == nil {
                // The sub-topologies with a sink writing this topic.
                let writers = groups.filter { names in
                    names.contains { if case .sink(topic.name)? = node(named: $0)?.kind { return true } else { return false } }
                }
                let inputs = writers.flatMap { sourceTopics(ofSubtopology: $0) }
                let known = inputs.compactMap { counts[$0] }
                guard !inputs.isEmpty, known.count == inputs.count, let count = known.max() else { continue }
                result[topic.name] = count
                counts[topic.name] = count
                changed = true
            }
        }
        for topic in internalTopics.keys where result[topic] == nil { result[topic] = 1 }
        return result
    }

    /// Checks that the inputs of every join have one partition count; `partitions` has the count
    /// of every topic the topology reads (raw names, internal ones included).
    package func checkCopartitioning(_ partitions: [String: Int32], applicationID: String) throws {
        for group in copartitionGroups {
            let topics = Set(group.sides.flatMap { $0 })
            let counts = Dictionary(uniqueKeysWithValues: topics.compactMap { topic in
                partitions[topic].map { (resolvedTopic(topic, applicationID: applicationID), $0) }
            })
            if Set(counts.values).count > 1 { throw CopartitioningError(join: group.join, partitions: counts) }
        }
    }

    /// The number of tasks of a sub-topology: the largest partition count among the topics it reads
    /// (raw names in `partitions`); task `p` reads partition `p` of each topic that has one.
    package func taskCount(ofSubtopology index: Int, partitions: [String: Int32]) -> Int32 {
        sourceTopics(ofSubtopology: subtopologies[index]).compactMap { partitions[$0] }.max() ?? 1
    }
}
