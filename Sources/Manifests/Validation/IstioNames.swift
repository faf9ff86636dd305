/// Names as Istio's webhook reads them: DNS labels, host names with a leading wildcard, label maps,
/// subset and port names. Each check returns the problem in words, or nil when the name is fine.
enum IstioNames {
    /// A DNS-1123 label as Istio allows it (letters of either case, digits, inner '-'; at most 63 characters).
    static func isDNSLabel(_ text: some StringProtocol) -> Bool {
        guard !text.isEmpty, text.count <= 63, text.first != "-", text.last != "-" else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }

    /// The first label of a wildcard host: `*`, `*foo`, `*-foo` or a plain label.
    private static func isWildcardLabel(_ label: Substring) -> Bool {
        if label == "*" { return true }
        var rest = label
        if rest.hasPrefix("*-") { rest = rest.dropFirst(2) } else if rest.hasPrefix("*") { rest = rest.dropFirst() }
        return label.count <= 63 && isDNSLabel(rest)
    }

    private static func lengthProblem(_ name: String) -> String? {
        if name.isEmpty { return "empty domain name not allowed" }
        if name.utf8.count > 255 { return "domain name \"\(name)\" is too long (at most 255 characters)" }
        return nil
    }

    /// Every label after the first: DNS labels, a last one that is not all digits; one trailing dot is allowed.
    private static func labelsProblem(_ domain: String, whole: String) -> String? {
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        if let last = labels.last, !last.isEmpty, last.allSatisfy(\.isNumber) {
            return "domain name \"\(whole)\" is invalid: the top-level label \"\(last)\" cannot be all digits"
        }
        for (index, label) in labels.enumerated() where !(index == labels.count - 1 && label.isEmpty) && !isDNSLabel(label) {
            return "domain name \"\(whole)\" is invalid: label \"\(label)\" is not a DNS label (letters, digits and inner '-', at most 63)"
        }
        return nil
    }

    /// A fully qualified name without wildcards, e.g. `api.example.com` (short names like `reviews` pass too).
    static func fqdnProblem(_ name: String) -> String? {
        lengthProblem(name) ?? labelsProblem(name, whole: name)
    }

    /// A host that may start with a wildcard label: `*.example.com`, `*`, `reviews.shop.svc.cluster.local`.
    static func wildcardDomainProblem(_ name: String) -> String? {
        if let problem = lengthProblem(name) { return problem }
        let parts = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard isWildcardLabel(parts[0]) else {
            return "domain name \"\(name)\" is invalid: label \"\(parts[0])\" is not a DNS label (a wildcard may only lead it, as in *.example.com)"
        }
        return parts.count > 1 ? labelsProblem(String(parts[1]), whole: name) : nil
    }

    /// A `*` anywhere but as a whole leading label (`*.example.com` and `*` are fine; `*foo.com` is not).
    static func partialWildcardProblem(_ host: String) -> String? {
        guard host.contains("*"), host != "*", !host.hasPrefix("*.") else { return nil }
        return "partial wildcard \"\(host)\" is not allowed: use * or a leading *. label"
    }

    /// Whether `host` (maybe `*.x` or `*`) covers all of `other`'s names, as Istio's host matching reads it.
    static func hostCovers(_ host: String, _ other: String) -> Bool {
        if host == "*" { return true }
        if host.hasPrefix("*") {
            let suffix = host.dropFirst()
            if other.hasPrefix("*") { return other.dropFirst().hasSuffix(suffix) }
            return other.hasSuffix(suffix)
        }
        return host == other
    }

    /// Whether two hosts share any name (one covers the other).
    static func hostsOverlap(_ first: String, _ second: String) -> Bool {
        hostCovers(first, second) || hostCovers(second, first)
    }

    /// A label map's keys (`[prefix/]name`) and values (empty, or `[A-Za-z0-9][-A-Za-z0-9_.]*` ending alphanumerically).
    static func labelMapProblems(_ map: YAMLNode?, _ path: [YAMLPathComponent]) -> [ValidationProblem] {
        (map?.pairs ?? []).flatMap { pair -> [ValidationProblem] in
            let key = pair.key.scalarText ?? ""
            var problems: [ValidationProblem] = []
            if let problem = labelKeyProblem(key) { problems.append(CommonSchemas.problem(pair.key, path + [.key(key)], problem)) }
            let value = pair.value.scalarText ?? ""
            if !value.isEmpty && !isQualifiedName(value) {
                problems.append(CommonSchemas.problem(pair.value, path + [.key(key)],
                                                      "invalid label value \"\(value)\": letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63"))
            }
            return problems
        }
    }

    private static func isQualifiedName(_ text: Substring) -> Bool {
        guard let first = text.first, let last = text.last, text.count <= 63 else { return false }
        let alnum: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber) }
        return alnum(first) && alnum(last) && text.allSatisfy { alnum($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    private static func isQualifiedName(_ text: String) -> Bool { isQualifiedName(Substring(text)) }

    private static func labelKeyProblem(_ key: String) -> String? {
        var name = Substring(key)
        if let slash = key.lastIndex(of: "/") {
            let prefix = key[..<slash]
            name = key[key.index(after: slash)...]
            let prefixOK = prefix.count <= 253 && prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isDNSLabel)
            if !prefixOK { return "invalid label key \"\(key)\": the prefix before '/' must be a DNS name" }
        }
        return isQualifiedName(name) ? nil
            : "invalid label key \"\(key)\": letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 63"
    }
}
