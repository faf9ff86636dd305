import Foundation
import XCTest
import MeshTestSupport

/// Paths the tests read: the package root, this target's Fixtures/ and Golden/, and Istio's corpus.
enum TestPaths {
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let packageRoot = testsFolder.deletingLastPathComponent().deletingLastPathComponent()

    static func fixture(_ name: String) -> URL { testsFolder.appendingPathComponent("Fixtures/\(name)") }
    static func golden(_ name: String) -> URL { testsFolder.appendingPathComponent("Golden/\(name)") }

    static var conformance: URL { istioConformanceFolder(packageRoot: packageRoot) }
}

/// Compares output with a file under Golden/. With `MESHCTL_UPDATE_GOLDEN=1` the file is rewritten
/// (atomically) and the test still fails, so a run in update mode never passes.
func assertMatchesGolden(_ actual: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
    let url = TestPaths.golden(name)
    if ProcessInfo.processInfo.environment["MESHCTL_UPDATE_GOLDEN"] == "1" {
        do {
            try actual.write(to: url, atomically: true, encoding: .utf8)
            XCTFail("rewrote golden \(name); run again without MESHCTL_UPDATE_GOLDEN to check", file: file, line: line)
        } catch {
            XCTFail("cannot write golden \(url.path): \(error)", file: file, line: line)
        }
        return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        XCTFail("no golden file \(url.path); create it with MESHCTL_UPDATE_GOLDEN=1", file: file, line: line)
        return
    }
    if actual != expected {
        XCTFail("output differs from golden \(name):\n\(lineDiff(expected, actual))", file: file, line: line)
    }
}

/// The lines that differ, `-` expected and `+` actual, with line numbers.
func lineDiff(_ expected: String, _ actual: String) -> String {
    let left = expected.components(separatedBy: "\n"), right = actual.components(separatedBy: "\n")
    var out: [String] = []
    for index in 0..<max(left.count, right.count) {
        let a = index < left.count ? left[index] : nil, b = index < right.count ? right[index] : nil
        if a != b {
            if let a { out.append("\(index + 1): - \(a)") }
            if let b { out.append("\(index + 1): + \(b)") }
        }
        if out.count > 40 { out.append("..."); break }
    }
    return out.joined(separator: "\n")
}
