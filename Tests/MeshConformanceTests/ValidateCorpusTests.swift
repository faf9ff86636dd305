import Foundation
import XCTest
import Manifests
import MeshCLIKit
@testable import MeshConformance

/// The validate corpus counts a case as passed only when meshctl checked it and agreed with Istio for
/// Istio's reason.
final class ValidateCorpusTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-validate-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("validation/crds"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func write(_ text: String, to path: String) throws {
        try text.write(to: folder.appendingPathComponent("validation/\(path)"), atomically: true, encoding: .utf8)
    }

    func testARunnerThatCannotRunFailsEveryCase() {
        // No index.json and no constants: both runners throw.
        let result = ConformanceHarness.validateResult(corpusRoot: folder.path, cases: ["crds/a.yaml#0", "command/valid file"])
        XCTAssertEqual(result.passed, 0)
        XCTAssertEqual(Set(result.failures.keys), ["crds/a.yaml#0", "command/valid file"])
    }

    func testRightVerdictForTheWrongReasonIsAFailureCountedApart() throws {
        try write("""
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata:
          name: bad-mode
        spec:
          mtls:
            mode: BLAH
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata:
          name: bad-mode-again
        spec:
          mtls:
            mode: BLAH
        ---
        apiVersion: example.istio.io/v1
        kind: Unheard
        metadata:
          name: not-checked
        """, to: "crds/pa.yaml")
        try write("""
        {"crds": [
          {"file": "crds/pa.yaml", "doc": 0, "expect": "invalid", "expectedErrorSubstring": "Unsupported value: \\"BLAH\\""},
          {"file": "crds/pa.yaml", "doc": 1, "expect": "invalid", "expectedErrorSubstring": "port must be between 1-65535"},
          {"file": "crds/pa.yaml", "doc": 2, "expect": "valid"}
        ]}
        """, to: "index.json")
        let outcome = try ValidateCorpus(root: folder.appendingPathComponent("validation")).run()
        XCTAssertEqual(Set(outcome.failures.keys), ["crds/crds/pa.yaml#1", "crds/crds/pa.yaml#2"])
        XCTAssertEqual(outcome.wrongReason, ["crds/crds/pa.yaml#1"])
        XCTAssertTrue(outcome.failures["crds/crds/pa.yaml#2"]?.hasPrefix("not checked:") == true, outcome.failures.description)

        let result = CorpusResult(corpus: "validate", total: 3, failures: outcome.failures, wrongReason: outcome.wrongReason)
        XCTAssertEqual(result.summaryLine, "conformance validate: 1/3 (1 right verdict, wrong reason)")
    }

    /// A resource case meshctl cannot read fails, even when Istio expects it to be invalid.
    func testAnUnreadableResourceCaseFailsWhateverIstioExpects() throws {
        try write("kind: [unclosed\n", to: "broken.yaml")
        try write("""
        {"istioctlValidate": {"resourceCases": {"cases": [{"name": "broken", "file": "broken.yaml", "expectValid": false}]}}}
        """, to: "index.json")
        let outcome = try ValidateCorpus(root: folder.appendingPathComponent("validation")).run()
        XCTAssertTrue(outcome.failures["resource/broken"]?.hasPrefix("cannot read:") == true, outcome.failures.description)
    }

    /// A failing command case must fail for the kind of reason its arguments call for.
    func testCommandCasesExpectTheExitCodeTheirArgumentsCallFor() {
        XCTAssertEqual(ValidateCommandCases.expectedFailure(["validate"]).code, .usage)
        XCTAssertEqual(ValidateCommandCases.expectedFailure(["validate", "--filename", "$a", "extra"]).code, .usage)
        XCTAssertEqual(ValidateCommandCases.expectedFailure(["validate", "--filename", "NO_SUCH_FILE"]).code, .failure)
        XCTAssertEqual(ValidateCommandCases.expectedFailure(["validate", "--filename", "$a", "--filename", "$b"]).code, .dataError)
    }

    func testExpectedErrorNamesAFieldAndTheRuleWords() {
        let required = ExpectedValidationError("spec.targetRef.name: Required value")
        XCTAssertEqual(required.field, "spec.targetRef.name")
        XCTAssertEqual(required.words, ["required", "value"])
        let suffix = ExpectedValidationError("audiences[0] in body should be at least 1 chars long")
        XCTAssertEqual(suffix.field, "audiences[0]")
        let cel = ExpectedValidationError(#"spec.configPatches[0].match: Invalid value: "object": only support waypointMatch when context is WAYPOINT"#)
        XCTAssertEqual(cel.field, "spec.configPatches[0].match")
        XCTAssertEqual(cel.words.first, "only")
        XCTAssertEqual(ExpectedValidationError("spec.ports: Invalid value").words, [])
        XCTAssertNil(ExpectedValidationError("url must have scheme").field)
        XCTAssertNil(ExpectedValidationError(#"Unsupported value: "BLAH""#).field)
    }

    func testAProblemMatchesAtTheFieldOrInsideItWithEveryWord() {
        func problem(_ path: [YAMLPathComponent], _ message: String) -> ValidationProblem {
            ValidationProblem(.error, path: path, location: SourceLocation(line: 1, column: 1), message: message)
        }
        let audiences = problem([.key("spec"), .key("jwtRules"), .index(0), .key("audiences"), .index(0)], "in body should be at least 1 chars long")
        XCTAssertTrue(ExpectedValidationError("audiences[0] in body should be at least 1 chars long").isMatched(by: audiences))
        XCTAssertFalse(ExpectedValidationError("audiences[1] in body should be at least 1 chars long").isMatched(by: audiences))
        XCTAssertFalse(ExpectedValidationError("audiences[0] in body should be at most 1 chars long").isMatched(by: audiences))
        // The substring may end in the middle of a word.
        XCTAssertTrue(ExpectedValidationError("audiences[0] in body should be at least 1 chars lon").isMatched(by: audiences))
        // A problem inside the named object counts; one at its parent does not.
        let port = problem([.key("spec"), .key("ports"), .key("http")], "port must be between 1-65535")
        XCTAssertTrue(ExpectedValidationError("spec.ports: Invalid value").isMatched(by: port))
        XCTAssertFalse(ExpectedValidationError("spec.ports.http.number: Invalid value").isMatched(by: port))
        XCTAssertFalse(ExpectedValidationError("spec.hosts: Invalid value").isMatched(by: port))
        XCTAssertTrue(ExpectedValidationError("port must be between 1-65535").isMatched(by: port))
    }
}
