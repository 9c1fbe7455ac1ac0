/// A node of an instantiated processor graph (one per task). Subclasses know their record types.
///
/// A task makes its nodes children first, so each node gets its children when it is made and
/// the graph never changes afterwards.
@usableFromInline
package class AnyNode {
    @usableFromInline package let name: String
    /// The task this node instance belongs to (the task owns its nodes).
    @usableFromInline unowned(unsafe) let task: TaskState

    /// The task again, for the per-record path: ``withTask(_:)`` lends it without the retain and
    /// release that loading an `unowned(unsafe)` reference costs.
    @usableFromInline let taskReference: Unmanaged<TaskState>

    init(name: String, task: TaskState) {
        self.name = name
        self.task = task
        taskReference = Unmanaged.passUnretained(task)
    }

    /// Calls `body` with the task, borrowed: no reference counting.
    @inlinable @inline(__always)
    final func withTask<R>(_ body: (TaskState) throws -> R) rethrows -> R {
        try taskReference._withUnsafeGuaranteedRef(body)
    }

    /// Called once per task before the first record.
    func initialize() throws {}
    /// Called once when the task closes.
    func close() {}
}

/// What a node factory gets: the task, and the node's children, already made.
@usableFromInline
package struct NodeContext {
    let task: TaskState
    let children: [AnyNode]
}

/// A node's work on one record, which it gets by address: `(the node, an UnsafePointer<Record<K, V>>)`.
///
/// The node's own type and its record's are cast back inside, where they are known. The type names
/// no type parameter, so it is passed and called the same way by generic code and by code specialized
/// in the user's module: a call needs no reabstraction thunk, and the record is not copied for it.
@usableFromInline
package typealias NodeEntry = @Sendable (AnyNode, UnsafeRawPointer) throws -> Void

/// The work of a node of type `Node` that takes `Record<K, V>`, as `Node`'s own factory makes it (a
/// node takes only work made for its type, so the casts inside its entry hold): its ``NodeEntry``,
/// when it has one, and the same work for a record passed by value, for callers that have no address
/// (``InputNode/process(_:)``).
@usableFromInline
package struct NodeWork<Node: AnyNode, K, V>: Sendable {
    @usableFromInline let entry: NodeEntry?
    @usableFromInline let process: @Sendable (Node, Record<K, V>) throws -> Void

    @inlinable
    init(entry: NodeEntry?, process: @escaping @Sendable (Node, Record<K, V>) throws -> Void) {
        self.entry = entry
        self.process = process
    }
}

/// A node that receives `Record<K, V>`.
@usableFromInline
package class InputNode<K, V>: AnyNode {
    /// Whether keys or values can be null at all (their types are optional): checked once, not per record.
    @usableFromInline final let inputMayBeNull = K.self is any OptionalValue.Type || V.self is any OptionalValue.Type

    /// All of this node's work on a record, when it is one function made in the user's
    /// specialization by an `@inlinable` DSL operator (stateless operators, sinks). A parent with
    /// this node as its only child calls it directly (``Downstream/forward(at:)``), with the record
    /// where it lies: no virtual call into generic code, no reabstraction thunk, no copy of the
    /// record, and a call site per parent rather than the one indirect call in ``process(_:)`` that
    /// every such node would share. Nodes made in Rill's generic code have none: to call an entry,
    /// generic code would have to copy the record.
    @usableFromInline final let entry: NodeEntry?

    init(name: String, task: TaskState, entry: NodeEntry? = nil) {
        self.entry = entry
        super.init(name: name, task: task)
    }

    /// Processes one record; subclasses override.
    @usableFromInline func process(_ record: Record<K, V>) throws {}

    /// Whether the record has a null key or value, which stateful operators skip and count, as
    /// Kafka Streams does.
    @inlinable @inline(__always)
    final func skipsNull(_ record: Record<K, V>) -> Bool {
        guard inputMayBeNull else { return false }
        return skipsNullSlow(record)
    }

    @usableFromInline
    final func skipsNullSlow(_ record: Record<K, V>) -> Bool {
        guard isNull(record.key) || isNull(record.value) else { return false }
        task.metrics.droppedRecords += 1
        task.logger.debug("Skipping record with a null key or value in \(name)")
        return true
    }
}

/// The children of a node that forwards `Record<K, V>`, fixed when the node is made.
@usableFromInline
package final class Downstream<K, V> {
    @usableFromInline let children: [InputNode<K, V>]
    /// The only child, when there is exactly one (the common case, forwarded to without a loop).
    /// Unmanaged, so that a call needs no retain and release around it: `children` keeps it alive
    /// for as long as this object, whose method makes the call.
    @usableFromInline let single: Unmanaged<InputNode<K, V>>?
    /// The only child's ``InputNode/entry``, when it has one (``hasSingleEntry``); else a stand-in.
    /// Not optional: unwrapping an optional closure copied it, retaining its context for every call.
    @usableFromInline let singleEntry: NodeEntry
    @usableFromInline let hasSingleEntry: Bool

    init(_ children: [AnyNode], parent: String) throws {
        self.children = try children.map { child in
            guard let typed = child as? InputNode<K, V> else {
                throw TopologyError(
                    "'\(child.name)' can't be a child of '\(parent)': '\(parent)' forwards Record<\(K.self), \(V.self)>")
            }
            return typed
        }
        single = self.children.count == 1 ? Unmanaged.passUnretained(self.children[0]) : nil
        let entry = self.children.count == 1 ? self.children[0].entry : nil
        singleEntry = entry ?? { _, _ in }
        hasSingleEntry = entry != nil
    }

    @inlinable @inline(__always)
    func forward(_ record: Record<K, V>) throws {
        if hasSingleEntry {
            try withUnsafePointer(to: record) { try forward(at: $0) }
        } else if let single {
            try single._withUnsafeGuaranteedRef { try $0.process(record) }
        } else {
            try forwardToEach(record)
        }
    }

    /// Forwards the record at `record`: the only child, when it has an ``InputNode/entry``, reads
    /// it there, without a copy.
    @inlinable @inline(__always)
    func forward(at record: UnsafePointer<Record<K, V>>) throws {
        if hasSingleEntry, let single {
            try single._withUnsafeGuaranteedRef { try singleEntry($0, UnsafeRawPointer(record)) }
        } else if let single {
            try single._withUnsafeGuaranteedRef { try $0.process(record.pointee) }
        } else {
            try forwardToEach(record.pointee)
        }
    }

    /// Kept out of ``forward(_:)`` and ``forward(at:)`` so the single-child path touches no array (nor
    /// its type metadata).
    @usableFromInline @inline(never)
    func forwardToEach(_ record: Record<K, V>) throws {
        for child in children { try child.process(record) }
    }

    func forward(_ record: Record<K, V>, to childName: String, from node: String) throws {
        guard let child = children.first(where: { $0.name == childName }) else {
            throw StreamsError.processing(
                node: node, source: nil, reason: "'\(childName)' is not a child of '\(node)'")
        }
        try child.process(record)
    }
}

/// Runs user code of `node`, turning what it throws into a ``StreamsError/processing`` naming the node.
@inlinable @inline(__always)
func userCode<T>(_ node: AnyNode, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as StreamsError {
        throw error
    } catch {
        throw StreamsError.processing(node: node.name, source: node.task.recordMetadata, reason: "\(error)")
    }
}
