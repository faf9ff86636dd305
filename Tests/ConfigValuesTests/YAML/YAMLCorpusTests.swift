import Foundation
import XCTest
@testable import ConfigValues

/// The YAML layer against every YAML and JSON file of Istio's conformance corpus.
final class YAMLCorpusTests: XCTestCase {
    /// Files libyaml cannot read although Go's YAML decoder can, each with the reason. Listed here so
    /// that nothing is skipped silently; any other parse failure fails the test.
    static let unreadableByLibyaml: [String: String] = [:]

    private func corpusFiles() throws -> [String] {
        let root = TestPaths.conformance.path
        guard let walker = FileManager.default.enumerator(atPath: root) else {
            throw XCTSkip("no conformance corpus at \(root)")
        }
        var files: [String] = []
        while let path = walker.nextObject() as? String {
            // The chart's files/ and templates/ are Go templates, not YAML.
            if path.contains("chart/files/") || path.contains("chart/templates/") { continue }
            if path.hasSuffix(".yaml") || path.hasSuffix(".yml") || path.hasSuffix(".json") || path.hasSuffix(".injected") {
                files.append(path)
            }
        }
        return files.sorted()
    }

    /// parse(emit(doc)) == doc for every document, in both key orders, and through JSON.
    func testRoundTripEveryCorpusDocument() throws {
        let root = TestPaths.conformance
        var documents = 0, failures: [String] = []
        let files = try corpusFiles()
        XCTAssertGreaterThan(files.count, 300, "the corpus looks incomplete")
        for path in files {
            let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
            let parsed: [YAMLDocument]
            do {
                parsed = try YAMLParser.parse(text, file: path)
            } catch {
                if Self.unreadableByLibyaml[path] == nil { failures.append("\(path): \(error)") }
                continue
            }
            XCTAssertNil(Self.unreadableByLibyaml[path], "\(path) parses now; remove it from the list")
            for document in parsed {
                documents += 1
                for order in [YAMLEmitter.KeyOrder.asParsed, .sorted] {
                    let out = YAMLEmitter(keyOrder: order).emit(document.root)
                    let back = try? YAMLParser.parse(out)
                    if back?.count != 1 || back?[0].root != document.root {
                        failures.append("\(path) document \(document.index) (\(order))")
                    }
                }
                let json = JSONEmitter(indent: 2).emit(document.root)
                if (try? YAMLParser.parse(json))?.first?.root != document.root {
                    failures.append("\(path) document \(document.index) (JSON)")
                }
            }
        }
        print("yaml round trip: \(documents) documents in \(files.count) files, \(failures.count) failures")
        XCTAssertEqual(failures, [])
    }

    /// Istio's kube-inject goldens are go-yaml output: emitting each injected workload in sorted order
    /// gives back the same text, byte for byte.
    func testSortedEmissionReproducesIstioGoldens() throws {
        let folder = TestPaths.conformance.appendingPathComponent("kube-inject/inject")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".injected") }.sorted()
        XCTAssertGreaterThan(names.count, 100)
        let workloads: Set<String> = ["Pod", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet",
                                      "ReplicationController", "DeploymentConfig", "List"]
        var compared = 0, mismatches: [String] = []
        for name in names {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            // Split the golden into documents by its `---` lines, and compare document by document.
            let texts = text.components(separatedBy: "\n---\n").map { $0.hasPrefix("---\n") ? String($0.dropFirst(4)) : $0 }
            for piece in texts {
                let trimmed = piece.trimmingCharacters(in: .newlines)
                guard !trimmed.isEmpty, trimmed != "---", let document = try YAMLParser.parse(trimmed).first,
                      let kind = document.root["kind"]?.string, workloads.contains(kind) else { continue }
                compared += 1
                let emitted = YAMLEmitter(keyOrder: .sorted).emit(document.root)
                if emitted != trimmed + "\n" { mismatches.append("\(name) (\(kind)):\n\(lineDiff(trimmed + "\n", emitted))") }
            }
        }
        print("go-yaml style: \(compared - mismatches.count)/\(compared) golden workload documents reproduced")
        XCTAssertGreaterThan(compared, 100)
        XCTAssertEqual(mismatches, [])
    }
}
