/// The record cache of one stream thread (`statestore.cache.max.bytes`, 10 MiB by default, split
/// between threads), shared by the caching stores of the thread's tasks.
///
/// A caching store keeps the latest value of each key it is written, and writes it through (to
/// the store, its changelog and, for DSL tables, downstream) only when the entry is evicted or the
/// task commits: updates of a key between commits collapse into one.
package final class RecordCache {
    package let maxBytes: Int
    @exclusivity(unchecked) package private(set) var sizeBytes = 0

    package init(maxBytes: Int) { self.maxBytes = maxBytes }

    func resize(by delta: Int) { sizeBytes += delta }

    /// Evicts from `store` (the one just written) until the cache fits.
    func evictIfFull(from store: CachingBytesStore) throws {
        while sizeBytes > maxBytes, try store.evictEldest() {}
    }
}

/// What a caching store calls when it writes an entry through: the key, the new value (`nil` =
/// deleted), the value the store held before, and the timestamp of the record that wrote it.
@usableFromInline
typealias CacheFlushListener = (_ key: [UInt8], _ newValue: [UInt8]?, _ oldValue: [UInt8]?, _ timestamp: Int64) throws -> Void
