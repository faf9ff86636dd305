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
        XCTAssertEqual(results.map(\.corpus), ConformanceHarness.corpora)
        XCTAssertEqual(results.first { $0.corpus == "kube-inject" }?.total, 128)
        XCTAssertEqual(results.first { $0.corpus == "check-inject" }?.total, 11)

        let listText = try String(contentsOf: packageRoot.appendingPathComponent("conformance/known-divergences.tsv"), encoding: .utf8)
        let problems = KnownDivergences(text: listText).problems(with: results)
        XCTAssertEqual(problems, [], problems.joined(separator: "\n"))
    }

    func testKnownDivergencesFileFormat() {
        let list = KnownDivergences(text: "# comment\nkube-inject\t[1] a.yaml\treason one\nvalidate\t*\tnot built\nbad line\n")
        XCTAssertEqual(list.entries.count, 2)
        XCTAssertTrue(list.covers(corpus: "validate", caseID: "anything"))
        XCTAssertTrue(list.covers(corpus: "kube-inject", caseID: "[1] a.yaml"))
        XCTAssertFalse(list.covers(corpus: "kube-inject", caseID: "[2] b.yaml"))
        let results = [CorpusResult(corpus: "kube-inject", total: 3, failures: ["[2] b.yaml": "differs"])]
        XCTAssertEqual(list.problems(with: results), [
            "kube-inject: [2] b.yaml fails (differs) and is not in the known-divergences file",
            "kube-inject: [1] a.yaml is listed as a known divergence but passes; remove it",
        ])
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
        // merge-probers.yaml was injected by an older Istio, with the proxy as a regular container. Istio
        // (and so its golden) re-applies that old container's settings over the new template once, because
        // its status names the proxy under containers; the next injection finds it under initContainers
        // and takes the template as it is. meshctl keeps Istio's behaviour here.
        XCTAssertEqual(Set(failures.keys), ["[56] inject/merge-probers.yaml.injected"])
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
