/// A value with the timestamp of the record that last changed it: what DSL tables store.
public struct ValueAndTimestamp<V> {
    public var value: V
    public var timestamp: Int64

    @inlinable
    public init(_ value: V, timestamp: Int64) {
        self.value = value
        self.timestamp = timestamp
    }
}

extension ValueAndTimestamp: Equatable where V: Equatable {}
extension ValueAndTimestamp: Sendable where V: Sendable {}

extension Serde {
    /// A value with its timestamp, laid out as Kafka Streams' timestamped stores: 8 bytes of
    /// big-endian timestamp, then the value's bytes.
    @inlinable
    public static func timestamped<Inner>(_ inner: Serde<Inner>) -> Serde<ValueAndTimestamp<Inner>>
    where T == ValueAndTimestamp<Inner> {
        .nonNull(
            "ValueAndTimestamp<\(Inner.self)>",
            serialize: { pair in
                // One allocation for the result: the timestamp, then the value's bytes.
                let value = try inner.serialize(pair.value) ?? []
                return makeBytes(count: 8 + value.count) { raw in
                    raw.storeBytes(of: pair.timestamp.bigEndian, as: Int64.self)
                    UnsafeMutableRawBufferPointer(rebasing: raw[8...]).copyBytes(from: value)
                }
            },
            deserialize: { bytes in
                guard bytes.count >= 8 else {
                    throw SerdeError.wrongSize(type: "ValueAndTimestamp", expected: 8, actual: bytes.count)
                }
                var timestamp: Int64 = 0
                for index in 0..<8 { timestamp = timestamp << 8 | Int64(bytes[index]) }
                return ValueAndTimestamp(try inner.deserialize(Array(bytes[8...])), timestamp: timestamp)
            })
    }
}

/// An update of a table row: the new value and, where known, the old one (`nil` = absent/deleted).
@usableFromInline
struct Change<V> {
    @usableFromInline var newValue: V?
    @usableFromInline var oldValue: V?

    @inlinable
    init(newValue: V?, oldValue: V?) {
        self.newValue = newValue
        self.oldValue = oldValue
    }
}

/// Lets generic code see whether a value of an optional type is `nil` (Kafka's null).
protocol OptionalValue {
    var isNone: Bool { get }
}

extension Optional: OptionalValue {
    var isNone: Bool { self == nil }
}

/// Whether `value` is Kafka's null: `nil` of an optional type.
@inline(__always)
func isNull<T>(_ value: T) -> Bool {
    (value as? any OptionalValue)?.isNone == true
}
