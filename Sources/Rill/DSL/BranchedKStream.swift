/// The result of ``KStream/split(named:)``: add branches with predicates, then finish with
/// ``defaultBranch(_:)`` or ``noDefaultBranch()``. A record goes to the first branch whose
/// predicate holds; with no match it goes to the default branch, or is dropped without one.
public final class BranchedKStream<K, V> {
    private let source: KStream<K, V>
    private let splitterName: String
    private let branches = BranchList<K, V>()
    private var outputs: [String: KStream<K, V>] = [:]

    init(source: KStream<K, V>, splitterName: String) {
        self.source = source
        self.splitterName = splitterName
        let branches = self.branches
        source.add(splitterName, output: Record<K, V>.self) { context in
            try BranchNode<K, V>(name: splitterName, context: context, branches: branches.items)
        }
    }

    /// Adds a branch for the records `predicate` accepts (and no earlier branch took).
    @discardableResult
    public func branch(_ predicate: @escaping @Sendable (K, V) throws -> Bool, _ branched: Branched<K, V>? = nil)
        -> BranchedKStream<K, V>
    {
        addBranch(predicate, branched, index: branches.items.count + 1)
        return self
    }

    /// Adds the branch for records no predicate took; returns the branches by name.
    public func defaultBranch(_ branched: Branched<K, V>? = nil) -> [String: KStream<K, V>] {
        addBranch(nil, branched, index: 0)
        return outputs
    }

    /// Drops records no predicate took; returns the branches by name.
    public func noDefaultBranch() -> [String: KStream<K, V>] { outputs }

    private func addBranch(_ predicate: (@Sendable (K, V) throws -> Bool)?, _ branched: Branched<K, V>?, index: Int) {
        let childName = splitterName + (branched?.name ?? String(index))
        _ = source.builder.newName(childName)  // Kafka Streams burns an index per branch
        branches.items.append((childName, predicate))
        let branch = KStream<K, V>(
            builder: source.builder, name: splitterName, keySerde: source.keySerde, valueSerde: source.valueSerde,
            repartitionRequired: source.repartitionRequired)
        branch.add(childName, output: Record<K, V>.self) { context in
            try StatelessNode<K, V, K, V>(name: childName, context: context) { node, record in
                try node.downstream.forward(record)
            }
        }
        let stream = KStream<K, V>(
            builder: source.builder, name: childName, keySerde: source.keySerde, valueSerde: source.valueSerde,
            repartitionRequired: source.repartitionRequired)
        if let chain = branched?.chain {
            if let result = chain(stream) { outputs[childName] = result }
        } else {
            outputs[childName] = stream
        }
    }
}

/// The branches of a split, filled in while building and read when tasks are made.
final class BranchList<K, V>: @unchecked Sendable {
    var items: [(child: String, predicate: (@Sendable (K, V) throws -> Bool)?)] = []
}
