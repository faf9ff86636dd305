import Foundation
import Manifests

/// Istio's validation corpus: CRD schema cases, the datasets of valid resources, and istioctl
/// validate's resource cases. A valid case passes when meshctl checks it and finds no error; an invalid
/// case passes when meshctl refuses it for the reason Istio names (ExpectedValidationError). A kind
/// meshctl does not check, or a file it cannot read, fails the case.
struct ValidateCorpus {
    let root: URL

    /// What the run found, in CorpusIndex's id scheme.
    struct Outcome {
        /// Case id → why it failed (wrong verdict, or right verdict for the wrong reason).
        var failures: [String: String] = [:]
        /// The failing cases meshctl refuses as Istio does, but not for Istio's reason.
        var wrongReason: Set<String> = []
    }

    func run() throws -> Outcome {
        let indexURL = root.appendingPathComponent("index.json")
        guard let index = try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any] else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: indexURL.path])
        }
        var outcome = Outcome()
        var documentsByFile: [String: [YAMLNode]] = [:]
        func documents(_ file: String) throws -> [YAMLNode] {
            if let cached = documentsByFile[file] { return cached }
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            let parsed = try YAMLParser.parse(text, file: file).map(\.root).filter { !$0.isNull }
            documentsByFile[file] = parsed
            return parsed
        }

        for item in index["crds"] as? [[String: Any]] ?? [] {
            let file = item["file"] as? String ?? "", number = item["doc"] as? Int ?? 0
            let id = "crds/\(file)#\(number)"
            do {
                let all = try documents(file)
                guard number < all.count else { outcome.failures[id] = "document \(number) not found"; continue }
                var document = all[number]
                document["_err"] = nil
                let verdict = Verdict(ResourceValidator.validate(document))
                switch item["expect"] as? String {
                case "valid":
                    if let failure = verdict.failureAsValid { outcome.failures[id] = failure }
                case "invalid":
                    if let failure = verdict.failureAsInvalid(expected: item["expectedErrorSubstring"] as? String) {
                        outcome.failures[id] = failure.reason
                        if failure.isWrongReason { outcome.wrongReason.insert(id) }
                    }
                case let other:
                    // A verdict the index does not state is a corpus problem, never a silent "invalid".
                    outcome.failures[id] = "the index expects \(other.map { "\"\($0)\"" } ?? "nothing"), not valid or invalid"
                }
            } catch {
                outcome.failures[id] = "cannot read: \(error)"
            }
        }
        for item in index["datasets"] as? [[String: Any]] ?? [] {
            let file = item["file"] as? String ?? ""
            let id = "datasets/\(file)"
            do {
                let all = try documents(file)
                if all.isEmpty { outcome.failures[id] = "no resource found in the file" }
                for document in all {
                    if let failure = Verdict(ResourceValidator.validate(document)).failureAsValid { outcome.failures[id] = failure }
                    // Istio's integration test also checks that the same resource is refused once the annotation
                    // that makes its webhook reject everything is added.
                    let rejected = Verdict(ResourceValidator.validate(Self.withAlwaysReject(document)))
                    let annotation: [YAMLPathComponent] = [.key("metadata"), .key("annotations"), .key(Self.alwaysReject)]
                    if outcome.failures[id] == nil && !rejected.errors.contains(where: { $0.path == annotation }) {
                        outcome.failures[id] = "not refused for the \(Self.alwaysReject) annotation: "
                            + (rejected.failureAsValid ?? "accepted")
                    }
                }
            } catch {
                outcome.failures[id] = "cannot read: \(error)"
            }
        }
        let istioctl = index["istioctlValidate"] as? [String: Any] ?? [:]
        for item in (istioctl["resourceCases"] as? [String: Any])?["cases"] as? [[String: Any]] ?? [] {
            let id = "resource/\(item["name"] ?? "?")"
            let file = item["file"] as? String ?? ""
            do {
                let verdicts = try documents(file).map { Verdict(ResourceValidator.validate($0)) }
                let expectValid = item["expectValid"] as? Bool ?? true, expectWarning = item["expectWarning"] as? Bool ?? false
                if verdicts.isEmpty { outcome.failures[id] = "no resource found in the file"; continue }
                if let unchecked = verdicts.compactMap(\.skipReason).first {
                    outcome.failures[id] = "not checked: \(unchecked)"
                    continue
                }
                let valid = verdicts.allSatisfy(\.errors.isEmpty), warned = verdicts.contains { !$0.warnings.isEmpty }
                if valid != expectValid || warned != expectWarning {
                    let said = verdicts.flatMap { $0.errors + $0.warnings }.map(Verdict.describe).joined(separator: "; ")
                    outcome.failures[id] = "verdict valid=\(valid) warning=\(warned), Istio: valid=\(expectValid) warning=\(expectWarning)"
                        + (said.isEmpty ? "" : ": \(said)")
                }
            } catch {
                // istioctl reads every resource case; one meshctl cannot read is a failure whatever Istio expects.
                outcome.failures[id] = "cannot read: \(error)"
            }
        }
        return outcome
    }

    static let alwaysReject = "internal.istio.io/webhook-always-reject"

    /// The document with the annotation that makes Istio's webhook refuse any resource.
    static func withAlwaysReject(_ document: YAMLNode) -> YAMLNode {
        var document = document
        var metadata = document["metadata"] ?? .mapping([(String, YAMLNode)]())
        var annotations = metadata["annotations"] ?? .mapping([(String, YAMLNode)]())
        annotations[alwaysReject] = .string("true")
        metadata["annotations"] = annotations
        document["metadata"] = metadata
        return document
    }
}

/// meshctl's verdict on one document, and how it compares with what Istio expects.
private struct Verdict {
    var skipReason: String?
    var errors: [ValidationProblem] = []
    var warnings: [ValidationProblem] = []

    init(_ outcome: ValidationOutcome) {
        switch outcome {
        case .skipped(let resource, let reason): skipReason = "\(resource): \(reason)"
        case .checked(_, let problems):
            errors = problems.filter { $0.severity == .error }
            warnings = problems.filter { $0.severity == .warning }
        }
    }

    static func describe(_ problem: ValidationProblem) -> String { "\(problem.path.fieldPath): \(problem.message)" }

    /// Why a resource Istio accepts fails, or nil when meshctl accepts it too.
    var failureAsValid: String? {
        if let skipReason { return "not checked: \(skipReason)" }
        return errors.isEmpty ? nil : "rejected a valid resource: " + errors.map(Self.describe).joined(separator: "; ")
    }

    /// Why a resource Istio refuses fails, or nil when meshctl refuses it for Istio's reason.
    func failureAsInvalid(expected: String?) -> (reason: String, isWrongReason: Bool)? {
        if let skipReason { return ("not checked: \(skipReason)", false) }
        let istio = expected ?? "?"
        if errors.isEmpty { return ("accepted an invalid resource (Istio: \(istio))", false) }
        guard let expected else { return nil }
        let reason = ExpectedValidationError(expected)
        if errors.contains(where: reason.isMatched) { return nil }
        return ("right verdict, wrong reason: Istio \"\(istio)\", meshctl " + errors.map(Self.describe).joined(separator: "; "), true)
    }
}
