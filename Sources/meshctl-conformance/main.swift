import Foundation
import MeshConformance

// Prints one line per corpus: `conformance <corpus>: N/M`. `make conformance` runs this. Exits 1 when the counts
// do not mean what they say: a failing case that conformance/known-divergences.tsv does not list, a listed case
// that passes, a stale or unknown entry, or a corpus with another number of cases than expected.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let corpusRoot = ConformanceHarness.locateCorpus(packageRoot: packageRoot)
let kubeInjectRoot = URL(fileURLWithPath: corpusRoot).appendingPathComponent("kube-inject")

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(1)
}

/// Prints a side run's count and failures; exits 1 when its failures are not exactly the expected ones.
func report(_ title: String, _ run: (failures: [String: String], total: Int), expectedFailures: Set<String> = []) -> Never {
    print("\(title): \(run.total - run.failures.count)/\(run.total)")
    for (id, reason) in run.failures.sorted(by: { $0.key < $1.key }) { print("  \(id): \(reason)") }
    let unexpected = Set(run.failures.keys).symmetricDifference(expectedFailures)
    if !unexpected.isEmpty { fail("\(title): unexpected results for \(unexpected.sorted().joined(separator: ", "))") }
    exit(0)
}

let arguments = CommandLine.arguments
if let flag = arguments.firstIndex(of: "--case") {
    // Writes meshctl's output and the golden for one kube-inject case, to diff by hand.
    guard flag + 1 < arguments.count, let number = Int(arguments[flag + 1]) else { fail("--case needs a case number, e.g. --case 61") }
    do {
        let (actual, golden) = try KubeInjectCorpus(root: kubeInjectRoot).output(ofCase: number)
        try actual.write(toFile: "/tmp/meshctl-case-\(number).actual.yaml", atomically: true, encoding: .utf8)
        try golden.write(toFile: "/tmp/meshctl-case-\(number).golden.yaml", atomically: true, encoding: .utf8)
        print("/tmp/meshctl-case-\(number).actual.yaml /tmp/meshctl-case-\(number).golden.yaml")
        exit(0)
    } catch {
        fail("kube-inject case \(number): \(error)")
    }
}
do {
    if arguments.contains("--twice") {
        report("kube-inject (injected twice equals once)", try KubeInjectCorpus(root: kubeInjectRoot).runIdempotency(),
               expectedFailures: Set(KubeInjectCorpus.notIdempotentCases.keys))
    }
    if arguments.contains("--builtin") {
        report("kube-inject (built-in defaults)", try KubeInjectCorpus(root: kubeInjectRoot).runBuiltinDefaults())
    }
    if let flag = arguments.firstIndex(of: "--only"), flag + 1 < arguments.count, arguments[flag + 1] == "proxy-config" {
        // One corpus while working on it: its count and every failure, without the known-divergences check.
        let result = try ConformanceHarness.runProxyConfig(corpusRoot: corpusRoot)
        print(result.summaryLine)
        for (id, reason) in result.failures.sorted(by: { $0.key < $1.key }) { print("  \(id): \(reason)") }
        exit(0)
    }
    let results = try ConformanceHarness.runAll(corpusRoot: corpusRoot)
    for result in results {
        print(result.summaryLine)
        if arguments.contains("-v") {
            for (id, reason) in result.failures.sorted(by: { $0.key < $1.key }) { print("  \(id): \(reason)") }
        }
    }
    let listPath = URL(fileURLWithPath: packageRoot).appendingPathComponent("conformance/known-divergences.tsv")
    let divergences = KnownDivergences(text: try String(contentsOf: listPath, encoding: .utf8))
    let problems = ConformanceHarness.problems(with: results, divergences: divergences,
                                               caseIDs: try ConformanceHarness.caseIDs(corpusRoot: corpusRoot))
    if !problems.isEmpty {
        fail("the conformance counts do not match conformance/known-divergences.tsv:\n" + problems.map { "  " + $0 }.joined(separator: "\n"))
    }
} catch {
    fail("cannot read the conformance corpus at \(corpusRoot): \(error)")
}
