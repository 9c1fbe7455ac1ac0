/// A key-value byte store in memory: a hash map for reads and writes, with the keys sorted
/// lazily for range scans.
public final class InMemoryKeyValueStore: BytesKeyValueStore {
    public let name: String
    public var persistent: Bool { false }
    private var entries: [[UInt8]: [UInt8]] = [:]
    /// The keys in order, rebuilt on the first scan after a key was added or removed.
    private var sortedKeys: [[UInt8]]?

    public init(name: String) { self.name = name }

    public func get(_ key: [UInt8]) throws -> [UInt8]? { entries[key] }

    public func put(_ key: [UInt8], _ value: [UInt8]?) throws {
        if let value {
            if entries.updateValue(value, forKey: key) == nil { sortedKeys = nil }
        } else if entries.removeValue(forKey: key) != nil {
            sortedKeys = nil
        }
    }

    public func putAll(_ entries: [(key: [UInt8], value: [UInt8]?)]) throws {
        for entry in entries { try put(entry.key, entry.value) }
    }

    public func range(from: [UInt8]?, to: [UInt8]?) throws -> any BytesKeyValueIterator {
        let keys: [[UInt8]]
        if let sortedKeys {
            keys = sortedKeys
        } else {
            keys = entries.keys.sorted { $0.lexicographicallyPrecedes($1) }
            sortedKeys = keys
        }
        var start = keys.startIndex
        if let from { start = keys.partitioningIndex { !$0.lexicographicallyPrecedes(from) } }
        // A snapshot of the matching entries: writes during iteration don't disturb it.
        var snapshot: [(key: [UInt8], value: [UInt8])] = []
        for key in keys[start...] {
            if let to, to.lexicographicallyPrecedes(key) { break }
            if let value = entries[key] { snapshot.append((key, value)) }
        }
        return ArrayIterator(snapshot)
    }

    public func approximateNumEntries() throws -> Int64 { Int64(entries.count) }
    public func flush() throws {}
    public func close() {
        entries = [:]
        sortedKeys = nil
    }

    final class ArrayIterator: BytesKeyValueIterator {
        private var remaining: ArraySlice<(key: [UInt8], value: [UInt8])>
        init(_ entries: [(key: [UInt8], value: [UInt8])]) { remaining = entries[...] }
        func next() throws -> (key: [UInt8], value: [UInt8])? { remaining.popFirst() }
    }
}

extension RandomAccessCollection {
    /// The first index whose element satisfies `predicate`, for a collection partitioned by it.
    func partitioningIndex(where predicate: (Element) -> Bool) -> Index {
        var low = startIndex
        var count = self.count
        while count > 0 {
            let half = count / 2
            let middle = index(low, offsetBy: half)
            if predicate(self[middle]) {
                count = half
            } else {
                low = index(after: middle)
                count -= half + 1
            }
        }
        return low
    }
}
