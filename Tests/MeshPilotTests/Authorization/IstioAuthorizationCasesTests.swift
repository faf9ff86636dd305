import ConfigValues
import Foundation
@testable import MeshPilot
@testable import MeshProxy
import XCTest

/// Istio's own AuthorizationPolicy translation cases (pilot/pkg/security/authz/builder/testdata in Istio's source
/// at the corpus's commit): each input's policies for the workload `app: httpbin, version: v1` in `foo` must give
/// the filters istiod's expected output holds (its camelCase proto JSON read as Envoy's snake_case names).
final class IstioAuthorizationCasesTests: XCTestCase {
    static let workload = ["app": "httpbin", "version": "v1"]

    /// Cases whose options local mode has (no trust domain aliases, no CUSTOM providers).
    static let httpCases: [(input: String, outputs: [String])] = [
        ("allow-empty-rule", ["allow-empty-rule-out"]), ("allow-full-rule", ["allow-full-rule-out"]), ("allow-nil-rule", ["allow-nil-rule-out"]),
        ("allow-path", ["allow-path-out"]), ("audit-full-rule", ["audit-full-rule-out"]), ("deny-and-allow", ["deny-and-allow-out1", "deny-and-allow-out2"]),
        ("deny-empty-rule", ["deny-empty-rule-out"]), ("dry-run-allow-and-deny", ["dry-run-allow-and-deny-out1", "dry-run-allow-and-deny-out2"]),
        ("dry-run-allow", ["dry-run-allow-out"]), ("dry-run-mix", ["dry-run-mix-out"]), ("multiple-policies", ["multiple-policies-out"]),
        ("single-policy", ["single-policy-out"]), ("trust-domains", ["trust-domains-out"]),
    ]
    static let tcpCases: [(input: String, outputs: [String])] = [
        ("allow-both-http-tcp", ["allow-both-http-tcp-out"]), ("allow-only-http", ["allow-only-http-out"]),
        ("audit-both-http-tcp", ["audit-both-http-tcp-out"]), ("deny-both-http-tcp", ["deny-both-http-tcp-out"]), ("dry-run-mix", ["dry-run-mix-out"]),
    ]

    /// Istio's source as a bare git repository (ISTIO_SOURCE, else the machine's mirror).
    static var istioSource: String? {
        let path = ProcessInfo.processInfo.environment["ISTIO_SOURCE"] ?? "/work/.mirror/istio+istio/repo"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    static func show(_ repository: String, _ path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-C", repository, "show", "HEAD:pilot/pkg/security/authz/builder/testdata/" + path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileReadNoSuchFile) }
        return String(decoding: data, as: UTF8.self)
    }

    static func documents(_ text: String) throws -> [JSONValue] {
        try YAMLParser.parse(text).map { JSONValue(yaml: $0.root) }.filter { !$0.isNull }
    }

    /// Istio's protojson (camelCase) as Envoy's field names; map keys (policy names) and `@type` stay.
    static func snakeCase(_ value: JSONValue, mapKeys: Bool = false) -> JSONValue {
        switch value {
        case .object(let pairs):
            return .object(pairs.map { pair in
                let key = mapKeys || pair.key.hasPrefix("@") ? pair.key : pair.key.reduce(into: "") { text, character in
                    if character.isUppercase { text += "_" + character.lowercased() } else { text.append(character) }
                }
                return (key, snakeCase(pair.value, mapKeys: pair.key == "policies"))
            })
        case .array(let items): return .array(items.map { snakeCase($0) })
        default: return value
        }
    }

    private func check(_ cases: [(input: String, outputs: [String])], folder: String, forTCP: Bool) throws {
        guard let source = Self.istioSource else { throw XCTSkip("no Istio source mirror (set ISTIO_SOURCE to a bare clone): Istio's authz builder cases did not run") }
        for (input, outputs) in cases {
            let policies = try Self.documents(try Self.show(source, "\(folder)/\(input)-in.yaml"))
            let snapshot = MeshSnapshot(objects: [AuthorizationFilters.storageKey: policies])
            let got = forTCP ? AuthorizationFilters.network(forWorkload: Self.workload, namespace: "foo", in: snapshot)
                             : AuthorizationFilters.http(forWorkload: Self.workload, namespace: "foo", in: snapshot)
            let want = try outputs.map { Self.snakeCase(try Self.documents(try Self.show(source, "\(folder)/\($0).yaml"))[0]) }
            XCTAssertEqual(got.count, want.count, "\(folder)/\(input): number of filters")
            for (index, (filter, expected)) in zip(got, want).enumerated() where filter != expected {
                XCTFail("\(folder)/\(input) filter \(index) differs from Istio's \(outputs[index]).yaml:\nwant \(expected.serialized)\ngot  \(filter.serialized)")
            }
            // meshctl's proxy runs every filter the pilot makes.
            for filter in got {
                do {
                    let typed = try ConfigReader.mapping(try XCTUnwrap(filter["typed_config"]).yamlNode, file: input, path: [])
                    _ = try typed.typeName()
                    _ = try RBACConfig.read(typed, network: forTCP)
                    try typed.finish()
                } catch {
                    XCTFail("\(folder)/\(input): meshctl's proxy cannot read the filter: \(error)")
                }
            }
        }
    }

    func testHTTPFiltersMatchIstiosBuilderCases() throws {
        try check(Self.httpCases, folder: "http", forTCP: false)
    }

    func testNetworkFiltersMatchIstiosBuilderCases() throws {
        try check(Self.tcpCases, folder: "tcp", forTCP: true)
    }
}
