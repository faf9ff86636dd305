import Foundation
import XCTest
import MeshTestSupport

/// Paths the tests read: the package root and Istio's corpus.
enum TestPaths {
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let packageRoot = testsFolder.deletingLastPathComponent().deletingLastPathComponent()

    static var conformance: URL { istioConformanceFolder(packageRoot: packageRoot) }
}
