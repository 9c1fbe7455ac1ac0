import Foundation

extension Serde where T == [UInt8] {
    /// Raw bytes, unchanged.
    public static var bytes: Serde<[UInt8]> {
        .nonNull("bytes", serialize: { $0 }, deserialize: { $0 })
    }
}

extension Serde where T == String {
    /// UTF-8 text, as Kafka's `StringSerde`.
    public static var string: Serde<String> {
        .nonNull(
            "String",
            serialize: { Array($0.utf8) },
            deserialize: { bytes in
                // ASCII (most keys) needs no validation; `String(validating:)` is generic and looks
                // up type metadata on every call.
                if isASCII(bytes) { return String(decoding: bytes, as: UTF8.self) }
                guard let string = String(validating: bytes, as: UTF8.self) else {
                    throw SerdeError.invalid(type: "String", reason: "not valid UTF-8")
                }
                return string
            })
    }
}

private func isASCII(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBufferPointer { buffer in
        var high: UInt8 = 0
        for byte in buffer { high |= byte }
        return high < 0x80
    }
}

extension Serde where T == Int32 {
    /// 4 bytes big-endian, as Kafka's `IntegerSerde`.
    public static var int32: Serde<Int32> {
        .nonNull("Int32", serialize: { bigEndianBytes($0) }, deserialize: { try fromBigEndian($0, "Int32") })
    }
}

extension Serde where T == Int64 {
    /// 8 bytes big-endian, as Kafka's `LongSerde`.
    public static var int64: Serde<Int64> {
        .nonNull("Int64", serialize: { bigEndianBytes($0) }, deserialize: { try fromBigEndian($0, "Int64") })
    }
}

extension Serde where T == Double {
    /// IEEE 754 bits, 8 bytes big-endian, as Kafka's `DoubleSerde`.
    public static var double: Serde<Double> {
        .nonNull(
            "Double",
            serialize: { bigEndianBytes($0.bitPattern) },
            deserialize: { Double(bitPattern: try fromBigEndian($0, "Double")) })
    }
}

extension Serde where T == UUID {
    /// The UUID's text form in UTF-8, as Kafka's `UUIDSerde`.
    public static var uuid: Serde<UUID> {
        .nonNull(
            "UUID",
            serialize: { Array($0.uuidString.lowercased().utf8) },
            deserialize: { bytes in
                guard let text = String(validating: bytes, as: UTF8.self), let uuid = UUID(uuidString: text) else {
                    throw SerdeError.invalid(type: "UUID", reason: "not a UUID string")
                }
                return uuid
            })
    }
}

extension Serde where T: Codable & SendableMetatype {
    /// JSON (UTF-8) for any `Codable` type, through Foundation's coders.
    public static func json(_ type: T.Type = T.self) -> Serde<T> {
        let typeName = String(describing: T.self)
        return .nonNull(
            typeName,
            serialize: { value in Array(try JSONEncoder().encode(value)) },
            deserialize: { bytes in
                do {
                    return try JSONDecoder().decode(T.self, from: Data(bytes))
                } catch let error as DecodingError {
                    throw SerdeError.invalid(type: typeName, reason: describe(error))
                }
            })
    }
}

private func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return path.isEmpty ? "" : " at '\(path)'"
    }
    switch error {
    case .dataCorrupted(let context):
        return "malformed JSON\(path(context)): \(context.debugDescription)"
    case .keyNotFound(let key, let context):
        return "missing field '\(key.stringValue)'\(path(context))"
    case .typeMismatch(let type, let context):
        return "expected \(type)\(path(context))"
    case .valueNotFound(let type, let context):
        return "expected \(type)\(path(context)), found null"
    @unknown default:
        return "\(error)"
    }
}

@inlinable
func bigEndianBytes<I: FixedWidthInteger>(_ value: I) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}

@inlinable
func fromBigEndian<I: FixedWidthInteger>(_ bytes: [UInt8], _ type: String) throws -> I {
    let size = MemoryLayout<I>.size
    guard bytes.count == size else { throw SerdeError.wrongSize(type: type, expected: size, actual: bytes.count) }
    var value: I = 0
    for byte in bytes { value = (value << 8) | I(truncatingIfNeeded: byte) }
    return value
}

/// A serde whose type is known only at run time: how configuration carries default serdes.
public struct AnySerde: Sendable {
    let base: any Sendable
    /// The name of the serde's type, for error messages.
    public let typeName: String

    public init<T>(_ serde: Serde<T>) {
        base = serde
        typeName = String(describing: T.self)
    }

    /// The serde, if it is one for `T`.
    package func typed<T>(_: T.Type = T.self) -> Serde<T>? { base as? Serde<T> }
}
