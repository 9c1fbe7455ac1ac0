/// Runs a user ``Processor`` as a node of the graph.
final class ProcessorNodeAdapter<P: Processor>: InputNode<P.KIn, P.VIn> {
    let downstream: Downstream<P.KOut, P.VOut>
    let processor: P

    init(name: String, context: NodeContext, processor: P) throws {
        self.processor = processor
        downstream = try Downstream(context.children, parent: name)
        super.init(name: name, task: context.task)
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
    let downstream: Downstream<P.K, P.VOut>
    let processor: P

    init(name: String, context: NodeContext, processor: P) throws {
        self.processor = processor
        downstream = try Downstream(context.children, parent: name)
        super.init(name: name, task: context.task)
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
/// thrown further down keep the name of the node that threw them. It is the node's ``InputNode/entry``.
@usableFromInline
final class StatelessNode<KIn, VIn, KOut, VOut>: InputNode<KIn, VIn> {
    @usableFromInline typealias Body = @Sendable (StatelessNode, Record<KIn, VIn>) throws -> Void
    /// A body that reads the record where it lies, without copying it (so without retaining its parts).
    @usableFromInline typealias PointerBody = @Sendable (StatelessNode, UnsafePointer<Record<KIn, VIn>>) throws -> Void

    @usableFromInline let downstream: Downstream<KOut, VOut>
    /// The work for a record passed by value (the entry is ``InputNode/entry``).
    let processByValue: @Sendable (StatelessNode, Record<KIn, VIn>) throws -> Void

    /// A node doing `work`, made by ``work(_:)``.
    init(name: String, context: NodeContext, work: NodeWork<StatelessNode, KIn, VIn>) throws {
        downstream = try Downstream(context.children, parent: name)
        processByValue = work.process
        super.init(name: name, task: context.task, entry: work.entry)
    }

    /// A node whose work is `body`, with no ``InputNode/entry``: for operators made in Rill's generic
    /// code (table operators, merges, branches), where a call through an entry would have to copy
    /// the record.
    convenience init(name: String, context: NodeContext, body: @escaping Body) throws {
        try self.init(name: name, context: context, work: NodeWork(entry: nil, process: body))
    }

    /// `body` as this node's work. Inlined into an `@inlinable` DSL operator, it is specialized in
    /// the user's module, together with `body`.
    @inlinable
    static func work(_ body: @escaping PointerBody) -> NodeWork<StatelessNode, KIn, VIn> {
        NodeWork(
            entry: { node, record in
                try body(unsafeDowncast(node, to: StatelessNode.self), record.assumingMemoryBound(to: Record<KIn, VIn>.self))
            },
            process: { node, record in try withUnsafePointer(to: record) { try body(node, $0) } })
    }

    override func process(_ record: Record<KIn, VIn>) throws {
        try processByValue(self, record)
    }
}

/// `split()`: each record goes to the first branch whose predicate holds, else to the default branch if any.
final class BranchNode<K, V>: InputNode<K, V> {
    /// Each branch's child with its predicate, in order; a `nil` predicate is the default branch.
    private let routes: [(child: InputNode<K, V>, predicate: (@Sendable (K, V) throws -> Bool)?)]

    init(name: String, context: NodeContext, branches: [(child: String, predicate: (@Sendable (K, V) throws -> Bool)?)]) throws {
        let downstream = try Downstream<K, V>(context.children, parent: name)
        routes = try branches.map { branch in
            guard let child = downstream.children.first(where: { $0.name == branch.child }) else {
                throw TopologyError("branch '\(branch.child)' of '\(name)' is missing")
            }
            return (child, branch.predicate)
        }
        super.init(name: name, task: context.task)
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
