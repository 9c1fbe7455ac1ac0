/// One Kafka record header: a key and optional bytes.
public struct Header: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    /// A header whose value is the UTF-8 bytes of `string`.
    public init(key: String, string: String) {
        self.init(key: key, value: Array(string.utf8))
    }

    /// The value decoded as UTF-8, or `nil` when absent or not UTF-8.
    public var stringValue: String? {
        value.flatMap { String(validating: $0, as: UTF8.self) }
    }
}

/// The ordered headers of a record. Keys may repeat, as in Kafka.
public struct Headers: Sendable, Hashable, RandomAccessCollection, ExpressibleByArrayLiteral {
    @usableFromInline var storage: [Header]

    @inlinable public init() { storage = [] }
    public init(_ headers: [Header]) { storage = headers }
    public init(arrayLiteral elements: Header...) { storage = elements }

    @inlinable public var startIndex: Int { storage.startIndex }
    @inlinable public var endIndex: Int { storage.endIndex }
    @inlinable public subscript(position: Int) -> Header { storage[position] }

    /// Appends a header (an existing header with the same key stays).
    public mutating func add(_ key: String, _ value: [UInt8]?) {
        storage.append(Header(key: key, value: value))
    }

    /// Appends a header whose value is the UTF-8 bytes of `value`.
    public mutating func add(_ key: String, string value: String) {
        storage.append(Header(key: key, string: value))
    }

    /// Removes every header with this key.
    public mutating func remove(_ key: String) {
        storage.removeAll { $0.key == key }
    }

    /// The last header with this key, as Kafka's `Headers.lastHeader`.
    public func lastHeader(_ key: String) -> Header? {
        storage.last { $0.key == key }
    }

    /// All headers with this key, in order.
    public func headers(_ key: String) -> [Header] {
        storage.filter { $0.key == key }
    }
}
