import XCTest
@testable import ConfigValues

final class YAMLParserTests: XCTestCase {
    func testMappingKeepsKeyOrderAndLocations() throws {
        let docs = try YAMLParser.parse("b: 1\na:\n  c: x\n", file: "f.yaml")
        XCTAssertEqual(docs.count, 1)
        let root = docs[0].root
        XCTAssertEqual(root.pairs?.map { $0.key.scalarText }, ["b", "a"])
        XCTAssertEqual(root["a"]?["c"]?.location, SourceLocation(line: 3, column: 6))
        XCTAssertEqual(root["b"]?.int, 1)
        XCTAssertEqual(docs[0].file, "f.yaml")
    }

    func testQuotedScalarsStayStrings() throws {
        let root = try YAMLParser.parse("""
        a: "0123"
        b: 'yes'
        c: "on"
        d: "1e3"
        e: "null"
        f: 0123
        g: yes
        h: ~
        """)[0].root
        for key in ["a", "b", "c", "d", "e"] { XCTAssertEqual(root[key]?.scalar?.kind, .string, key) }
        XCTAssertEqual(root["f"]?.int, 83, "YAML 1.1 octal")
        XCTAssertEqual(root["g"]?.bool, true)
        XCTAssertTrue(root["h"]?.isNull ?? false)
    }

    func testPlainScalarResolution() {
        let cases: [(String, ScalarKind)] = [
            ("", .null), ("null", .null), ("Null", .null), ("true", .bool), ("off", .bool), ("Y", .bool),
            ("42", .int), ("-7", .int), ("0x1F", .int), ("0o17", .int), ("0b101", .int), ("1_000", .int),
            ("1.5", .float), ("1e3", .float), (".5", .float), ("-.inf", .float), (".NaN", .float), ("08", .float),
            ("name", .string), ("nope", .string), ("1.2.3", .string), ("-", .string), ("15020", .int),
            ("500m", .string), ("v1", .string), ("yesterday", .string),
        ]
        for (text, kind) in cases { XCTAssertEqual(ScalarResolver.resolvePlain(text), kind, text) }
        XCTAssertTrue(ScalarResolver.isSexagesimal("190:20:30"))
        XCTAssertFalse(ScalarResolver.isSexagesimal("10:70"))
        XCTAssertEqual(ScalarResolver.parseInt("-9223372036854775808"), Int.min)
        XCTAssertNil(ScalarResolver.parseInt("99999999999999999999"))
    }

    func testBlockScalarsKeepExactContent() throws {
        let root = try YAMLParser.parse("a: |\n  one\n   two\n\nb: >-\n  folded\n  text\nc: |+\n  kept\n\n")[0].root
        XCTAssertEqual(root["a"]?.string, "one\n two\n")
        XCTAssertEqual(root["b"]?.string, "folded text")
        XCTAssertEqual(root["c"]?.string, "kept\n\n")
        XCTAssertEqual(root["a"]?.scalar?.style, .literal)
    }

    func testMultiDocumentStream() throws {
        let docs = try YAMLParser.parse("a: 1\n---\nb: 2\n---\n# only a comment\n", file: "m.yaml")
        XCTAssertEqual(docs.map(\.index), [0, 1, 2])
        XCTAssertEqual(docs[1].root["b"]?.int, 2)
        XCTAssertTrue(docs[2].root.isNull)
        XCTAssertEqual(try YAMLParser.parse("").count, 0)
    }

    func testAnchorsAliasesAndMergeKeys() throws {
        let text = """
        base: &base {cpu: 100m, memory: 64Mi}
        other: &other {memory: 1Gi, gpu: 1}
        limits:
          <<: [*base, *other]
          cpu: 200m
        copy: *base
        """
        let root = try YAMLParser.parse(text)[0].root
        XCTAssertEqual(root["copy"], root["base"])
        XCTAssertEqual(root["limits"]?.pairs?.map { $0.key.scalarText }, ["memory", "gpu", "cpu"])
        XCTAssertEqual(root["limits"]?["cpu"]?.string, "200m", "explicit keys win")
        XCTAssertEqual(root["limits"]?["memory"]?.string, "64Mi", "the first merged mapping wins")
    }

    func testAliasBombIsRefused() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...8 {
            let refs = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            text += "a\(level): &a\(level) [\(refs)]\n"
        }
        XCTAssertThrowsError(try YAMLParser.parse(text, file: "bomb.yaml")) { error in
            guard let error = error as? YAMLError, case .aliasExpansionLimit = error.reason else {
                return XCTFail("expected the alias limit, got \(error)")
            }
            XCTAssertEqual(error.file, "bomb.yaml")
        }
    }

    func testUndefinedAliasNamesTheAlias() {
        XCTAssertThrowsError(try YAMLParser.parse("a: *nowhere\n")) { error in
            XCTAssertEqual((error as? YAMLError)?.reason, .undefinedAlias("nowhere"))
            XCTAssertEqual((error as? YAMLError)?.location, SourceLocation(line: 1, column: 4))
        }
    }

    func testSyntaxErrorHasFileLineColumnAndContext() {
        XCTAssertThrowsError(try YAMLParser.parse("a: 1\nb: [1, 2\nc: 3\n", file: "bad.yaml")) { error in
            guard let error = error as? YAMLError, case .syntax(let problem, let context) = error.reason else {
                return XCTFail("expected a syntax error, got \(error)")
            }
            XCTAssertFalse(problem.isEmpty)
            XCTAssertNotNil(context)
            XCTAssertEqual(error.file, "bad.yaml")
            XCTAssertEqual(error.location.line, 3)
            XCTAssertTrue(error.description.hasPrefix("bad.yaml:3:"), error.description)
        }
    }

    func testTagsForceTypes() throws {
        let root = try YAMLParser.parse("a: !!str 123\nb: !!int \"42\"\nc: !!float 1\n")[0].root
        XCTAssertEqual(root["a"]?.string, "123")
        XCTAssertEqual(root["b"]?.int, 42)
        XCTAssertEqual(root["c"]?.scalar?.kind, .float)
        XCTAssertThrowsError(try YAMLParser.parse("a: !!int abc\n"))
    }

    func testJSONIsYAML() throws {
        let root = try YAMLParser.parse(#"{"kind": "Pod", "spec": {"containers": [{"name": "a", "ports": [80]}]}, "n": null}"#)[0].root
        XCTAssertEqual(root["kind"]?.string, "Pod")
        XCTAssertEqual(root["spec"]?["containers"]?[0]?["ports"]?[0]?.int, 80)
        XCTAssertTrue(root["n"]?.isNull ?? false)
    }

    func testEqualityIsByMeaning() throws {
        let a = try YAMLParser.parse("x: 0x10\ny: 5.0\nz: {b: 1, a: 2}\n8080: p\n")[0].root
        let b = try YAMLParser.parse(#"{"8080": "p", "z": {"a": 2, "b": 1}, "y": 5, "x": 16}"#)[0].root
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(try YAMLParser.parse("x: '16'")[0].root, try YAMLParser.parse("x: 16")[0].root)
    }

    /// Go's YAML reader accepts `[1.2.3.4, 2001:db8::]`; libyaml alone stops at the last colon.
    func testColonEndingPlainScalarInFlowSequence() throws {
        let root = try YAMLParser.parse("addresses: [1.2.3.4, 2001:db8::, 'q']\nnext: [a::]\n", file: "se.yaml")[0].root
        XCTAssertEqual(root["addresses"]?.items?.compactMap(\.string), ["1.2.3.4", "2001:db8::", "q"])
        XCTAssertEqual(root["next"]?[0]?.string, "a::")
        XCTAssertEqual(root["next"]?.location.line, 2)
        XCTAssertThrowsError(try YAMLParser.parse("a: [b: c: d]\n"))
    }

    func testNestingLimit() {
        let deep = String(repeating: "[", count: YAMLParser.nestingLimit + 1) + String(repeating: "]", count: YAMLParser.nestingLimit + 1)
        XCTAssertThrowsError(try YAMLParser.parse(deep))
    }
}
