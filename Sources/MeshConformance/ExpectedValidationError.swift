import Manifests

/// The error Istio's corpus expects for an invalid resource (`expectedErrorSubstring`, the text of a
/// Kubernetes OpenAPI or CEL error), and whether one of meshctl's problems refuses it for that reason.
///
/// Istio's text and meshctl's differ in their words around the rule, so the comparison is by meaning:
/// - The field. When the text starts with a field path (`spec.targetRef.name: Required value`,
///   `audiences[0] in body should be ...`), meshctl's problem must be at that field, or inside it (a CEL
///   rule is reported at its object, meshctl may name the member that breaks it). A path without `spec.`
///   is a suffix of the full path, cut at a `.` or `[`.
/// - The rule. Every word of the rest of the text (letters and digits, case ignored) must be in meshctl's
///   message, so `in body should be at least 1 chars long` only matches a minimum length problem and
///   `only one of targetRefs or selector can be set` only that rule; the last word may be cut short, as
///   the text is a substring. Kubernetes' echo of a CEL rule's
///   value type (`Invalid value: "object": `) is dropped first. A bare `Invalid value`, which Kubernetes
///   puts before every range or pattern error, says no more than the field, so it needs the field alone.
struct ExpectedValidationError: Equatable {
    /// The field path Istio names, or nil when the text has none.
    let field: String?
    /// The words that name the rule; empty when any problem at `field` is the reason.
    let words: [String]

    init(_ text: String) {
        var rest = Substring(text)
        var field: String?
        if let end = rest.firstIndex(where: { !($0.isLetter || $0.isNumber || "_.[]".contains($0)) }),
           end != rest.startIndex, rest[end...].hasPrefix(": ") || rest[end...].hasPrefix(" in body") {
            let path = String(rest[..<end])
            // A single word is a field only where the text goes on with Kubernetes' wording.
            if path.contains(".") || path.contains("[") || rest[end...].hasPrefix(" in body") || path == "spec" {
                field = path
                rest = rest[end...].drop { $0 == ":" || $0 == " " }
            }
        }
        var words = Self.words(in: String(rest))
        // `Invalid value: "object": rule message` → the rule message.
        if words.starts(with: ["invalid", "value"]), let quote = rest.range(of: #"^Invalid value: "[a-z]+": "#, options: .regularExpression) {
            words = Self.words(in: String(rest[quote.upperBound...]))
        }
        if words == ["invalid", "value"] && field != nil { words = [] }
        self.field = field
        self.words = words
    }

    /// Lower-cased runs of letters and digits.
    static func words(in text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// Whether `problem` is at the field this error names and says the same rule.
    func isMatched(by problem: ValidationProblem) -> Bool {
        if let field, !Self.path(problem.path.fieldPath, isAtOrInside: field) { return false }
        let said = Self.words(in: problem.message)
        // Istio's text is a substring, so its last word may be cut short (`chars lon`).
        return words.enumerated().allSatisfy { index, word in
            index == words.count - 1 ? said.contains { $0.hasPrefix(word) } : said.contains(word)
        }
    }

    /// `spec.jwtRules[0].audiences[0]` is at `audiences[0]`; `spec.a.b[1]` is inside `spec.a`.
    static func path(_ path: String, isAtOrInside field: String) -> Bool {
        var candidates = [path]
        // Every ancestor of `path`, so a problem inside the field counts.
        var current = Substring(path)
        while let cut = current.lastIndex(where: { $0 == "." || $0 == "[" }) {
            current = current[..<cut]
            candidates.append(String(current))
        }
        return candidates.contains { candidate in
            candidate == field || (!field.hasPrefix("spec") && candidate.hasSuffix("." + field))
        }
    }
}
