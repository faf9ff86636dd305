import Foundation
import Manifests
import MeshCLIKit

/// Istio's analyzer test grid: each case loads its input files, runs one named analyzer, and must
/// produce exactly the expected (code, origin) pairs, as a multiset.
struct AnalyzeCorpus {
    let root: URL

    /// Case id → failure reason, with ids as CorpusIndex builds them.
    func run() throws -> [String: String] {
        let data = try Data(contentsOf: root.appendingPathComponent("expectations.json"))
        let index = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        var failures: [String: String] = [:]
        for item in index["cases"] as? [[String: Any]] ?? [] {
            let id = "[\(item["index"] ?? "?")] \(item["name"] ?? "?")"
            let analyzerName = item["analyzer"] as? String ?? ""
            guard let analyzer = Analyzers.named(analyzerName) else {
                failures[id] = "analyzer \(analyzerName) is not built yet"
                continue
            }
            do {
                /// The documents of a file under testdata/.
                func documents(_ file: String) throws -> [YAMLDocument] {
                    let text = try String(contentsOf: root.appendingPathComponent("testdata").appendingPathComponent(file), encoding: .utf8)
                    return try YAMLParser.parse(text, file: file)
                }
                var resources: [AnalyzedResource] = []
                for file in item["inputFiles"] as? [String] ?? [] {
                    resources += try documents(file).flatMap { AnalyzedResource.all(in: $0.root, file: file) ?? [] }
                }
                let meshConfig = try (item["meshConfigFile"] as? String).flatMap { try documents($0).first?.root }
                let meshNetworks = try (item["meshNetworksFile"] as? String).flatMap { try documents($0).first?.root }
                let input = AnalysisInput(resources: resources, meshConfig: meshConfig, meshNetworks: meshNetworks,
                                          credentials: TLSCredentialInspector())
                let produced = Analyzers.run([analyzer], on: input).map { "\($0.type.code) \($0.resource.origin)" }
                let expected = (item["expected"] as? [[String: Any]] ?? []).map { "\($0["code"] ?? "") \($0["origin"] ?? "")" }
                let missing = Self.subtract(expected, produced), extra = Self.subtract(produced, expected)
                if !missing.isEmpty || !extra.isEmpty {
                    failures[id] = "missing \(missing), unexpected \(extra)"
                }
            } catch {
                failures[id] = "input: \(error)"
            }
        }
        // Two clusters' resources analyzed together, each tagged with its cluster.
        for item in index["multiClusterCases"] as? [[String: Any]] ?? [] {
            let id = "multicluster/\(item["name"] ?? "?")"
            guard let analyzer = Analyzers.named(item["analyzer"] as? String ?? "") else { failures[id] = "analyzer not built"; continue }
            do {
                var resources: [AnalyzedResource] = []
                for (cluster, key) in [("cluster1", "cluster1InputFiles"), ("cluster2", "cluster2InputFiles")] {
                    for file in item[key] as? [String] ?? [] {
                        let text = try String(contentsOf: root.appendingPathComponent("testdata").appendingPathComponent(file), encoding: .utf8)
                        for document in try YAMLParser.parse(text, file: file) {
                            resources += (AnalyzedResource.all(in: document.root, file: file) ?? []).map { resource in
                                var tagged = resource
                                tagged.cluster = cluster
                                return tagged
                            }
                        }
                    }
                }
                let produced = Analyzers.run([analyzer], on: AnalysisInput(resources: resources)).map { "\($0.type.code) \($0.resource.origin)" }
                let expected = (item["expected"] as? [[String: Any]] ?? []).map { "\($0["code"] ?? "") \($0["origin"] ?? "")" }
                let missing = Self.subtract(expected, produced), extra = Self.subtract(produced, expected)
                if !missing.isEmpty || !extra.isEmpty { failures[id] = "missing \(missing), unexpected \(extra)" }
            } catch {
                failures[id] = "input: \(error)"
            }
        }
        return failures
    }

    /// `a` minus `b` as multisets.
    static func subtract(_ a: [String], _ b: [String]) -> [String] {
        var remaining = b
        return a.filter { item in
            if let position = remaining.firstIndex(of: item) {
                remaining.remove(at: position)
                return false
            }
            return true
        }
    }
}
