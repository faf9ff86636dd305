import Foundation
import XCTest
@testable import Manifests

final class GoTemplateTests: XCTestCase {
    private func render(_ source: String, _ data: TemplateValue = .map(TemplateMap()),
                        functions: [String: TemplateFunction] = TemplateFunctions.istioInjection) throws -> String {
        try GoTemplate(name: "t", source: source).execute(data, functions: functions)
    }

    private var values: TemplateValue {
        let json = #"{"global": {"proxy": {"statusPort": 15020, "image": "proxyv2", "big": 123456789, "ratio": 0.5}, "hub": "docker.io/istio", "list": ["a", "b"], "empty": "", "flag": true}}"#
        return .map(TemplateMap([("Values", TemplateValue(jsonNode: try! YAMLParser.parse(json)[0].root)),
                                 ("Labels", .map(TemplateMap([("app", .string("web"))], zero: .string(""))))]))
    }

    func testTextActionsAndFields() throws {
        XCTAssertEqual(try render("port {{ .Values.global.proxy.statusPort }} image {{.Values.global.proxy.image}}", values),
                       "port 15020 image proxyv2")
        XCTAssertEqual(try render("{{ .Values.global.proxy.big }} {{ .Values.global.proxy.ratio }}", values), "1.23456789e+08 0.5")
        XCTAssertEqual(try render("{{ .Values.nothing }}|{{ index .Labels `missing` }}|{{ .Values.global.list }}", values),
                       "<no value>||[a b]")
    }

    func testTrimMarkersAndComments() throws {
        XCTAssertEqual(try render("a  \n  {{- 1 -}}  \n  b"), "a1b")
        XCTAssertEqual(try render("a {{/* note */}} b {{- /* trimmed */ -}} c"), "a  bc")
        XCTAssertEqual(try render("{{- 3 }}\n{{ 4 -}}\n"), "3\n4")
    }

    func testConditionalsAndElseChains() throws {
        let source = "{{ if eq .Values.global.hub \"x\" }}x{{ else if .Values.global.flag }}flag{{ else }}none{{ end }}"
        XCTAssertEqual(try render(source, values), "flag")
        XCTAssertEqual(try render("{{ if .Values.global.empty }}yes{{ else }}no{{ end }}", values), "no")
        XCTAssertEqual(try render("{{ with .Values.global.proxy }}{{ .image }}{{ end }}", values), "proxyv2")
        XCTAssertEqual(try render("{{ with .Values.nope }}x{{ else with .Values.global.hub }}{{ . }}{{ end }}", values), "docker.io/istio")
        XCTAssertEqual(try render("{{ if and 1 0 }}a{{ end }}{{ or 0 \"\" \"z\" }}{{ and 1 2 }}{{ not 0 }}"), "z2true")
    }

    func testRangeVariablesBreakAndContinue() throws {
        XCTAssertEqual(try render("{{ range $i, $v := .Values.global.list }}{{ $i }}={{ $v }};{{ end }}", values), "0=a;1=b;")
        XCTAssertEqual(try render("{{ range $k, $v := .Values.global.proxy }}{{ $k }} {{ end }}", values), "big image ratio statusPort ")
        XCTAssertEqual(try render("{{ range .Values.nope }}x{{ else }}empty{{ end }}", values), "empty")
        XCTAssertEqual(try render("{{ range $i, $v := list 1 2 3 4 }}{{ if eq $v 2 }}{{ continue }}{{ end }}{{ if eq $v 4 }}{{ break }}{{ end }}{{ $v }}{{ end }}"), "13")
        let source = "{{- $first := true }}{{ range list 1 2 }}{{ if not $first }},{{ end }}{{ . }}{{ $first = false }}{{ end }}"
        XCTAssertEqual(try render(source), "1,2")
        XCTAssertEqual(try render("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}"), "21")
    }

    func testDefineTemplateAndBlock() throws {
        let source = "{{ define \"greet\" }}hi {{ . }}{{ end }}{{ template \"greet\" \"ann\" }} {{ block \"b\" 3 }}[{{ . }}]{{ end }}"
        XCTAssertEqual(try render(source), "hi ann [3]")
    }

    func testPipelinesAndParentheses() throws {
        XCTAssertEqual(try render("{{ index .Labels `app` | default \"x\" | quote }}", values), "\"web\"")
        XCTAssertEqual(try render("{{ index .Labels `none` | default (index .Labels `app`) | trunc 2 | quote }}", values), "\"we\"")
        XCTAssertEqual(try render("{{ (list 1 2) | len }}"), "2")
        XCTAssertEqual(try render("{{ printf \"%s-%d-%q-%t-%v\" \"a\" 3 \"b\" true 1.5 }}"), "a-3-\"b\"-true-1.5")
        XCTAssertEqual(try render("{{ printf \"%05.1f|%-4s|%x\" 3.14159 \"ab\" 255 }}"), "003.1|ab  |ff")
    }

    func testComparisonsFollowGo() throws {
        XCTAssertEqual(try render("{{ eq 1 2 1 }} {{ ne \"a\" \"b\" }} {{ lt 1 2 }} {{ ge \"b\" \"a\" }} {{ eq .Values.nope \"x\" }}", values),
                       "true true true true false")
        XCTAssertThrowsError(try render("{{ eq .Values.global.proxy.statusPort 15020 }}", values)) { error in
            XCTAssertTrue("\(error)".contains("incompatible types for comparison"), "\(error)")
        }
    }

    func testSprigAndIstioFunctions() throws {
        let cases: [(String, String)] = [
            ("{{ list \"a\" \"b\" | join \",\" }}", "a,b"),
            ("{{ \"-_.web-\" | trimAll \"-_.\" }}", "web"),
            ("{{ \"a\\nb\" | nindent 2 }}", "\n  a\n  b"),
            ("{{ \"a\\nb\" | indent 2 }}", "a\n  b"),
            ("{{ excludeInboundPort 15020 \"\" }}|{{ excludeInboundPort \"15020\" \"80,15020\" }}|{{ excludeInboundPort 0 \"1\" }}", "15020|80,15020|1"),
            ("{{ valueOrDefault \"\" \"d\" }}{{ valueOrDefault .Values.nope \"e\" }}{{ valueOrDefault \"v\" \"f\" }}", "dev"),
            ("{{ directory \"/etc/certs/root.pem\" }}|{{ toLower \"ABC\" }}|{{ contains \"b\" \"abc\" }}", "/etc/certs/|abc|true"),
            ("{{ appendMultusNetwork \"\" \"istio-cni\" }}|{{ appendMultusNetwork \"a, b\" \"istio-cni\" }}", "istio-cni|a, b, istio-cni"),
            ("{{ appendMultusNetwork `[{\"name\": \"x\"}]` \"istio-cni\" }}", "[{\"name\": \"x\"}, {\"name\": \"istio-cni\"}]"),
            ("{{ strdict \"b\" \"2\" \"a\" \"1\" | toJsonMap }}", "{\"a\":\"1\",\"b\":\"2\"}"),
            ("{{ toJsonMap (strdict \"a\" \"1\") (strdict \"a\" \"2\" \"c\" \"<\") }}", "{\"a\":\"2\",\"c\":\"\\u003c\"}"),
            ("{{ omit (dict \"a\" 1 \"b\" 2) \"a\" | toJson }}", "{\"b\":2}"),
            ("{{ pick (dict \"a\" 1 \"b\" 2) \"b\" | toPrettyJson }}", "{\n  \"b\": 2\n}"),
            ("{{ $m := dict \"a\" 1 }}{{ $m = set $m \"b\" 2 }}{{ hasKey $m \"b\" }}", "true"),
            ("{{ toYaml (dict \"b\" (list 1 \"x\") \"a\" nil) }}", "a: null\nb:\n- 1\n- x\n"),
            ("{{ omitNil (dict \"a\" nil \"b\" 1) | toJson }}", "{\"b\":1}"),
            ("{{ range $k, $v := fromJSON `{\"x\": 1, \"y\": \"z\"}` }}{{ $k }}={{ $v }} {{ end }}", "x=1 y=z "),
            ("{{ fromJSON `not json` }}", "{}"),
            ("{{ quote \"a\\\"b\" 3 }}|{{ quote .Values.nope }}|{{ squote \"x\" }}", "\"a\\\"b\" \"3\"||'x'"),
            ("{{ default \"d\" \"\" }}{{ default \"d\" \"v\" }}{{ default \"d\" }}{{ empty \"\" }}{{ coalesce \"\" 0 \"c\" }}", "dvdtruec"),
            ("{{ trunc -3 \"abcdef\" }}{{ trunc 63 \"ab\" }}{{ add 1 2 3 }}{{ sub 5 2 }}{{ max 1 9 3 }}", "defab639"),
            ("{{ $c := list }}{{ $c = append $c \"x\" }}{{ $c = append $c \"y\" }}{{ $c | join \"+\" }}", "x+y"),
        ]
        for (source, expected) in cases {
            XCTAssertEqual(try render(source, values), expected, source)
        }
    }

    func testAnnotationAndIsset() throws {
        let meta = TemplateValue.map(TemplateMap([("Annotations", .map(TemplateMap([("a", .string("1"))], zero: .string(""))))]))
        let data = TemplateValue.map(TemplateMap([("ObjectMeta", meta)]))
        XCTAssertEqual(try render("{{ annotation .ObjectMeta `a` `d` }}{{ annotation .ObjectMeta `b` 15020 }}{{ isset .ObjectMeta.Annotations `a` }}{{ isset .ObjectMeta.Annotations `b` }}", data),
                       "115020truefalse")
    }

    func testGoFloatAndDurationFormats() {
        XCTAssertEqual(GoFormat.float(1e6), "1e+06")
        XCTAssertEqual(GoFormat.float(123456), "123456")
        XCTAssertEqual(GoFormat.float(0.0001), "0.0001")
        XCTAssertEqual(GoFormat.float(0.00001), "1e-05")
        XCTAssertEqual(GoFormat.float(-2.5), "-2.5")
        XCTAssertEqual(GoFormat.jsonFloat(15020), "15020")
        XCTAssertEqual(GoFormat.jsonFloat(1e21), "1e+21")
        XCTAssertEqual(GoFormat.duration(seconds: 45, nanos: 0), "45s")
        XCTAssertEqual(GoFormat.duration(seconds: 3600, nanos: 0), "1h0m0s")
        XCTAssertEqual(GoFormat.duration(seconds: 90, nanos: 500_000_000), "1m30.5s")
        XCTAssertEqual(GoFormat.duration(seconds: 0, nanos: 2_000_000), "2ms")
        XCTAssertEqual(GoFormat.quote("tab\there é"), "\"tab\\there é\"")
    }

    func testErrorsNameTemplateAndLine() {
        XCTAssertThrowsError(try render("line1\n{{ nosuch 1 }}")) { error in
            XCTAssertEqual("\(error)", "template: t:2: function \"nosuch\" not defined")
        }
        XCTAssertThrowsError(try render("a\nb\n{{ if true }}x")) { error in
            XCTAssertTrue("\(error)".hasPrefix("template: t:"), "\(error)")
            XCTAssertTrue("\(error)".contains("unexpected EOF"), "\(error)")
        }
        XCTAssertEqual(try render("{{ .Values.nope.deeper }}", values), "<no value>")
        let withNull = TemplateValue(jsonNode: try! YAMLParser.parse(#"{"a": null}"#)[0].root)
        XCTAssertThrowsError(try render("{{ .a.deeper }}", withNull)) { error in
            XCTAssertTrue("\(error)".contains("nil pointer evaluating interface {}.deeper"), "\(error)")
        }
        XCTAssertThrowsError(try render("{{ end }}"))
        XCTAssertThrowsError(try render("{{ \"unterminated }}"))
        XCTAssertThrowsError(try render("{{ template \"none\" }}"))
        XCTAssertThrowsError(try render("{{ index (list 1) 5 }}")) { error in
            XCTAssertTrue("\(error)".contains("error calling index: index out of range: 5"), "\(error)")
        }
    }

    /// Every template of Istio's chart parses.
    func testIstioChartTemplatesParse() throws {
        let folder = TestPaths.conformance.appendingPathComponent("kube-inject/chart/files")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix("profile-") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 8)
        for name in names {
            let source = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            XCTAssertNoThrow(try GoTemplate(name: name, source: source), name)
        }
        let template = try GoTemplate(name: "sidecar", source: String(contentsOf: folder.appendingPathComponent("injection-template.yaml"), encoding: .utf8))
        XCTAssertNotNil(template.definitions["resources"])
    }
}
