/// A node of an instantiated processor graph (one per task). Subclasses know their record types.
package class AnyNode {
    package let name: String
    /// The task this node instance belongs to (the task owns its nodes).
    unowned(unsafe) let task: TaskState
    /// Where this node forwards to; `nil` for sinks.
    package var outputs: AnyDownstream? { nil }

    init(name: String, task: TaskState) {
        self.name = name
        self.task = task
    }

    /// Called once per task before the first record.
    func initialize() throws {}
    /// Called once when the task closes.
    func close() {}

    /// Connects `child` below this node; fails when the child takes other record types.
    func addChild(_ child: AnyNode) throws {
        guard let outputs else { throw TopologyError("'\(name)' is a sink and can't have children ('\(child.name)')") }
        try outputs.add(child, parent: name)
    }
}

/// A node that receives `Record<K, V>`.
package class InputNode<K, V>: AnyNode {
    /// Processes one record; subclasses override.
    func process(_ record: Record<K, V>) throws {}
}

/// The children of a node, typed by what the node forwards.
package class AnyDownstream {
    func add(_ child: AnyNode, parent: String) throws {}
}

/// The children of a node that forwards `Record<K, V>`.
package final class Downstream<K, V>: AnyDownstream {
    var children: [InputNode<K, V>] = []

    override func add(_ child: AnyNode, parent: String) throws {
        guard let typed = child as? InputNode<K, V> else {
            throw TopologyError(
                "'\(child.name)' can't be a child of '\(parent)': '\(parent)' forwards Record<\(K.self), \(V.self)>")
        }
        children.append(typed)
    }


    func forward(_ record: Record<K, V>) throws {
        // Most nodes have one child: skip the loop's iterator then.
        if children.count == 1 {
            try children[0].process(record)
        } else {
            for child in children { try child.process(record) }
        }
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
@inline(__always)
func userCode<T>(_ node: AnyNode, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as StreamsError {
        throw error
    } catch {
        throw StreamsError.processing(node: node.name, source: node.task.recordMetadata, reason: "\(error)")
    }
}
