/// MurmurHash3, x64 128-bit variant: how a foreign-key join fingerprints a row's value, so that a
/// response computed for an older value of the row can be recognised and dropped.
package enum Murmur3 {
    /// Kafka Streams' seed for value hashes.
    package static let defaultSeed: UInt32 = 104_729

    /// The 128-bit hash of `data`, as two 64-bit halves.
    package static func hash128(_ data: [UInt8], seed: UInt32 = defaultSeed) -> (UInt64, UInt64) {
        let c1: UInt64 = 0x87c3_7b91_1142_53d5
        let c2: UInt64 = 0x4cf5_ad43_2745_937f
        var h1 = UInt64(seed)
        var h2 = UInt64(seed)
        let count = data.count
        let blocks = count / 16

        func word(_ offset: Int) -> UInt64 {
            var value: UInt64 = 0
            for byte in 0..<8 { value |= UInt64(data[offset + byte]) << (8 * UInt64(byte)) }
            return value
        }

        for block in 0..<blocks {
            var k1 = word(block * 16)
            var k2 = word(block * 16 + 8)
            k1 = rotateLeft(k1 &* c1, 31) &* c2
            h1 ^= k1
            h1 = rotateLeft(h1, 27) &+ h2
            h1 = h1 &* 5 &+ 0x52dc_e729
            k2 = rotateLeft(k2 &* c2, 33) &* c1
            h2 ^= k2
            h2 = rotateLeft(h2, 31) &+ h1
            h2 = h2 &* 5 &+ 0x3849_5ab5
        }

        let tail = blocks * 16
        let remainder = count & 15
        var k1: UInt64 = 0
        var k2: UInt64 = 0
        if remainder > 8 {
            for index in stride(from: remainder - 1, through: 8, by: -1) {
                k2 ^= UInt64(data[tail + index]) << (8 * UInt64(index - 8))
            }
            h2 ^= rotateLeft(k2 &* c2, 33) &* c1
        }
        if remainder > 0 {
            for index in stride(from: min(remainder, 8) - 1, through: 0, by: -1) {
                k1 ^= UInt64(data[tail + index]) << (8 * UInt64(index))
            }
            h1 ^= rotateLeft(k1 &* c1, 31) &* c2
        }

        h1 ^= UInt64(count)
        h2 ^= UInt64(count)
        h1 &+= h2
        h2 &+= h1
        h1 = mix(h1)
        h2 = mix(h2)
        h1 &+= h2
        h2 &+= h1
        return (h1, h2)
    }

    @inline(__always)
    private static func rotateLeft(_ value: UInt64, _ shift: UInt64) -> UInt64 {
        (value << shift) | (value >> (64 - shift))
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k &*= 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k &*= 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}
