/// Routes of a VirtualService that can never be taken (IST0130) and matches that can never apply (IST0131),
/// as Istio's schema analyzer reports them: a rule after another rule without matches, a rule whose every
/// match an earlier rule already has, and a match an earlier one already has or covers (an earlier URI
/// prefix of it, with no more conditions).
enum RouteReachability {
    static func messages(_ service: AnalyzedResource) -> [AnalysisMessage] {
        var messages: [AnalysisMessage] = []
        for section in ["http", "tcp", "tls"] {
            let routes = service.spec?[section]?.items ?? []
            var seen: [String: Int] = [:]
            var earlier: [(rule: Int, match: YAMLNode)] = []
            var catchAll: Int?
            for (ruleIndex, route) in routes.enumerated() {
                let rule = AnalysisMessage.RouteRule(section: section, index: ruleIndex, name: route["name"]?.scalarText)
                let matches = route["match"]?.items ?? []
                if matches.isEmpty {
                    if let first = catchAll {
                        messages.append(.virtualServiceUnreachableRule(service, rule: rule, .afterCatchAll(first), at: route))
                    }
                    catchAll = catchAll ?? ruleIndex
                    continue
                }
                var duplicates = 0
                for (matchIndex, match) in matches.enumerated() {
                    let key = canonical(match, skipping: "name")
                    if let first = seen[key] {
                        duplicates += 1
                        messages.append(.virtualServiceIneffectiveMatch(service, rule: rule, match: matchIndex, earlierRule: first, at: match))
                    } else if section == "http", let cover = earlier.first(where: { covers($0.match, match) }) {
                        messages.append(.virtualServiceIneffectiveMatch(service, rule: rule, match: matchIndex, earlierRule: cover.rule, at: match))
                    }
                    if seen[key] == nil { seen[key] = ruleIndex }
                    earlier.append((ruleIndex, match))
                }
                if duplicates == matches.count {
                    messages.append(.virtualServiceUnreachableRule(service, rule: rule, .matchesTakenEarlier, at: route))
                }
            }
        }
        return messages
    }

    /// Whether `wider` takes every request `narrower` would: its URI prefix starts `narrower`'s, and its
    /// other conditions are among `narrower`'s.
    static func covers(_ wider: YAMLNode, _ narrower: YAMLNode) -> Bool {
        guard let widerPrefix = wider["uri"]?["prefix"]?.scalarText, let narrowerPrefix = narrower["uri"]?["prefix"]?.scalarText,
              narrowerPrefix.hasPrefix(widerPrefix) else { return false }
        let others = (narrower.pairs ?? []).filter { $0.key.scalarText != "uri" && $0.key.scalarText != "name" }
        return (wider.pairs ?? []).allSatisfy { pair in
            guard let key = pair.key.scalarText, key != "uri", key != "name" else { return true }
            return others.contains { $0.key.scalarText == key && canonical($0.value) == canonical(pair.value) }
        }
    }

    /// A text that is equal for equal values, whatever their key order or scalar style.
    static func canonical(_ node: YAMLNode, skipping skipped: String? = nil) -> String {
        switch node.content {
        case .scalar(let scalar):
            return scalar.text.debugDescription
        case .sequence(let items):
            return "[" + items.map { canonical($0) }.joined(separator: ",") + "]"
        case .mapping(let pairs):
            let fields = pairs.compactMap { pair -> String? in
                guard let key = pair.key.scalarText, key != skipped else { return nil }
                return key.debugDescription + ":" + canonical(pair.value)
            }
            return "{" + fields.sorted().joined(separator: ",") + "}"
        }
    }
}
