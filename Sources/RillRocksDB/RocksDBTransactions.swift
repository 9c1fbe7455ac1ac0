import CRocksDB
import Synchronization

/// Keeps the writes of a task's RocksDB stores out of the databases until the task's transaction
/// commits (exactly-once): stores opened under a directory given to ``enable(under:)`` put their
/// writes in a RocksDB write batch with index, which their reads see, and ``commit(under:)`` writes
/// the batches to the databases; ``discard(under:)`` drops them. The databases therefore hold
/// committed writes only, so a crash loses only the open transaction's work, and a checkpoint taken
/// after a commit stays valid: restoring replays the changelog from it.
public enum RocksDBTransactions {
    private struct Registry {
        var enabled: Set<String> = []
        var databases: [String: [WeakDatabase]] = [:]
    }
    private struct WeakDatabase: @unchecked Sendable {
        weak var database: RocksDBDatabase?
    }
    private static let registry = Mutex(Registry())

    /// Stores opened under `directory` from now on keep their writes apart until a commit.
    public static func enable(under directory: String) {
        _ = registry.withLock { $0.enabled.insert(normalized(directory)) }
    }

    /// Stops keeping writes apart for stores opened under `directory` from now on.
    public static func disable(under directory: String) {
        _ = registry.withLock { $0.enabled.remove(normalized(directory)) }
    }

    /// Writes what the stores under `directory` kept apart to their databases.
    public static func commit(under directory: String) throws {
        for database in databases(under: directory) { try database.commitPending() }
    }

    /// Drops what the stores under `directory` kept apart.
    public static func discard(under directory: String) {
        for database in databases(under: directory) { database.discardPending() }
    }

    /// Called by a database when it opens: whether it keeps its writes apart.
    static func register(_ database: RocksDBDatabase) -> Bool {
        registry.withLock { registry in
            guard let directory = registry.enabled.first(where: { database.path.hasPrefix($0) }) else { return false }
            var list = registry.databases[directory, default: []].filter { $0.database != nil }
            list.append(WeakDatabase(database: database))
            registry.databases[directory] = list
            return true
        }
    }

    private static func databases(under directory: String) -> [RocksDBDatabase] {
        let key = normalized(directory)
        return registry.withLock { $0.databases[key]?.compactMap(\.database) ?? [] }
    }

    private static func normalized(_ directory: String) -> String { directory.hasSuffix("/") ? directory : directory + "/" }
}
