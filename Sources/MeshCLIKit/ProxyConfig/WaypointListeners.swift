import EnvoyConfig
import Manifests

/// `proxy-config listener --waypoint`: a waypoint's listeners as istioctl shows them, a row per filter chain and per
/// way a filter chain matcher selects it: LISTENER (`envoy://NAME`, or `internal` for an internal listener whose one
/// chain has that name), CHAIN, MATCH (the matcher path, `port=8000 -> ...`, `ANY`, `UNMATCHED` or `NONE`) and
/// DESTINATION.
enum WaypointListeners {
    static func render(_ listeners: [Listener]) -> String {
        let sorted = ProxyConfigTables.inListenerOrder(listeners, internalByName: true)
        var table = ColumnWriter(padding: 1)
        table.append(["LISTENER", "CHAIN", "MATCH", "DESTINATION"])
        for listener in sorted {
            let chains = listener.filterChains
            var name = "envoy://" + listener.name
            if listener.isInternal && chains.count == 1 && chains[0].name == name { name = "internal" }
            for chain in chains {
                let destination = ListenerDescriptions.destination(chain.filters)
                for match in matches(chain, in: listener) { table.append([name, chain.name, match, destination]) }
            }
        }
        return table.render()
    }

    /// How the listener selects the chain: its filter_chain_match without a matcher, else each matcher path to it.
    static func matches(_ chain: FilterChain, in listener: Listener) -> [String] {
        guard let matcher = listener.json.field("filter_chain_matcher") else { return [ListenerDescriptions.match(chain.match)] }
        let onNoMatch = matcher.field("on_no_match")
        if onNoMatch?.field("action")?.field("name")?.string == chain.name { return ["UNMATCHED"] }
        if let inner = onNoMatch?.field("matcher") { return paths(to: chain.name, in: inner) ?? ["NONE"] }
        return paths(to: chain.name, in: matcher) ?? ["NONE"]
    }

    /// The paths through a matcher tree that end in the action `name` (`input=key -> ...`); nil when none does.
    static func paths(to name: String, in matcher: JSONValue) -> [String]? {
        let onNoMatch = matcher.field("on_no_match")
        if onNoMatch?.field("action")?.field("name")?.string == name { return ["ANY"] }
        if let inner = onNoMatch?.field("matcher") { return paths(to: name, in: inner) ?? ["NONE"] }
        let tree = matcher.field("matcher_tree")
        let input = tree?.field("input")?.field("name")?.string ?? ""
        var branches: [(key: String, onMatch: JSONValue)] = []
        var equality = "="
        if let map = tree?.field("exact_match_map")?.field("map")?.object {
            branches = map.map { (key: $0.key, onMatch: $0.value) }
        } else if let map = tree?.field("prefix_match_map")?.field("map")?.object {
            branches = map.map { (key: $0.key, onMatch: $0.value) }
            equality = "^"
        } else if let custom = tree?.field("custom_match")?.field("typed_config") {
            // An IPMatcher: each CIDR (a single address without its /32 or /128) to what it selects.
            for rangeMatcher in (custom.field("range_matchers")?.array ?? []) {
                guard let onMatch = rangeMatcher.field("on_match") else { continue }
                for range in (rangeMatcher.field("ranges")?.array ?? []) {
                    let length = range.field("prefix_len")?.wrappedInteger ?? 0
                    branches.append(((range.field("address_prefix")?.string ?? "") + (length == 32 || length == 128 ? "" : "/\(length)"), onMatch))
                }
            }
        }
        var outputs: [String] = []
        for branch in branches.sorted(by: { $0.key < $1.key }) {
            if let action = branch.onMatch.field("action") {
                if action.field("name")?.string == name { outputs.append("\(input)\(equality)\(branch.key)") }
            } else if let inner = branch.onMatch.field("matcher"), let children = paths(to: name, in: inner) {
                outputs += children.map { "\(input)\(equality)\(branch.key) -> \($0)" }
            }
        }
        return outputs.isEmpty ? nil : outputs
    }
}
