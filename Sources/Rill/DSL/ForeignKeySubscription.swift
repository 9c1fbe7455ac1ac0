/// The fingerprint of a left row's value in a foreign-key join (128-bit Murmur3 of its bytes).
struct ValueHash: Equatable, Sendable {
    let high: UInt64
    let low: UInt64

    init(of bytes: [UInt8]) {
        (high, low) = Murmur3.hash128(bytes)
    }

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
}

/// What the foreign side of a foreign-key join does with a subscription (Kafka Streams' instructions).
enum SubscriptionInstruction: UInt8, Sendable {
    /// Remove the subscription and answer with no foreign value: the row was deleted or left the join.
    case deleteKeyAndPropagate = 0
    /// Remove the subscription silently: the row moved to another foreign key, which answers.
    case deleteKeyNoPropagate = 1
    /// Subscribe and answer with the foreign value, or with none when there is no foreign row.
    case propagateNullIfNoForeignValue = 2
    /// Subscribe and answer only when there is a foreign row.
    case propagateOnlyIfForeignValue = 3
}

/// A left row's subscription to a foreign key, sent on the subscription topic keyed by the
/// foreign key's bytes.
struct ForeignKeySubscription: Sendable {
    /// The hash of the row's value when it was sent; `nil` when the row was deleted.
    let hash: ValueHash?
    let instruction: SubscriptionInstruction
    /// The left row's key, serialized.
    let primaryKey: [UInt8]
    /// The partition of the left row, where the response must go.
    let primaryPartition: Int32

    /// version, instruction, hash flag and hash, partition, primary key.
    static let serde = Serde<ForeignKeySubscription>.nonNull(
        "ForeignKeySubscription",
        serialize: { subscription in
            var bytes: [UInt8] = [0, subscription.instruction.rawValue]
            appendHash(subscription.hash, to: &bytes)
            bytes += bigEndianBytes(subscription.primaryPartition)
            bytes += subscription.primaryKey
            return bytes
        },
        deserialize: { bytes in
            var reader = WireReader(bytes, type: "ForeignKeySubscription")
            try reader.expectVersion()
            guard let instruction = SubscriptionInstruction(rawValue: try reader.byte()) else {
                throw SerdeError.invalid(type: "ForeignKeySubscription", reason: "unknown instruction")
            }
            let hash = try reader.hash()
            let partition = try reader.int32()
            return ForeignKeySubscription(
                hash: hash, instruction: instruction, primaryKey: reader.rest(), primaryPartition: partition)
        })
}

/// The foreign side's answer to a subscription, sent on the response topic keyed by the left
/// row's key and routed to the left row's partition.
struct ForeignKeyResponse: Sendable {
    /// The hash the subscription carried: the left side drops the response unless its row still hashes to it.
    let hash: ValueHash?
    /// The foreign row's value, serialized; `nil` when there is none.
    let foreignValue: [UInt8]?
    let primaryPartition: Int32

    /// version, partition, hash flag and hash, value flag and value.
    static let serde = Serde<ForeignKeyResponse>.nonNull(
        "ForeignKeyResponse",
        serialize: { response in
            var bytes: [UInt8] = [0]
            bytes += bigEndianBytes(response.primaryPartition)
            appendHash(response.hash, to: &bytes)
            if let value = response.foreignValue {
                bytes.append(1)
                bytes += value
            } else {
                bytes.append(0)
            }
            return bytes
        },
        deserialize: { bytes in
            var reader = WireReader(bytes, type: "ForeignKeyResponse")
            try reader.expectVersion()
            let partition = try reader.int32()
            let hash = try reader.hash()
            let value = try reader.byte() == 1 ? reader.rest() : nil
            return ForeignKeyResponse(hash: hash, foreignValue: value, primaryPartition: partition)
        })

    /// Routes a response to the partition of the left row it answers.
    static let partitioner: StreamPartitioner<[UInt8], ForeignKeyResponse> = { _, _, response, _ in
        response.primaryPartition
    }
}

/// Keys of the subscription store: the foreign key's length (4 bytes, big-endian), its bytes, then
/// the left row's key, so that every subscription to one foreign key shares a prefix.
enum CombinedKey {
    static func bytes(foreignKey: [UInt8], primaryKey: [UInt8]) -> [UInt8] {
        prefix(foreignKey: foreignKey) + primaryKey
    }

    static func prefix(foreignKey: [UInt8]) -> [UInt8] {
        bigEndianBytes(UInt32(foreignKey.count)) + foreignKey
    }

    /// The smallest key greater than every key starting with `prefix`, or `nil` if there is none.
    static func upperBound(of prefix: [UInt8]) -> [UInt8]? {
        var bound = prefix
        while let last = bound.last {
            if last < 0xff {
                bound[bound.count - 1] = last + 1
                return bound
            }
            bound.removeLast()
        }
        return nil
    }
}

private func appendHash(_ hash: ValueHash?, to bytes: inout [UInt8]) {
    guard let hash else {
        bytes.append(0)
        return
    }
    bytes.append(1)
    bytes += bigEndianBytes(hash.high)
    bytes += bigEndianBytes(hash.low)
}

/// Reads the fields of a foreign-key join's wire formats in order.
private struct WireReader {
    let bytes: [UInt8]
    let type: String
    var offset = 0

    init(_ bytes: [UInt8], type: String) {
        self.bytes = bytes
        self.type = type
    }

    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard offset + count <= bytes.count else {
            throw SerdeError.wrongSize(type: type, expected: offset + count, actual: bytes.count)
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func byte() throws -> UInt8 { try take(1).first! }

    mutating func expectVersion() throws {
        let version = try byte()
        guard version == 0 else { throw SerdeError.invalid(type: type, reason: "unsupported version \(version)") }
    }

    mutating func int32() throws -> Int32 { try fromBigEndian(Array(take(4)), type) }

    mutating func hash() throws -> ValueHash? {
        guard try byte() == 1 else { return nil }
        let high: UInt64 = try fromBigEndian(Array(take(8)), type)
        let low: UInt64 = try fromBigEndian(Array(take(8)), type)
        return ValueHash(high: high, low: low)
    }

    func rest() -> [UInt8] { Array(bytes[offset...]) }
}
