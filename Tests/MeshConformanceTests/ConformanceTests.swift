import Foundation
import XCTest
@testable import MeshConformance

/// Runs every corpus of ../shared/conformance/istio, prints the counts, and checks that each failing case
/// is named in conformance/known-divergences.tsv with its reason (and that no listed case passes).
final class ConformanceTests: XCTestCase {
    private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func testEveryFailingCaseIsAKnownDivergence() throws {
        let corpus = ConformanceHarness.locateCorpus(packageRoot: packageRoot.path)
        guard FileManager.default.fileExists(atPath: corpus) else {
            return XCTFail("no conformance corpus at \(corpus): put ../shared beside the repository or set MESHCTL_CONFORMANCE_DIR")
        }
        let results = try ConformanceHarness.runAll(corpusRoot: corpus)
        for result in results { print(result.summaryLine) }
        XCTAssertEqual(Set(ConformanceHarness.expectedTotals.keys), Set(ConformanceHarness.corpora), "every corpus has its expected total")

        let listText = try String(contentsOf: packageRoot.appendingPathComponent("conformance/known-divergences.tsv"), encoding: .utf8)
        let problems = ConformanceHarness.problems(with: results, divergences: KnownDivergences(text: listText),
                                                   caseIDs: try ConformanceHarness.caseIDs(corpusRoot: corpus))
        XCTAssertEqual(problems, [], problems.joined(separator: "\n"))
    }

    func testKnownDivergencesFileFormat() {
        let list = KnownDivergences(text: "# comment\nkube-inject\t[1] a.yaml\treason one\nvalidate\t*\tnot built\nbad line\n")
        XCTAssertEqual(list.entries.count, 2)
        XCTAssertEqual(list.malformedLines.map(\.line), [4])
        XCTAssertTrue(list.covers(corpus: "validate", caseID: "anything"))
        XCTAssertTrue(list.covers(corpus: "kube-inject", caseID: "[1] a.yaml"))
        XCTAssertFalse(list.covers(corpus: "kube-inject", caseID: "[2] b.yaml"))
        let results = [CorpusResult(corpus: "kube-inject", total: 3, failures: ["[2] b.yaml": "differs"]),
                       CorpusResult(corpus: "validate", total: 1, failures: ["x": "differs"])]
        let ids = ["kube-inject": ["[1] a.yaml", "[2] b.yaml", "[3] c.yaml"], "validate": ["x"]]
        XCTAssertEqual(list.problems(with: results, caseIDs: ids), [
            "known-divergences line 4 is not corpus<TAB>case<TAB>reason: bad line",
            "kube-inject: [2] b.yaml fails (differs) and is not in the known-divergences file",
            "kube-inject: [1] a.yaml is listed as a known divergence but passes; remove it",
        ])
    }

    /// Entries that no longer mean anything fail: a `*` for a corpus that passes whole, an unknown corpus or case.
    func testStaleAndUnknownEntriesAreProblems() {
        let list = KnownDivergences(text: "validate\t*\tnot built\nanalyse\t[1] x\ttypo in the corpus\nkube-inject\t[9] gone.yaml\trenamed\n")
        let results = [CorpusResult(corpus: "kube-inject", total: 1, failures: [:]),
                       CorpusResult(corpus: "validate", total: 1, failures: [:])]
        XCTAssertEqual(list.problems(with: results, caseIDs: ["kube-inject": ["[1] a.yaml"], "validate": ["x"]]), [
            "validate: * is listed as a known divergence but every case passes; remove it",
            "analyse is not a corpus (known: kube-inject, validate); fix or remove its entry",
            "kube-inject: [9] gone.yaml is not a case of the corpus; fix or remove its entry",
        ])
    }

    /// A corpus that loses or gains cases, or is not run, is a problem even when nothing fails.
    func testTotalsAreCheckedForEveryCorpus() {
        var results = ConformanceHarness.corpora.map { CorpusResult(corpus: $0, total: ConformanceHarness.expectedTotals[$0]!, failures: [:]) }
        XCTAssertEqual(ConformanceHarness.problems(with: results, divergences: KnownDivergences(text: ""), caseIDs: [:]), [])
        results[2].total -= 1
        results.removeLast()
        XCTAssertEqual(ConformanceHarness.problems(with: results, divergences: KnownDivergences(text: ""), caseIDs: [:]), [
            "the corpora run are \(Array(ConformanceHarness.corpora.dropLast())), expected \(ConformanceHarness.corpora)",
            "validate: 192 cases, expected 193",
        ])
    }
}

/// How the harness compares what istioctl's cases expect.
final class ConformanceComparisonTests: XCTestCase {
    private let kubeInjectRoot = URL(fileURLWithPath: ConformanceHarness.locateCorpus(
        packageRoot: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path))
        .appendingPathComponent("kube-inject")

    /// `gateway.yaml:9` is a place: the same file at line 9, not line 90 or line 12.
    func testExpectedFileLinesAreComparedExactly() throws {
        let place = try XCTUnwrap(AnalyzeCommandCases.FileLocation("virtualservice.yaml:11"))
        XCTAssertTrue(place.isNamed(in: "Error [IST0101] (VirtualService a/reviews integration/virtualservice.yaml:11) Referenced ..."))
        XCTAssertFalse(place.isNamed(in: "Error [IST0101] (VirtualService a/reviews integration/virtualservice.yaml:12) Referenced ..."))
        XCTAssertFalse(place.isNamed(in: "(VirtualService a/reviews virtualservice.yaml:110)"))
        XCTAssertNil(AnalyzeCommandCases.FileLocation("errors parsing content \"<path>\""))
    }

    /// The cases Istio checks only through its webhook (skipKubeInject) are compared that way, so a real
    /// difference shows: without the OpenShift proxy-user reset, case 61's proxy would run as the app's user.
    func testWebhookOnlyCasesAreCompared() throws {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: kubeInjectRoot.appendingPathComponent("cases.json"))) as? [String: Any]
        let item = try XCTUnwrap((index?["TestInjection"] as? [[String: Any]])?.first { $0["index"] as? Int == 61 })
        XCTAssertEqual(item["skipKubeInject"] as? Bool, true)
        let corpus = KubeInjectCorpus(root: kubeInjectRoot)
        var settings = try corpus.settings(for: item, nativeDefault: true)
        let input = try String(contentsOf: kubeInjectRoot.appendingPathComponent(try XCTUnwrap(item["input"] as? String)), encoding: .utf8)
        let golden = try String(contentsOf: kubeInjectRoot.appendingPathComponent(try XCTUnwrap(item["golden"] as? String)), encoding: .utf8)
        XCTAssertNil(try corpus.webhookProblem(input: input, golden: golden, settings: settings))
        settings.openShift = false
        let problem = try corpus.webhookProblem(input: input, golden: golden, settings: settings)
        XCTAssertTrue(problem?.contains("1000620000") == true, problem ?? "no difference found")
    }
}

/// The kube-inject cases beyond the main table.
final class KubeInjectExtraCasesTests: XCTestCase {
    func testOlderKubernetesVersionsGetNoNativeSidecars() throws {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let corpus = URL(fileURLWithPath: ConformanceHarness.locateCorpus(packageRoot: packageRoot.path)).appendingPathComponent("kube-inject")
        let (failures, total) = try KubeInjectCorpus(root: corpus).runOlderVersion()
        print("kube-inject (older Kubernetes versions): \(total - failures.count)/\(total) goldens equal")
        XCTAssertEqual(total, 8)
        XCTAssertEqual(failures, [:])
    }

    /// Injecting an injected manifest again changes nothing.
    func testInjectingTwiceEqualsInjectingOnce() throws {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let corpus = URL(fileURLWithPath: ConformanceHarness.locateCorpus(packageRoot: packageRoot.path)).appendingPathComponent("kube-inject")
        let (failures, total) = try KubeInjectCorpus(root: corpus).runIdempotency()
        print("kube-inject (injected twice equals once): \(total - failures.count)/\(total)")
        XCTAssertEqual(Set(failures.keys), Set(KubeInjectCorpus.notIdempotentCases.keys))
        XCTAssertEqual(total, 120)
    }

    /// meshctl's built-in configuration against every default-settings case, only hub and tag set.
    func testBuiltinDefaultsGiveIstiosOutput() throws {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let corpus = URL(fileURLWithPath: ConformanceHarness.locateCorpus(packageRoot: packageRoot.path)).appendingPathComponent("kube-inject")
        let (failures, total) = try KubeInjectCorpus(root: corpus).runBuiltinDefaults()
        print("kube-inject (meshctl built-in defaults): \(total - failures.count)/\(total) goldens equal")
        XCTAssertEqual(total, 73)
        XCTAssertEqual(failures, [:])
    }
}
