import Foundation
import MeshConformance

// Prints one line per corpus: `conformance <corpus>: N/M`. `make conformance` runs this.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let corpusRoot = ConformanceHarness.locateCorpus(packageRoot: packageRoot)
do {
    let verbose = CommandLine.arguments.contains("-v")
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
