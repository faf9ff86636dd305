import Foundation
import Manifests

/// Istio's validation corpus: CRD schema cases, the datasets of valid resources, and istioctl
/// validate's resource cases. A case passes when meshctl's verdict (valid or not) matches.
struct ValidateCorpus {
    let root: URL

    /// Case id → failure reason, for the crds, datasets and resource cases, in CorpusIndex's id scheme.
    func run() throws -> [String: String] {
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("index.json"))) as? [String: Any] ?? [:]
        var failures: [String: String] = [:]
        var documentsByFile: [String: [YAMLNode]] = [:]
        func documents(_ file: String) throws -> [YAMLNode] {
            if let cached = documentsByFile[file] { return cached }
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            let parsed = try YAMLParser.parse(text, file: file).map(\.root).filter { !$0.isNull }
            documentsByFile[file] = parsed
            return parsed
        }
        func verdict(_ document: YAMLNode) -> (valid: Bool, detail: String) {
            var node = document
            node["_err"] = nil
            switch ResourceValidator.validate(node) {
            case .skipped(_, let reason): return (true, "skipped: \(reason)")
            case .checked(_, let problems):
                let errors = problems.filter { $0.severity == .error }
                return (errors.isEmpty, errors.map { "\($0.path.fieldPath): \($0.message)" }.joined(separator: "; "))
            }
        }

        for item in index["crds"] as? [[String: Any]] ?? [] {
            let file = item["file"] as? String ?? "", number = item["doc"] as? Int ?? 0
            let id = "crds/\(file)#\(number)"
            do {
                let all = try documents(file)
                guard number < all.count else { failures[id] = "document \(number) not found"; continue }
                let (valid, detail) = verdict(all[number])
                let expectValid = item["expect"] as? String == "valid"
                if valid != expectValid {
                    failures[id] = expectValid ? "rejected a valid resource: \(detail)"
                        : "accepted an invalid resource (Istio: \(item["expectedErrorSubstring"] as? String ?? "?"))"
                }
            } catch {
                failures[id] = "error: \(error)"
            }
        }
        for item in index["datasets"] as? [[String: Any]] ?? [] {
            let file = item["file"] as? String ?? ""
            let id = "datasets/\(file)"
            do {
                for document in try documents(file) {
                    let (valid, detail) = verdict(document)
                    if !valid { failures[id] = "rejected a valid resource: \(detail)" }
                }
            } catch {
                failures[id] = "error: \(error)"
            }
        }
        let istioctl = index["istioctlValidate"] as? [String: Any] ?? [:]
        for item in (istioctl["resourceCases"] as? [String: Any])?["cases"] as? [[String: Any]] ?? [] {
            let id = "resource/\(item["name"] ?? "?")"
            let file = item["file"] as? String ?? ""
            do {
                var valid = true
                var warned = false
                for document in try documents(file) {
                    let (isValid, _) = verdict(document)
                    valid = valid && isValid
                    if case .checked(_, let problems) = ResourceValidator.validate(document) {
                        warned = warned || problems.contains { $0.severity == .warning }
                    }
                }
                let expectValid = item["expectValid"] as? Bool ?? true, expectWarning = item["expectWarning"] as? Bool ?? false
                if valid != expectValid || warned != expectWarning {
                    failures[id] = "verdict valid=\(valid) warning=\(warned), Istio: valid=\(expectValid) warning=\(expectWarning)"
                }
            } catch {
                failures[id] = item["expectValid"] as? Bool == false ? nil : "error: \(error)"
            }
        }
        return failures
    }
}
