import Foundation
import Rill
import XCTest

/// Built-in serdes: Kafka's byte layouts, and clear errors for data that doesn't fit.
final class SerdeTests: XCTestCase {
    func testIntegersAndDoublesAreBigEndianAsKafkas() throws {
        XCTAssertEqual(try Serde<Int32>.int32.serialize(1), [0, 0, 0, 1])
        XCTAssertEqual(try Serde<Int32>.int32.serialize(-2), [0xFF, 0xFF, 0xFF, 0xFE])
        XCTAssertEqual(try Serde<Int64>.int64.serialize(0x0102_0304_0506_0708), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(try Serde<Double>.double.serialize(1.0), [0x3F, 0xF0, 0, 0, 0, 0, 0, 0])
        for value: Int64 in [0, 1, -1, .max, .min] {
            XCTAssertEqual(try Serde<Int64>.int64.deserialize(Serde<Int64>.int64.serialize(value)), value)
        }
        XCTAssertEqual(try Serde<Double>.double.deserialize([0xC0, 0x09, 0x21, 0xF9, 0xF0, 0x1B, 0x86, 0x6E]), -3.14159)
        XCTAssertEqual(try Serde<Int32>.int32.deserialize([0x80, 0, 0, 0]), .min)
    }

    func testWrongSizeIsAnError() {
        XCTAssertThrowsError(try Serde<Int64>.int64.deserialize([1, 2, 3])) { error in
            XCTAssertTrue("\(error)".contains("8 bytes"), "\(error)")
        }
    }

    func testStringIsUTF8AndRejectsInvalidBytes() throws {
        XCTAssertEqual(try Serde<String>.string.serialize("héllo"), [0x68, 0xC3, 0xA9, 0x6C, 0x6C, 0x6F])
        XCTAssertEqual(try Serde<String>.string.deserialize([0x68, 0xC3, 0xA9]), "hé")
        XCTAssertThrowsError(try Serde<String>.string.deserialize([0xFF, 0xFE]))
        XCTAssertThrowsError(try Serde<String>.string.deserialize(Array("caf".utf8) + [0xC3]), "a truncated sequence")
        XCTAssertEqual(try Serde<String>.string.deserialize(Array("Zürich 東京".utf8)), "Zürich 東京")
        XCTAssertEqual(try Serde<String>.string.deserialize(Array("key-42".utf8)), "key-42")
    }

    func testUUIDIsItsTextForm() throws {
        let uuid = UUID(uuidString: "123E4567-E89B-12D3-A456-426614174000")!
        XCTAssertEqual(try Serde<UUID>.uuid.serialize(uuid), Array("123e4567-e89b-12d3-a456-426614174000".utf8))
        XCTAssertEqual(try Serde<UUID>.uuid.deserialize(Array("123e4567-e89b-12d3-a456-426614174000".utf8)), uuid)
        XCTAssertThrowsError(try Serde<UUID>.uuid.deserialize(Array("nope".utf8)))
    }

    struct Visit: Codable, Equatable {
        var clinicId: String
        var count: Int
    }

    func testJSONRoundTripAndErrorsNameTheProblem() throws {
        let serde = Serde<Visit>.json()
        let bytes = try XCTUnwrap(try serde.serialize(Visit(clinicId: "c-1", count: 3)))
        XCTAssertEqual(try serde.deserialize(bytes), Visit(clinicId: "c-1", count: 3))
        XCTAssertThrowsError(try serde.deserialize(Array(#"{"clinicId":"c"}"#.utf8))) { error in
            XCTAssertTrue("\(error)".contains("count"), "\(error)")
        }
        XCTAssertThrowsError(try serde.deserialize(Array(#"{"clinicId":1,"count":2}"#.utf8))) { error in
            XCTAssertTrue("\(error)".contains("clinicId"), "\(error)")
        }
        XCTAssertThrowsError(try serde.deserialize(Array("{".utf8))) { error in
            XCTAssertTrue("\(error)".contains("malformed JSON"), "\(error)")
        }
    }

    func testNullDataAndOptionalSerdes() throws {
        XCTAssertThrowsError(try Serde<String>.string.deserialize(nil)) { error in
            XCTAssertTrue("\(error)".contains("null") && "\(error)".contains(".optional"), "\(error)")
        }
        let optional = Serde<String>.string.optional
        XCTAssertNil(try optional.serialize(nil))
        XCTAssertNil(try optional.deserialize(nil))
        XCTAssertEqual(try optional.deserialize(Array("x".utf8)), "x")
        XCTAssertEqual(try Serde<[UInt8]>.bytes.serialize([9, 8]), [9, 8])
    }

    func testMappedSerde() throws {
        let cents = Serde<Int64>.int64.map({ Double($0) / 100 }, { Int64(($0 * 100).rounded()) })
        XCTAssertEqual(try cents.serialize(1.25), [0, 0, 0, 0, 0, 0, 0, 125])
        XCTAssertEqual(try cents.deserialize([0, 0, 0, 0, 0, 0, 0, 50]), 0.5)
    }

    func testTimestampedValuesAreTheBigEndianTimestampThenTheValueAndRoundTrip() throws {
        let serde = Serde<ValueAndTimestamp<String>>.timestamped(.string)
        let bytes = try serde.serialize(ValueAndTimestamp("hé", timestamp: 0x0102_0304_0506_0708))
        XCTAssertEqual(bytes, [1, 2, 3, 4, 5, 6, 7, 8] + Array("hé".utf8))
        XCTAssertEqual(try serde.deserialize(bytes), ValueAndTimestamp("hé", timestamp: 0x0102_0304_0506_0708))
        // An empty value, and a negative timestamp.
        let empty = try serde.serialize(ValueAndTimestamp("", timestamp: -2))
        XCTAssertEqual(empty, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE])
        XCTAssertEqual(try serde.deserialize(empty), ValueAndTimestamp("", timestamp: -2))
        let counts = Serde<ValueAndTimestamp<Int64>>.timestamped(.int64)
        XCTAssertEqual(try counts.deserialize(counts.serialize(ValueAndTimestamp(42, timestamp: 7))), ValueAndTimestamp(42, timestamp: 7))
        XCTAssertThrowsError(try serde.deserialize([1, 2, 3])) { error in
            XCTAssertTrue("\(error)".contains("ValueAndTimestamp"), "\(error)")
        }
    }
}
