import EnvoyConfig
import Foundation
import MeshDoctor

/// The 503 doctor against `../shared/conformance/envoy-faults`: captures of a real Envoy with one planted fault
/// each. A case passes when the diagnosis names `expected.json`'s cause first, and the failing request it reasoned
/// from has the expected response flags and status.
public struct DoctorCorpus {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// The envoy-faults folder beside the Istio corpus folder.
    public static func locate(istioCorpusRoot: String) -> URL {
        URL(fileURLWithPath: istioCorpusRoot).deletingLastPathComponent().appendingPathComponent("envoy-faults")
    }

    /// Scenario folders: those holding an expected.json, sorted.
    public static func caseIDs(root: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.path).filter { name in
            FileManager.default.fileExists(atPath: root.appendingPathComponent(name).appendingPathComponent("expected.json").path)
        }.sorted()
    }

    /// Case id → why it failed.
    public func run() throws -> [String: String] {
        var failures: [String: String] = [:]
        for id in try Self.caseIDs(root: root) {
            if let problem = check(id) { failures[id] = problem }
        }
        return failures
    }

    /// Nil when the case passes, else what differs.
    public func check(_ id: String) -> String? {
        let folder = root.appendingPathComponent(id)
        do {
            let data = try Data(contentsOf: folder.appendingPathComponent("expected.json"))
            guard let expected = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let cause = expected["cause"] as? String else { return "expected.json has no cause" }
            let flags = expected["flags"] as? [String] ?? []
            let status = expected["status"] as? Int ?? -1
            let evidence = try CaptureFolder.read(folder.path)
            let diagnosis = Doctor(evidence).diagnose()
            let named = diagnosis.causes.map(\.id.rawValue)
            guard named.first == cause else { return "expected \(cause) first, got [\(named.joined(separator: ", "))]" }
            guard let request = diagnosis.failingRequest else { return "no failing request was read" }
            if request.responseFlags != flags { return "the failing request's flags are \(request.responseFlags), expected \(flags)" }
            if request.responseCode != status { return "the failing request's status is \(request.responseCode), expected \(status)" }
            if let symptom = evidence.symptom, symptom.status != status { return "symptom.txt read as status \(symptom.status), expected \(status)" }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
