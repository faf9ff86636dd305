import XCTest
@testable import ConfigValues

final class JSONValueTests: XCTestCase {
    func testRoundTripKeepsOrderAndNumbers() throws {
        let text = #"{"b":1,"a":[true,false,null,1.50,-2e3],"s":"tab\tquote\" slash\/ \u00e9 \ud83d\ude00"}"#
        let value = try JSONValue.parse(text)
        XCTAssertEqual(value.object?.map(\.key), ["b", "a", "s"])
        XCTAssertEqual(value["s"]?.string, "tab\tquote\" slash/ é 😀")
        XCTAssertEqual(value.serialized, #"{"b":1,"a":[true,false,null,1.50,-2e3],"s":"tab\tquote\" slash/ é 😀"}"#)
        XCTAssertEqual(try JSONValue.parse(value.serialized), value)
    }

    func testErrorsSayWhere() {
        XCTAssertThrowsError(try JSONValue.parse("{\n  \"a\": tru\n}")) { error in
            XCTAssertEqual("\(error)", "2:8: unexpected character")
        }
        XCTAssertThrowsError(try JSONValue.parse("[1,]")) { XCTAssertEqual("\($0)", "1:4: unexpected character") }
        XCTAssertThrowsError(try JSONValue.parse("{} x")) { XCTAssertEqual("\($0)", "1:4: unexpected text after the JSON value") }
    }

    func testYAMLConversion() throws {
        let node = try XCTUnwrap(YAMLParser.parse("a: 1\nb: [x, true]\nc: null\n").first?.root)
        XCTAssertEqual(JSONValue(yaml: node).serialized, #"{"a":1,"b":["x",true],"c":null}"#)
        XCTAssertEqual(JSONValue(yaml: JSONValue(yaml: node).yamlNode), JSONValue(yaml: node))
    }
}
