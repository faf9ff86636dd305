import Foundation
import MeshDoctor
import MeshTestSupport
import XCTest

/// A capture of the envoy-faults corpus held in memory, to edit into captures of faults the corpus does not have.
/// The corpus stays in ../shared: nothing is copied into the repository.
struct EditableCapture {
    var files: [String: String]
    let name: String

    static var corpus: URL {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return istioConformanceFolder(packageRoot: packageRoot).deletingLastPathComponent().appendingPathComponent("envoy-faults")
    }

    /// The scenario's files, or a skip when the corpus is not beside the repository.
    init(_ scenario: String) throws {
        let folder = Self.corpus.appendingPathComponent(scenario)
        guard FileManager.default.fileExists(atPath: folder.path) else {
            throw XCTSkip("the envoy-faults corpus is not at \(Self.corpus.path)")
        }
        name = scenario
        files = [:]
        for file in CaptureFolder.fileNames {
            if let data = FileManager.default.contents(atPath: folder.appendingPathComponent(file).path) {
                files[file] = String(decoding: data, as: UTF8.self)
            }
        }
    }

    /// Replaces text in a file; the text must be there, so a corpus change cannot turn an edit into a no-op.
    mutating func replace(_ file: String, _ old: String, with new: String, file source: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(files[file]?.contains(old) == true, "\(name)/\(file) has no \(old.debugDescription)", file: source, line: line)
        files[file] = files[file]?.replacingOccurrences(of: old, with: new)
    }

    /// Keeps only the access-log lines that pass the filter.
    mutating func keepLogLines(_ keep: (String) -> Bool) {
        files["access.log"] = (files["access.log"] ?? "").split(separator: "\n").map(String.init).filter(keep).joined(separator: "\n") + "\n"
    }

    /// Rewrites the failing lines (those containing `marker`) with `transform`.
    mutating func rewriteLogLines(containing marker: String, _ transform: (String) -> String) {
        let lines = (files["access.log"] ?? "").split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.contains(marker) }, "\(name)/access.log has no line with \(marker)")
        files["access.log"] = lines.map { $0.contains(marker) ? transform($0) : $0 }.joined(separator: "\n") + "\n"
    }

    /// Replaces `old` with `new` in the lines that contain it: a failure turned into another one.
    mutating func replaceInFailingLines(_ old: String, with new: String) {
        rewriteLogLines(containing: old) { $0.replacingOccurrences(of: old, with: new) }
    }

    /// Edits clusters.json as JSON: `edit` gets each cluster status object.
    mutating func editClusterStatuses(_ edit: (inout [String: Any]) -> Void) throws {
        let data = Data((files["clusters.json"] ?? "{}").utf8)
        var root = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        var clusters = root["cluster_statuses"] as? [[String: Any]] ?? []
        for index in clusters.indices { edit(&clusters[index]) }
        root["cluster_statuses"] = clusters
        files["clusters.json"] = String(decoding: try JSONSerialization.data(withJSONObject: root), as: UTF8.self)
    }

    /// Edits config_dump.json as JSON: `edit` gets each active dynamic cluster.
    mutating func editClusters(_ edit: (inout [String: Any]) -> Void) throws {
        var root = try JSONSerialization.jsonObject(with: Data((files["config_dump.json"] ?? "{}").utf8)) as? [String: Any] ?? [:]
        var configs = root["configs"] as? [[String: Any]] ?? []
        for index in configs.indices {
            guard var clusters = configs[index]["dynamic_active_clusters"] as? [[String: Any]] else { continue }
            for item in clusters.indices {
                guard var cluster = clusters[item]["cluster"] as? [String: Any] else { continue }
                edit(&cluster)
                clusters[item]["cluster"] = cluster
            }
            configs[index]["dynamic_active_clusters"] = clusters
        }
        root["configs"] = configs
        files["config_dump.json"] = String(decoding: try JSONSerialization.data(withJSONObject: root), as: UTF8.self)
    }

    func evidence() throws -> Evidence {
        try CaptureFolder.evidence(files: files, folder: "edited-\(name)")
    }

    func diagnose() throws -> Diagnosis {
        Doctor(try evidence()).diagnose()
    }
}
