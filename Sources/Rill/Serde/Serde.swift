/// Turns values of `T` into bytes and back, as Kafka's `Serde`.
///
/// `nil` bytes are Kafka's null. The built-in serdes for non-optional types
/// reject null; use ``optional`` for keys or values that may be null.
///
/// ```swift
/// let calls = builder.stream("calls", Consumed(.string, .json(Call.self)))
/// ```
public struct Serde<T>: Sendable {
    public let serialize: @Sendable (T) throws -> [UInt8]?
    public let deserialize: @Sendable ([UInt8]?) throws -> T

    public init(
        serialize: @escaping @Sendable (T) throws -> [UInt8]?,
        deserialize: @escaping @Sendable ([UInt8]?) throws -> T
    ) {
        self.serialize = serialize
        self.deserialize = deserialize
    }

    /// A serde for non-null data, from functions on bytes.
    @inlinable
    public static func nonNull(
        _ typeName: String,
        serialize: @escaping @Sendable (T) throws -> [UInt8],
        deserialize: @escaping @Sendable ([UInt8]) throws -> T
    ) -> Serde<T> {
        Serde(
            serialize: { try serialize($0) },
            deserialize: { bytes in
                guard let bytes else { throw SerdeError.nullData(typeName) }
                return try deserialize(bytes)
            })
    }

    /// This serde, with Kafka's null mapped to `nil` both ways.
    @inlinable
    public var optional: Serde<T?> {
        let inner = self
        return Serde<T?>(
            serialize: { value in try value.flatMap { try inner.serialize($0) } },
            deserialize: { bytes in try bytes.map { try inner.deserialize($0) } })
    }

    /// A serde for another type, by mapping this one's values.
    public func map<U>(
        _ forward: @escaping @Sendable (T) throws -> U, _ backward: @escaping @Sendable (U) throws -> T
    ) -> Serde<U> {
        let inner = self
        return Serde<U>(
            serialize: { try inner.serialize(backward($0)) },
            deserialize: { try forward(inner.deserialize($0)) })
    }
}

/// Why a serde could not turn bytes into a value or a value into bytes.
public enum SerdeError: Error, CustomStringConvertible, Sendable {
    /// Null data for a serde of a non-optional type.
    case nullData(String)
    /// Bytes of the wrong size for a fixed-size type.
    case wrongSize(type: String, expected: Int, actual: Int)
    /// Bytes that don't decode to the type.
    case invalid(type: String, reason: String)

    public var description: String {
        switch self {
        case .nullData(let type):
            return "null data for non-optional \(type) (use the serde's .optional for nullable data)"
        case .wrongSize(let type, let expected, let actual):
            return "\(type) needs \(expected) bytes, got \(actual)"
        case .invalid(let type, let reason):
            return "invalid \(type): \(reason)"
        }
    }
}
