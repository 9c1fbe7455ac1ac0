/// Told how restoring stores from their changelogs goes, as Kafka Streams' `StateRestoreListener`.
/// Called on the stream thread doing the restore.
public protocol StateRestoreListener: Sendable {
    /// A store's changelog partition is about to be restored from `startOffset` to `endOffset` (exclusive).
    func onRestoreStart(_ partition: TopicPartition, store: String, startOffset: Int64, endOffset: Int64)
    /// A batch was applied; the store is restored up to `batchEndOffset` (exclusive).
    func onBatchRestored(_ partition: TopicPartition, store: String, batchEndOffset: Int64, restored: Int64)
    /// The partition is restored.
    func onRestoreEnd(_ partition: TopicPartition, store: String, restored: Int64)
}

extension StateRestoreListener {
    public func onRestoreStart(_ partition: TopicPartition, store: String, startOffset: Int64, endOffset: Int64) {}
    public func onBatchRestored(_ partition: TopicPartition, store: String, batchEndOffset: Int64, restored: Int64) {}
    public func onRestoreEnd(_ partition: TopicPartition, store: String, restored: Int64) {}
}
