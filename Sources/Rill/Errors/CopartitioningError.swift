/// A join whose input topics have different partition counts, found when the topology meets its
/// topics (at start, or in the test driver). The message names the join and each topic's count.
public struct CopartitioningError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The join's processor.
    public let join: String
    /// Each input topic (as named on the brokers) with its partition count.
    public let partitions: [String: Int32]

    public init(join: String, partitions: [String: Int32]) {
        self.join = join
        self.partitions = partitions
    }

    public var description: String {
        let listed = partitions.sorted { $0.key < $1.key }.map { "'\($0.key)' (\($0.value))" }.joined(separator: ", ")
        return "Join '\(join)' needs co-partitioned inputs, but the topics have different partition counts: \(listed). "
            + "Give them the same number of partitions, or repartition one side."
    }
}
