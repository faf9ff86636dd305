import Foundation
import XCTest
@testable import ConfigValues

final class YAMLEmitterTests: XCTestCase {
    private func emit(_ yaml: String, _ order: YAMLEmitter.KeyOrder = .sorted) throws -> String {
        YAMLEmitter(keyOrder: order).emit(try YAMLParser.parse(yaml)[0].root)
    }

    func testStringsThatWouldChangeMeaningAreQuoted() {
        let node = YAMLNode.mapping([
            ("a", .string("yes")), ("b", .string("1e3")), ("c", .string("0123")), ("d", .string("null")),
            ("e", .string("")), ("f", .string("on")), ("g", .string("plain text")), ("h", .string("*")),
            ("i", .string("a: b")), ("j", .string("190:20:30")), ("k", .string("- x")), ("l", .string("15020")),
        ])
        XCTAssertEqual(YAMLEmitter().emit(node), """
        a: "yes"
        b: "1e3"
        c: "0123"
        d: "null"
        e: ""
        f: "on"
        g: plain text
        h: '*'
        i: 'a: b'
        j: "190:20:30"
        k: '- x'
        l: "15020"

        """)
    }

    func testSortedOrderComparesDigitRunsAsNumbers() {
        let keys = ["a10", "a2", "b", "A", "_x", "a1"]
        XCTAssertEqual(keys.sorted(by: KeyOrdering.goYAMLLess), ["_x", "A", "a1", "a2", "a10", "b"])
    }

    func testBlockLayout() throws {
        let text = "spec:\n  containers:\n  - name: a\n    args:\n    - x\n    - y\n    env: []\n  volumes: {}\nlist:\n- - 1\n  - 2\n"
        XCTAssertEqual(try emit(text, .asParsed), text)
        XCTAssertEqual(try emit("args: [x, y]\n", .asParsed), "args:\n- x\n- y\n")
    }

    func testLiteralBlocksAndChomping() throws {
        let node = YAMLNode.mapping([
            ("clip", .string("a\nb\n")), ("strip", .string("a\nb")), ("keep", .string("a\n\n")),
            ("lead", .string("  indented\n")), ("tabs", .string("a\tb\nc")),
        ])
        XCTAssertEqual(YAMLEmitter().emit(node), """
        clip: |
          a
          b
        strip: |-
          a
          b
        keep: |+
          a

        lead: |2
            indented
        tabs: "a\\tb\\nc"

        """)
    }

    func testLongScalarsFoldAtColumn80LikeGoYAML() throws {
        let value = "[{\"name\": \"alt_cni\"}, {\"name\": \"more_cni\", \"namespace\": \"kube-system\"}, {\"name\": \"istio-cni\"}]"
        let out = YAMLEmitter().emit(.mapping([("metadata", .mapping([("annotations", .mapping([("k8s.v1.cni.cncf.io/networks", .string(value))]))]))]))
        XCTAssertTrue(out.contains("\n      \"kube-system\""), out)
        XCTAssertEqual(try YAMLParser.parse(out)[0].root["metadata"]?["annotations"]?["k8s.v1.cni.cncf.io/networks"]?.string, value)
    }

    func testUnicodeAndControlCharacters() throws {
        let node = YAMLNode.mapping([("a", .string("héllo")), ("b", .string("emoji 😀")), ("c", .string("bell\u{7}"))])
        let out = YAMLEmitter().emit(node)
        XCTAssertTrue(out.contains("a: héllo\n"), out)
        XCTAssertTrue(out.contains(#"b: "emoji \U0001F600""#), out)
        XCTAssertTrue(out.contains(#"c: "bell\a""#), out)
        XCTAssertEqual(try YAMLParser.parse(out)[0].root, node)
    }

    func testAsParsedKeepsQuoteStyle() throws {
        XCTAssertEqual(try emit("a: 'p'\nb: \"q\"\nc: r\n", .asParsed), "a: 'p'\nb: \"q\"\nc: r\n")
        XCTAssertEqual(try emit("a: 'p'\nb: \"q\"\nc: r\n", .sorted), "a: p\nb: q\nc: r\n")
    }

    func testLongAndComplexKeys() throws {
        let long = String(repeating: "k", count: 130)
        let node = YAMLNode.mapping([YAMLPair(key: .string(long), value: .int(1)),
                                     YAMLPair(key: .sequence([.string("a"), .string("b")]), value: .string("v"))])
        let out = YAMLEmitter().emit(node)
        XCTAssertTrue(out.hasPrefix("? \(long)\n: 1\n"), out)
        XCTAssertEqual(try YAMLParser.parse(out)[0].root, node)
    }

    func testJSONOutput() throws {
        let node = try YAMLParser.parse("b: [1, 2.5, true, null, \"<x>\"]\na: {}\n")[0].root
        XCTAssertEqual(JSONEmitter().emit(node), #"{"b":[1,2.5,true,null,"<x>"],"a":{}}"#)
        XCTAssertEqual(JSONEmitter(escapeHTML: true).emit(node), #"{"b":[1,2.5,true,null,"\u003cx\u003e"],"a":{}}"#)
        XCTAssertEqual(JSONEmitter(indent: 2, keyOrder: .sorted).emit(node), """
        {
          "a": {},
          "b": [
            1,
            2.5,
            true,
            null,
            "<x>"
          ]
        }
        """)
    }

    func testStyleFixtureAgainstGolden() throws {
        let text = try String(contentsOf: TestPaths.fixture("styles.yaml"), encoding: .utf8)
        let docs = try YAMLParser.parse(text, file: "styles.yaml").map(\.root)
        assertMatchesGolden(YAMLEmitter(keyOrder: .sorted).emit(documents: docs), "styles.sorted.yaml")
        assertMatchesGolden(YAMLEmitter(keyOrder: .asParsed).emit(documents: docs), "styles.as-parsed.yaml")
    }
}
