import EnvoyConfig
import Foundation
import Manifests

/// Reads a capture folder in `x capture`'s layout into evidence: config_dump.json, clusters.json, stats.txt,
/// access.log, istio.yaml and, when present, symptom.txt. A missing file leaves a gap the diagnosis names;
/// a malformed file is an error naming the file and the place.
public enum CaptureFolder {
    /// A file of the capture that is not what its name says.
    public struct MalformedFile: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The folder is missing or unreadable.
    public struct Unreadable: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func read(_ folder: String) throws -> Evidence {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Unreadable(description: "\(folder) is not a folder (a capture folder from meshctl x capture -d DIR)")
        }
        var files: [String: String] = [:]
        for name in fileNames {
            if let data = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent(name)) {
                files[name] = String(decoding: data, as: UTF8.self)
            }
        }
        return try evidence(files: files, folder: folder)
    }

    /// The files a diagnosis reads.
    public static let fileNames = ["config_dump.json", "clusters.json", "stats.txt", "istio.yaml", "access.log", "symptom.txt"]

    /// Evidence from the capture's files (name → text); `folder` names them in errors.
    public static func evidence(files: [String: String], folder: String) throws -> Evidence {
        func text(_ name: String) -> String? { files[name] }
        var evidence = Evidence()
        func shown(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
        do {
            if let dump = text("config_dump.json") { evidence.configDump = try ConfigDump(text: dump, source: shown("config_dump.json")) } else { evidence.gaps.append("config_dump.json: missing, so listeners, routes and clusters were not checked") }
            if let clusters = text("clusters.json") { evidence.clusterStatuses = try ClusterStatuses(text: clusters, source: shown("clusters.json")) } else { evidence.gaps.append("clusters.json: missing, so host health was not checked") }
            if let stats = text("stats.txt") { evidence.stats = try EnvoyStats(text: stats, source: shown("stats.txt")) } else { evidence.gaps.append("stats.txt: missing, so no counters were checked") }
        } catch {
            throw MalformedFile(description: error.description)
        }
        if let yaml = text("istio.yaml") {
            do {
                evidence.objects = try MeshObjects(yaml: yaml, file: "istio.yaml")
            } catch {
                throw MalformedFile(description: "\(shown("istio.yaml")): \(error)")
            }
        } else {
            evidence.gaps.append("istio.yaml: missing, so no Istio or Kubernetes object was checked")
        }
        if let log = text("access.log") { evidence.addAccessLog(log, source: "access.log") } else { evidence.gaps.append("access.log: missing, so no request was seen") }
        if let symptom = text("symptom.txt"), !symptom.isEmpty { evidence.symptom = Symptom(text: symptom) }
        return evidence
    }
}
