/// Runs a user ``Processor`` as a node of the graph.
final class ProcessorNodeAdapter<P: Processor>: InputNode<P.KIn, P.VIn> {
    let downstream = Downstream<P.KOut, P.VOut>()
    override var outputs: AnyDownstream? { downstream }
    let processor: P

    init(name: String, task: TaskState, processor: P) {
        self.processor = processor
        super.init(name: name, task: task)
    }

    override func initialize() throws {
        let context = ProcessorContext(task: task, nodeName: name, downstream: downstream)
        try userCode(self) { try processor.initialize(context: context) }
    }

    override func process(_ record: Record<P.KIn, P.VIn>) throws {
        try userCode(self) { try processor.process(record) }
    }

    override func close() { processor.close() }
}

/// Runs a user ``FixedKeyProcessor`` as a node of the graph.
final class FixedKeyProcessorNodeAdapter<P: FixedKeyProcessor>: InputNode<P.K, P.VIn> {
    let downstream = Downstream<P.K, P.VOut>()
    override var outputs: AnyDownstream? { downstream }
    let processor: P

    init(name: String, task: TaskState, processor: P) {
        self.processor = processor
        super.init(name: name, task: task)
    }

    override func initialize() throws {
        let context = FixedKeyProcessorContext(task: task, nodeName: name, downstream: downstream)
        try userCode(self) { try processor.initialize(context: context) }
    }

    override func process(_ record: Record<P.K, P.VIn>) throws {
        try userCode(self) { try processor.process(FixedKeyRecord(record)) }
    }

    override func close() { processor.close() }
}

/// A stateless DSL operator: one function of the record and the children.
///
/// The function wraps the user's code with ``userCode(_:_:)`` itself, so that errors
/// thrown further down keep the name of the node that threw them.
final class StatelessNode<KIn, VIn, KOut, VOut>: InputNode<KIn, VIn> {
    let downstream = Downstream<KOut, VOut>()
    override var outputs: AnyDownstream? { downstream }
    let body: (StatelessNode, Record<KIn, VIn>) throws -> Void

    init(name: String, task: TaskState, body: @escaping (StatelessNode, Record<KIn, VIn>) throws -> Void) {
        self.body = body
        super.init(name: name, task: task)
    }

    override func process(_ record: Record<KIn, VIn>) throws {
        try body(self, record)
    }
}

/// `split()`: each record goes to the first branch whose predicate holds, else to the default branch if any.
final class BranchNode<K, V>: InputNode<K, V> {
    let downstream = Downstream<K, V>()
    override var outputs: AnyDownstream? { downstream }
    /// Predicates by child name; a `nil` predicate is the default branch.
    let branches: [(child: String, predicate: (@Sendable (K, V) throws -> Bool)?)]
    private var routes: [(child: InputNode<K, V>, predicate: (@Sendable (K, V) throws -> Bool)?)] = []

    init(name: String, task: TaskState, branches: [(child: String, predicate: (@Sendable (K, V) throws -> Bool)?)]) {
        self.branches = branches
        super.init(name: name, task: task)
    }

    override func initialize() throws {
        routes = try branches.map { branch in
            guard let child = downstream.children.first(where: { $0.name == branch.child }) else {
                throw TopologyError("branch '\(branch.child)' of '\(name)' is missing")
            }
            return (child, branch.predicate)
        }
    }

    override func process(_ record: Record<K, V>) throws {
        for route in routes {
            if let predicate = route.predicate {
                if try userCode(self, { try predicate(record.key, record.value) }) {
                    try route.child.process(record)
                    return
                }
            } else {
                try route.child.process(record)
                return
            }
        }
    }
}
