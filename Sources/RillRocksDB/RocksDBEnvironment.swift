import CRocksDB
import CRocksDBMemory
import Synchronization

/// Changes the RocksDB options of one store, given its name and its `rocksdb_options_t *` (call
/// `rocksdb_options_set_…` from `CRocksDB` on it), as Kafka Streams' `RocksDBConfigSetter`.
///
/// ```swift
/// let environment = RocksDBEnvironment(totalMemoryBytes: 128 << 20) { store, options in
///     if store.hasPrefix("audit") { rocksdb_options_set_compression(options, Int32(rocksdb_zstd_compression)) }
/// }
/// ```
public typealias RocksDBConfigSetter = @Sendable (_ storeName: String, _ options: OpaquePointer) -> Void

/// What all RocksDB stores of a process share, so that memory is bounded by one figure and does
/// not grow with the number of stores or keys: one LRU cache of `totalMemoryBytes` holding both
/// the data blocks read and, through RocksDB's write-buffer manager, every store's memtables
/// (at most `memtableBytes` together; when they reach it, RocksDB flushes the largest).
public final class RocksDBEnvironment: @unchecked Sendable {
    /// The memory all stores of the process share: block cache and memtables together.
    public let totalMemoryBytes: Int
    /// The share of ``totalMemoryBytes`` that memtables (unflushed writes) may take.
    public let memtableBytes: Int
    /// The largest memtable of one store (RocksDB `write_buffer_size`).
    public let writeBufferBytes: Int
    let cache: OpaquePointer
    private let writeBufferManager: OpaquePointer
    /// Adjusts each store's options after the defaults are set (Kafka Streams' `RocksDBConfigSetter`).
    public let configSetter: RocksDBConfigSetter?

    /// The environment stores use unless given another: 256 MiB in all, a quarter of it for memtables.
    public static let shared = RocksDBEnvironment()

    public init(
        totalMemoryBytes: Int = 256 << 20, memtableBytes: Int? = nil, writeBufferBytes: Int = 16 << 20,
        configSetter: RocksDBConfigSetter? = nil
    ) {
        self.totalMemoryBytes = totalMemoryBytes
        self.memtableBytes = memtableBytes ?? totalMemoryBytes / 4
        self.writeBufferBytes = min(writeBufferBytes, max(self.memtableBytes / 2, 1 << 20))
        self.configSetter = configSetter
        cache = rocksdb_cache_create_lru(totalMemoryBytes)!
        writeBufferManager = rill_write_buffer_manager_create(self.memtableBytes, cache)!
    }

    /// Bytes the memtables of every store use now.
    public var memtableUsage: Int { Int(rill_write_buffer_manager_memory_usage(writeBufferManager)) }

    /// Options for the store (or segment) `storeName`: created if missing, the shared cache,
    /// bounded memtables, then whatever the config setter changes.
    func makeOptions(storeName: String) -> OpaquePointer {
        // RocksDB allocates with `new`, which aborts rather than returning NULL.
        guard let options = rocksdb_options_create() else { preconditionFailure("rocksdb_options_create returned NULL") }
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_set_write_buffer_size(options, writeBufferBytes)
        rocksdb_options_set_max_write_buffer_number(options, 2)
        rill_options_set_write_buffer_manager(options, writeBufferManager)
        rocksdb_options_set_compression(options, Int32(rocksdb_lz4_compression))
        let table = rocksdb_block_based_options_create()
        rocksdb_block_based_options_set_block_cache(table, cache)
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(table, 1)
        // A Bloom filter per table file (10 bits per key), as Kafka Streams sets: most reads of an
        // aggregation miss (a new key or window), and the filter answers them without a data block.
        rocksdb_block_based_options_set_filter_policy(table, rocksdb_filterpolicy_create_bloom_full(10))
        rocksdb_options_set_block_based_table_factory(options, table)
        rocksdb_block_based_options_destroy(table)
        configSetter?(storeName, options)
        return options
    }

    deinit {
        rill_write_buffer_manager_destroy(writeBufferManager)
        rocksdb_cache_destroy(cache)
    }
}
