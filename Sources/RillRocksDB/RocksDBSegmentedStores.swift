import Rill

extension Stores {
    /// A window byte store in RocksDB: one database per time segment under the task's state
    /// directory, so that expired windows go with their whole segment.
    public static func persistentWindowStore(
        _ name: String, retentionPeriod: Int64, windowSize: Int64, retainDuplicates: Bool = false,
        environment: RocksDBEnvironment = .shared
    ) throws -> any WindowBytesStoreSupplier {
        try validateWindowStore(name, retentionPeriod: retentionPeriod, windowSize: windowSize)
        return RocksDBSegmentedSupplier(
            name: name, retentionPeriod: retentionPeriod, windowSize: windowSize, retainDuplicates: retainDuplicates,
            environment: environment)
    }

    /// A session byte store in RocksDB, segmented by session end.
    public static func persistentSessionStore(
        _ name: String, retentionPeriod: Int64, environment: RocksDBEnvironment = .shared
    ) throws -> any SessionBytesStoreSupplier {
        guard retentionPeriod >= 0 else {
            throw StateStoreError(store: name, message: "retention period must not be negative (got \(retentionPeriod) ms)")
        }
        return RocksDBSegmentedSupplier(
            name: name, retentionPeriod: retentionPeriod, windowSize: 0, retainDuplicates: false, environment: environment)
    }
}

struct RocksDBSegmentedSupplier: WindowBytesStoreSupplier, SessionBytesStoreSupplier {
    let name: String
    let retentionPeriod: Int64
    let windowSize: Int64
    let retainDuplicates: Bool
    let environment: RocksDBEnvironment
    var persistent: Bool { true }
    /// As Kafka Streams: half the retention, at least a minute.
    var segmentInterval: Int64 { max(retentionPeriod / 2, 60_000) }

    func openSegments(directory: String) throws -> any SegmentSpace {
        try RocksDBSegmentSpace(store: name, directory: directory, environment: environment)
    }
}

extension PersistentStoreFactory {
    /// RocksDB stores in the shared environment: what both runtimes give DSL stores.
    public static let rocksDB = PersistentStoreFactory(
        keyValueStore: { Stores.persistentKeyValueStore($0) },
        segments: { name, directory in try RocksDBSegmentSpace(store: name, directory: directory, environment: .shared) })
}
