import Foundation
import MeshConformance

// Prints one line per corpus: `conformance <corpus>: N/M`. `make conformance` runs this.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let corpusRoot = ConformanceHarness.locateCorpus(packageRoot: packageRoot)
do {
    for result in try ConformanceHarness.runAll(corpusRoot: corpusRoot) {
        print(result.summaryLine)
    }
} catch {
    FileHandle.standardError.write(Data("error: cannot read the conformance corpus at \(corpusRoot): \(error)\n".utf8))
    exit(1)
}
