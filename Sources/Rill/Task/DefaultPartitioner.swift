/// Kafka's default partitioner for keyed records: murmur2 of the key's bytes, made positive, modulo
/// the partition count (what Java clients and librdkafka's `murmur2_random` do).
package enum DefaultPartitioner {
    /// The partition of `key` among `count` partitions.
    package static func partition(key: [UInt8], count: Int32) -> Int32 {
        (murmur2(key) & 0x7fff_ffff) % count
    }

    /// Kafka's murmur2 (seed 0x9747b28c).
    package static func murmur2(_ data: [UInt8]) -> Int32 {
        let m: UInt32 = 0x5bd1_e995
        let length = data.count
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        let whole = length & ~3
        var index = 0
        while index < whole {
            var k = UInt32(data[index]) | UInt32(data[index + 1]) << 8 | UInt32(data[index + 2]) << 16
                | UInt32(data[index + 3]) << 24
            k = k &* m
            k ^= k >> 24
            k = k &* m
            h = h &* m
            h ^= k
            index += 4
        }
        switch length & 3 {
        case 3:
            h ^= UInt32(data[whole + 2]) << 16
            h ^= UInt32(data[whole + 1]) << 8
            h ^= UInt32(data[whole])
            h = h &* m
        case 2:
            h ^= UInt32(data[whole + 1]) << 8
            h ^= UInt32(data[whole])
            h = h &* m
        case 1:
            h ^= UInt32(data[whole])
            h = h &* m
        default:
            break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }
}
