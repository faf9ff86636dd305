import Foundation
@testable import MeshProxy
import XCTest

final class RequestIDGeneratorTests: XCTestCase {
    /// Version 4 UUIDs in Envoy's form: 36 lowercase characters, dashes at 8, 13, 18 and 23, `4` as the version
    /// digit and 8, 9, a or b as the variant's; no two alike.
    func testMakesLowercaseVersion4UUIDs() {
        var generator = RequestIDGenerator()
        var seen = Set<String>()
        for _ in 0..<2000 {
            let id = generator.make()
            let bytes = Array(id.utf8)
            XCTAssertEqual(bytes.count, 36, id)
            for (index, byte) in bytes.enumerated() {
                if [8, 13, 18, 23].contains(index) {
                    XCTAssertEqual(byte, UInt8(ascii: "-"), id)
                } else {
                    XCTAssertTrue(Array("0123456789abcdef".utf8).contains(byte), id)
                }
            }
            XCTAssertEqual(bytes[14], UInt8(ascii: "4"), id)
            XCTAssertTrue(Array("89ab".utf8).contains(bytes[19]), id)
            XCTAssertNotNil(UUID(uuidString: id), id)
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 2000)
    }

    /// Every hex digit value shows up in every digit position over many ids (no digit stuck or skipped).
    func testEveryDigitPositionTakesEveryValue() {
        var generator = RequestIDGenerator()
        var values = [Set<UInt8>](repeating: [], count: 36)
        for _ in 0..<4000 {
            for (index, byte) in generator.make().utf8.enumerated() { values[index].insert(byte) }
        }
        for index in 0..<36 where ![8, 13, 14, 18, 19, 23].contains(index) {
            XCTAssertEqual(values[index].count, 16, "position \(index)")
        }
        XCTAssertEqual(values[19].count, 4)
    }
}
