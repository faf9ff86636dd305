import Foundation
import MeshConformance

// Prints one line per corpus: `conformance <corpus>: N/M`. `make conformance` runs this.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let corpusRoot = ConformanceHarness.locateCorpus(packageRoot: packageRoot)
if let flag = CommandLine.arguments.firstIndex(of: "--case"), flag + 1 < CommandLine.arguments.count,
   let number = Int(CommandLine.arguments[flag + 1]) {
    // Writes meshctl's output and the golden for one kube-inject case, to diff by hand.
    let corpus = KubeInjectCorpus(root: URL(fileURLWithPath: corpusRoot).appendingPathComponent("kube-inject"))
    do {
        let (actual, golden) = try corpus.output(ofCase: number)
        try actual.write(toFile: "/tmp/meshctl-case-\(number).actual.yaml", atomically: true, encoding: .utf8)
        try golden.write(toFile: "/tmp/meshctl-case-\(number).golden.yaml", atomically: true, encoding: .utf8)
        print("/tmp/meshctl-case-\(number).actual.yaml /tmp/meshctl-case-\(number).golden.yaml")
    } catch {
        print("error: \(error)")
    }
    exit(0)
}
do {
    let verbose = CommandLine.arguments.contains("-v")
    if CommandLine.arguments.contains("--twice") {
        let corpus = KubeInjectCorpus(root: URL(fileURLWithPath: corpusRoot).appendingPathComponent("kube-inject"))
        let (failures, total) = try corpus.runIdempotency()
        print("kube-inject (injected twice equals once): \(total - failures.count)/\(total)")
        for (id, reason) in failures.sorted(by: { $0.key < $1.key }) { print("  \(id): \(reason)") }
        exit(0)
    }
    if CommandLine.arguments.contains("--builtin") {
        let corpus = KubeInjectCorpus(root: URL(fileURLWithPath: corpusRoot).appendingPathComponent("kube-inject"))
        let (failures, total) = try corpus.runBuiltinDefaults()
        print("kube-inject (built-in defaults): \(total - failures.count)/\(total)")
        for (id, reason) in failures.sorted(by: { $0.key < $1.key }) { print("  \(id): \(reason)") }
        exit(0)
    }
    for result in try ConformanceHarness.runAll(corpusRoot: corpusRoot) {
        print(result.summaryLine)
        if verbose {
            for (id, reason) in result.failures.sorted(by: { $0.key < $1.key }) { print("  \(id): \(reason)") }
        }
    }
} catch {
    FileHandle.standardError.write(Data("error: cannot read the conformance corpus at \(corpusRoot): \(error)\n".utf8))
    exit(1)
}
