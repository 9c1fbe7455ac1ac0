/// A time interval `[start, end)` in epoch milliseconds: a time window, or a session (whose end is
/// its last record's timestamp, inclusive, as in Kafka Streams).
public struct Window: Hashable, Sendable, CustomStringConvertible {
    public var start: Int64
    public var end: Int64

    @inlinable
    public init(start: Int64, end: Int64) {
        self.start = start
        self.end = end
    }

    public var description: String { "[\(start)@\(end)]" }
}

/// A key of a windowed table: the record key and its window.
public struct Windowed<K> {
    public var key: K
    public var window: Window

    @inlinable
    public init(_ key: K, _ window: Window) {
        self.key = key
        self.window = window
    }
}

extension Windowed: Equatable where K: Equatable {}
extension Windowed: Hashable where K: Hashable {}
extension Windowed: Sendable where K: Sendable {}
extension Windowed: CustomStringConvertible {
    public var description: String { "\(key)@\(window.start)/\(window.end)" }
}

extension Serde {
    /// Keys of time windows in Kafka Streams' layout: the key's bytes, then the window start
    /// (8 bytes, big-endian). The end is not stored: it is `start + windowSize`.
    ///
    /// ```swift
    /// counts.toStream().to("counts", Produced(.timeWindowed(.string, windowSize: 60_000), .int64))
    /// ```
    public static func timeWindowed<Inner>(_ inner: Serde<Inner>, windowSize: Int64) -> Serde<Windowed<Inner>>
    where T == Windowed<Inner> {
        .nonNull(
            "Windowed<\(Inner.self)>",
            serialize: { windowed in
                var bytes = try keyBytes(inner, windowed.key)
                appendBigEndian(windowed.window.start, to: &bytes)
                return bytes
            },
            deserialize: { bytes in
                guard bytes.count >= 8 else {
                    throw SerdeError.wrongSize(type: "Windowed<\(Inner.self)>", expected: 8, actual: bytes.count)
                }
                let start = readBigEndian(bytes, at: bytes.count - 8)
                let (end, overflow) = start.addingReportingOverflow(windowSize)
                return Windowed(
                    try inner.deserialize(Array(bytes[..<(bytes.count - 8)])),
                    Window(start: start, end: overflow ? .max : end))
            })
    }

    /// Keys of sessions in Kafka Streams' layout: the key's bytes, then the session end and start
    /// (8 bytes each, big-endian).
    public static func sessionWindowed<Inner>(_ inner: Serde<Inner>) -> Serde<Windowed<Inner>>
    where T == Windowed<Inner> {
        .nonNull(
            "Windowed<\(Inner.self)>",
            serialize: { windowed in
                SessionKeyLayout.storeKey(try keyBytes(inner, windowed.key), windowed.window)
            },
            deserialize: { bytes in
                guard bytes.count >= 16 else {
                    throw SerdeError.wrongSize(type: "Windowed<\(Inner.self)>", expected: 16, actual: bytes.count)
                }
                let (key, window) = SessionKeyLayout.split(bytes)
                return Windowed(try inner.deserialize(key), window)
            })
    }
}

/// The bytes of a key that must not be null.
func keyBytes<K>(_ serde: Serde<K>, _ key: K) throws -> [UInt8] {
    guard let bytes = try serde.serialize(key) else { throw SerdeError.nullData("\(K.self) key") }
    return bytes
}

@inline(__always)
func appendBigEndian(_ value: Int64, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
}

@inline(__always)
func appendBigEndian(_ value: Int32, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
}

/// The big-endian Int64 at `offset` (the caller checks the length).
@inline(__always)
func readBigEndian(_ bytes: [UInt8], at offset: Int) -> Int64 {
    var value: Int64 = 0
    for index in offset..<(offset + 8) { value = value << 8 | Int64(bytes[index]) }
    return value
}

/// How window stores lay out keys, in their segments and their changelog (Kafka Streams'
/// `WindowKeySchema`): the key's bytes, the window start (8 bytes) and a sequence number (4 bytes,
/// distinguishing duplicates when a store retains them), all big-endian.
@usableFromInline
enum WindowKeyLayout {
    static let suffix = 12

    @usableFromInline
    static func storeKey(_ key: [UInt8], start: Int64, sequence: Int32) -> [UInt8] {
        makeBytes(count: key.count + suffix) { raw in
            raw.copyBytes(from: key)
            raw.storeBytes(of: start.bigEndian, toByteOffset: key.count, as: Int64.self)
            raw.storeBytes(of: sequence.bigEndian, toByteOffset: key.count + 8, as: Int32.self)
        }
    }

    /// The window start in a store key: what segments it.
    @inline(__always)
    static func time(_ storeKey: [UInt8]) -> Int64 { readBigEndian(storeKey, at: storeKey.count - suffix) }

    @usableFromInline
    static func split(_ storeKey: [UInt8]) -> (key: ArraySlice<UInt8>, start: Int64) {
        (storeKey[..<(storeKey.count - suffix)], time(storeKey))
    }
}

/// How session stores lay out keys (Kafka Streams' `SessionKeySchema`): the key's bytes, the session
/// end, then its start (8 bytes each, big-endian). Sessions are segmented by their end.
enum SessionKeyLayout {
    static let suffix = 16

    static func storeKey(_ key: [UInt8], _ window: Window) -> [UInt8] {
        makeBytes(count: key.count + suffix) { raw in
            raw.copyBytes(from: key)
            raw.storeBytes(of: window.end.bigEndian, toByteOffset: key.count, as: Int64.self)
            raw.storeBytes(of: window.start.bigEndian, toByteOffset: key.count + 8, as: Int64.self)
        }
    }

    @inline(__always)
    static func time(_ storeKey: [UInt8]) -> Int64 { readBigEndian(storeKey, at: storeKey.count - suffix) }

    static func split(_ storeKey: [UInt8]) -> (key: [UInt8], window: Window) {
        let end = readBigEndian(storeKey, at: storeKey.count - 16)
        let start = readBigEndian(storeKey, at: storeKey.count - 8)
        return (Array(storeKey[..<(storeKey.count - suffix)]), Window(start: start, end: end))
    }
}
