import CRocksDB
import Synchronization

/// Changes the RocksDB options of one store, given its name and its `rocksdb_options_t *` (call
/// `rocksdb_options_set_…` from `CRocksDB` on it), as Kafka Streams' `RocksDBConfigSetter`.
///
/// ```swift
/// let environment = RocksDBEnvironment(blockCacheBytes: 64 << 20, writeBufferBytes: 4 << 20) { store, options in
///     if store.hasPrefix("audit") { rocksdb_options_set_compression(options, Int32(rocksdb_zstd_compression)) }
/// }
/// ```
public typealias RocksDBConfigSetter = @Sendable (_ storeName: String, _ options: OpaquePointer) -> Void

/// What all RocksDB stores of a process share: one LRU block cache, so memory does not grow with
/// the number of stores, plus the per-store memtable settings.
public final class RocksDBEnvironment: @unchecked Sendable {
    /// Block cache capacity shared by every store of the process.
    public let blockCacheBytes: Int
    /// Memtable size of each store (RocksDB `write_buffer_size`); at most two per store.
    public let writeBufferBytes: Int
    let cache: OpaquePointer
    /// Adjusts each store's options after the defaults are set (Kafka Streams' `RocksDBConfigSetter`).
    public let configSetter: RocksDBConfigSetter?

    /// The environment stores use unless given another: a 192 MiB block cache and 16 MiB memtables
    /// (two at most per store).
    public static let shared = RocksDBEnvironment(blockCacheBytes: 192 << 20, writeBufferBytes: 16 << 20)

    public init(blockCacheBytes: Int, writeBufferBytes: Int, configSetter: RocksDBConfigSetter? = nil) {
        self.blockCacheBytes = blockCacheBytes
        self.writeBufferBytes = writeBufferBytes
        self.configSetter = configSetter
        cache = rocksdb_cache_create_lru(blockCacheBytes)
    }

    /// Options for the store (or segment) `storeName`: created if missing, the shared cache,
    /// bounded memtables, then whatever the config setter changes.
    func makeOptions(storeName: String) -> OpaquePointer {
        // RocksDB allocates with `new`, which aborts rather than returning NULL.
        guard let options = rocksdb_options_create() else { preconditionFailure("rocksdb_options_create returned NULL") }
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_set_write_buffer_size(options, writeBufferBytes)
        rocksdb_options_set_max_write_buffer_number(options, 2)
        rocksdb_options_set_compression(options, Int32(rocksdb_lz4_compression))
        let table = rocksdb_block_based_options_create()
        rocksdb_block_based_options_set_block_cache(table, cache)
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(table, 1)
        rocksdb_options_set_block_based_table_factory(options, table)
        rocksdb_block_based_options_destroy(table)
        configSetter?(storeName, options)
        return options
    }

    deinit { rocksdb_cache_destroy(cache) }
}
