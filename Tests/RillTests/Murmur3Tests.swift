@testable import Rill
import XCTest

/// Murmur3 x64-128 against Kafka Streams' own test vectors (seed 123).
final class Murmur3Tests: XCTestCase {
    func testKafkaVectors() {
        let cases: [(String, Int64, Int64)] = [
            ("21", 5_857_341_059_704_281_894, -5_288_187_638_297_930_763),
            ("foobar", -351_361_463_397_418_609, 8_959_716_011_862_540_668),
            ("a-little-bit-long-string", 8_836_256_500_583_638_442, -198_172_363_548_498_523),
            ("a-little-bit-longer-string", 1_838_346_159_335_108_511, 8_794_688_210_320_490_705),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -4_024_021_876_037_397_259, -1_482_317_706_335_141_238),
            ("abc", 1_489_494_923_063_836_066, -5_440_978_547_625_122_829),
        ]
        for (input, high, low) in cases {
            let (h1, h2) = Murmur3.hash128(Array(input.utf8), seed: 123)
            XCTAssertEqual(Int64(bitPattern: h1), high, input)
            XCTAssertEqual(Int64(bitPattern: h2), low, input)
        }
    }
}
