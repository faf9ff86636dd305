import ConfigValues

/// Applies EnvoyFilter `configPatches` to a proxy's generated configuration as istiod does: the EnvoyFilters of the
/// root namespace and of the proxy's namespace whose `workloadSelector` matches, ordered by priority (then root
/// namespace first, creation time, name); each patch in its context (SIDECAR_INBOUND, SIDECAR_OUTBOUND, GATEWAY or
/// ANY) on listeners, filter chains, network and HTTP filters, route configurations, virtual hosts, routes and
/// clusters. EnvoyFilters with `targetRefs` (gateways and waypoints) apply to no sidecar; `match.proxy` conditions
/// (`proxyVersion`, `metadata`) are taken to hold, since local mode's proxies report no Istio version.
public enum EnvoyFilterPatches {
    public static let storageKey = "envoyfilters.networking.istio.io"

    public static func apply(_ snapshot: MeshSnapshot, to resources: inout ProxyResources, proxyLabels: [String: String], namespace: String, kind: ProxyNode.Kind) {
        let patches = selectedPatches(snapshot, proxyLabels: proxyLabels, namespace: namespace)
        guard !patches.isEmpty else { return }
        var applier = PatchApplier(patches: patches, kind: kind)
        resources.listeners = applier.listeners(resources.listeners)
        resources.routes = resources.routes.map { applier.routeConfiguration($0) }
        resources.clusters = applier.clusters(resources.clusters)
    }

    /// What local mode leaves out of the EnvoyFilters that select the proxy, one line each: patches to kinds the
    /// pilot does not generate (`EXTENSION_CONFIG`, `BOOTSTRAP`) and filters with `targetRefs`.
    public static func notes(_ snapshot: MeshSnapshot, proxyLabels: [String: String], namespace: String) -> [String] {
        let root = snapshot.meshConfig["rootNamespace"]?.string ?? "istio-system"
        return snapshot.items(storageKey).flatMap { filter -> [String] in
            let filterNamespace = filter["metadata"]?["namespace"]?.string ?? "default"
            guard filterNamespace == root || filterNamespace == namespace else { return [] }
            let name = "EnvoyFilter \(filterNamespace)/\(filter["metadata"]?["name"]?.string ?? "")"
            let spec = filter["spec"] ?? .object([])
            if !(spec["targetRefs"]?.array ?? []).isEmpty { return ["\(name): targetRefs select gateways and waypoints; local mode applies it to no sidecar"] }
            guard (spec["workloadSelector"]?["labels"]?.stringMap ?? [:]).allSatisfy({ proxyLabels[$0.key] == $0.value }) else { return [] }
            return (spec["configPatches"]?.array ?? []).enumerated().compactMap { index, patch in
                let applyTo = patch["applyTo"]?.string ?? ""
                guard ["EXTENSION_CONFIG", "BOOTSTRAP"].contains(applyTo) else { return nil }
                return "\(name): configPatches[\(index)] applies to \(applyTo), which local mode does not generate; it has no effect"
            }
        }
    }

    /// The patches that apply to a proxy, in the order istiod applies them.
    static func selectedPatches(_ snapshot: MeshSnapshot, proxyLabels: [String: String], namespace: String) -> [EnvoyFilterPatch] {
        let root = snapshot.meshConfig["rootNamespace"]?.string ?? "istio-system"
        let filters = snapshot.items(storageKey).filter { filter in
            let filterNamespace = filter["metadata"]?["namespace"]?.string ?? "default"
            guard filterNamespace == root || filterNamespace == namespace else { return false }
            let spec = filter["spec"] ?? .object([])
            if !(spec["targetRefs"]?.array ?? []).isEmpty { return false }
            let selector = spec["workloadSelector"]?["labels"]?.stringMap ?? [:]
            return selector.allSatisfy { proxyLabels[$0.key] == $0.value }
        }
        func key(_ filter: JSONValue) -> (Int, Int, String, String) {
            let ns = filter["metadata"]?["namespace"]?.string ?? "default"
            return (filter["spec"]?["priority"]?.int ?? 0, ns == root ? 0 : 1, filter["metadata"]?["creationTimestamp"]?.string ?? "",
                    (filter["metadata"]?["name"]?.string ?? "") + "." + ns)
        }
        return filters.sorted { key($0) < key($1) }.flatMap { filter in
            (filter["spec"]?["configPatches"]?.array ?? []).compactMap(EnvoyFilterPatch.init)
        }
    }
}

/// One `configPatches` entry, its value in Envoy's snake_case names.
struct EnvoyFilterPatch {
    enum Context: String { case any = "ANY", sidecarInbound = "SIDECAR_INBOUND", sidecarOutbound = "SIDECAR_OUTBOUND", gateway = "GATEWAY" }

    var applyTo: String
    var operation: String
    var context: Context
    var match: JSONValue
    var value: JSONValue

    init?(_ entry: JSONValue) {
        guard let applyTo = entry["applyTo"]?.string, let patch = entry["patch"], let operation = patch["operation"]?.string else { return nil }
        self.applyTo = applyTo
        let insertable: Set<String> = ["HTTP_FILTER", "NETWORK_FILTER", "HTTP_ROUTE", "LISTENER_FILTER"]
        self.operation = operation.hasPrefix("INSERT_") && !insertable.contains(applyTo) ? "ADD" : operation
        match = entry["match"] ?? .object([])
        context = Context(rawValue: match["context"]?.string ?? "ANY") ?? .any
        value = ProtoJSONMerge.snakeCase(ProtoJSONMerge.unwrapTypedStructs(patch["value"] ?? .object([])))
    }

    var isMerge: Bool { operation == "MERGE" || operation == "MERGE_AND_REPLACE_LIST" }

    func matches(_ context: Context) -> Bool { self.context == .any || self.context == context }

    /// ADD with context ANY adds once: to outbound (sidecars) or gateway configuration, never inbound.
    func adds(in context: Context) -> Bool { matches(context) && !(self.context == .any && context == .sidecarInbound) }

    func merged(into target: JSONValue) -> JSONValue {
        ProtoJSONMerge.merge(target, value, replaceLists: operation == "MERGE_AND_REPLACE_LIST")
    }

    // MARK: Match fields

    var listenerMatch: JSONValue? { match["listener"] }
    var chainMatch: JSONValue? { listenerMatch?["filterChain"] }
    var filterMatch: JSONValue? { chainMatch?["filter"] }
    var subFilterName: String? { filterMatch?["subFilter"]?["name"]?.string }
    var routeMatch: JSONValue? { match["routeConfiguration"] }
    var virtualHostMatch: JSONValue? { routeMatch?["vhost"] }
    var httpRouteMatch: JSONValue? { virtualHostMatch?["route"] }
}

/// The walk over one proxy's resources, patch kind by patch kind.
struct PatchApplier {
    let patches: [EnvoyFilterPatch]
    let kind: ProxyNode.Kind

    init(patches: [EnvoyFilterPatch], kind: ProxyNode.Kind) {
        self.patches = patches
        self.kind = kind
    }

    private func patches(_ applyTo: String) -> [EnvoyFilterPatch] { patches.filter { $0.applyTo == applyTo } }
    private var contexts: [EnvoyFilterPatch.Context] { kind == .router ? [.gateway] : [.sidecarOutbound, .sidecarInbound] }
    private static let hcmName = "envoy.filters.network.http_connection_manager"

    // MARK: Listeners

    func listenerContext(_ listener: JSONValue) -> EnvoyFilterPatch.Context {
        if kind == .router { return .gateway }
        return listener["name"]?.string == "virtualInbound" || listener["traffic_direction"]?.string == "INBOUND" ? .sidecarInbound : .sidecarOutbound
    }

    static func isVirtual(_ listener: JSONValue) -> Bool { ["virtualInbound", "virtualOutbound"].contains(listener["name"]?.string ?? "") }

    func listenerMatches(_ listener: JSONValue, _ patch: EnvoyFilterPatch) -> Bool {
        guard let match = patch.listenerMatch else { return true }
        if let name = match["name"]?.string, !name.isEmpty, name != listener["name"]?.string { return false }
        if patch.applyTo != "LISTENER" && Self.isVirtual(listener) { return true }
        if let port = match["portNumber"]?.int, port != 0, listener["address"]?["socket_address"]?["port_value"]?.int != port { return false }
        return true
    }

    func chainMatches(_ listener: JSONValue, _ chain: JSONValue, _ patch: EnvoyFilterPatch) -> Bool {
        guard let match = patch.listenerMatch else { return true }
        let chainMatch = chain["filter_chain_match"]
        if Self.isVirtual(listener), let port = match["portNumber"]?.int, port > 0, chainMatch?["destination_port"]?.int != port { return false }
        guard let wanted = patch.chainMatch else { return true }
        if let name = wanted["name"]?.string, !name.isEmpty, name != chain["name"]?.string { return false }
        if let sni = wanted["sni"]?.string, !sni.isEmpty, !(chainMatch?["server_names"]?.array ?? []).contains(.string(sni)) { return false }
        if let transport = wanted["transportProtocol"]?.string, !transport.isEmpty, chainMatch?["transport_protocol"]?.string != transport { return false }
        if let protocols = wanted["applicationProtocols"]?.string, !protocols.isEmpty {
            let have = chainMatch?["application_protocols"]?.array ?? []
            if protocols.split(separator: ",").contains(where: { !have.contains(.string(String($0))) }) { return false }
        }
        if let port = wanted["destinationPort"]?.int, port > 0, chainMatch?["destination_port"]?.int != port { return false }
        return true
    }

    func filterMatches(_ filter: JSONValue, _ patch: EnvoyFilterPatch) -> Bool {
        guard let name = patch.filterMatch?["name"]?.string else { return true }
        return name == filter["name"]?.string
    }

    func listeners(_ listeners: [JSONValue]) -> [JSONValue] {
        var out: [JSONValue] = listeners.compactMap { listener in
            guard listener["name"]?.string?.isEmpty == false else { return listener }
            return patchListener(listener)
        }
        for context in contexts {
            for patch in patches("LISTENER") where patch.operation == "ADD" && patch.adds(in: context) { out.append(patch.value) }
        }
        return out
    }

    private func patchListener(_ original: JSONValue) -> JSONValue? {
        var listener = original
        let context = listenerContext(listener)
        for patch in patches("LISTENER") where patch.matches(context) && listenerMatches(listener, patch) {
            if patch.operation == "REMOVE" { return nil }
            if patch.isMerge { listener = patch.merged(into: listener) }
        }
        var listenerFilters = listener["listener_filters"]?.array ?? []
        for patch in patches("LISTENER_FILTER") where patch.matches(context) && listenerMatches(listener, patch) {
            let named = patch.listenerMatch?["listenerFilter"]?.string
            listenerFilters = Self.applyListOperation(patch, to: listenerFilters, matching: named.map { name in { $0["name"]?.string == name } })
        }
        if listener["listener_filters"] != nil || !listenerFilters.isEmpty { listener["listener_filters"] = .array(listenerFilters) }
        var chains: [JSONValue] = (listener["filter_chains"]?.array ?? []).compactMap { patchChain($0, listener: listener, context: context) }
        for patch in patches("FILTER_CHAIN") where patch.operation == "ADD" && patch.matches(context) && listenerMatches(listener, patch) {
            chains.append(patch.value)
        }
        listener["filter_chains"] = .array(chains)
        return listener
    }

    private func patchChain(_ original: JSONValue, listener: JSONValue, context: EnvoyFilterPatch.Context) -> JSONValue? {
        var chain = original
        for patch in patches("FILTER_CHAIN") where patch.matches(context) && listenerMatches(listener, patch) && chainMatches(listener, chain, patch) {
            if patch.operation == "REMOVE" { return nil }
            if patch.isMerge { chain = patch.merged(into: chain) }
        }
        var filters = chain["filters"]?.array ?? []
        for patch in patches("NETWORK_FILTER") where patch.matches(context) && listenerMatches(listener, patch) && chainMatches(listener, chain, patch) {
            let named = patch.filterMatch?["name"]?.string
            filters = Self.applyListOperation(patch, to: filters, matching: named.map { name in { $0["name"]?.string == name } })
        }
        filters = filters.map { filter in
            var filter = filter
            for patch in patches("NETWORK_FILTER") where patch.operation == "MERGE" && patch.matches(context) && listenerMatches(listener, patch)
                && chainMatches(listener, chain, patch) && filterMatches(filter, patch) {
                filter = Self.mergeFilter(filter, patch)
            }
            if filter["name"]?.string == Self.hcmName { filter = patchHTTPFilters(filter, listener: listener, chain: chain, context: context) }
            return filter
        }
        chain["filters"] = .array(filters)
        return chain
    }

    private func patchHTTPFilters(_ original: JSONValue, listener: JSONValue, chain: JSONValue, context: EnvoyFilterPatch.Context) -> JSONValue {
        var filter = original
        guard var manager = filter["typed_config"] else { return filter }
        var httpFilters = manager["http_filters"]?.array ?? []
        let relevant = patches("HTTP_FILTER").filter {
            $0.matches(context) && listenerMatches(listener, $0) && chainMatches(listener, chain, $0) && filterMatches(original, $0)
        }
        for patch in relevant {
            httpFilters = Self.applyListOperation(patch, to: httpFilters, matching: patch.subFilterName.map { name in { $0["name"]?.string == name } })
        }
        httpFilters = httpFilters.map { httpFilter in
            relevant.filter { $0.operation == "MERGE" && ($0.subFilterName == nil || $0.subFilterName == httpFilter["name"]?.string) }
                .reduce(httpFilter) { Self.mergeFilter($0, $1) }
        }
        manager["http_filters"] = .array(httpFilters)
        filter["typed_config"] = manager
        return filter
    }

    /// A filter's MERGE: its name may change; its typed_config merges with the patch's when both have the same `@type`
    /// (istiod keeps the filter's own config when they differ).
    static func mergeFilter(_ filter: JSONValue, _ patch: EnvoyFilterPatch) -> JSONValue {
        guard let config = filter["typed_config"] else { return filter }
        var merged = filter
        if let name = patch.value["name"]?.string, !name.isEmpty { merged["name"] = .string(name) }
        if let patchConfig = patch.value["typed_config"], patchConfig["@type"] == config["@type"] {
            merged["typed_config"] = ProtoJSONMerge.merge(config, patchConfig, replaceLists: patch.operation == "MERGE_AND_REPLACE_LIST")
        }
        return merged
    }

    /// ADD, INSERT_FIRST, INSERT_BEFORE, INSERT_AFTER, REPLACE and REMOVE on a list of filters or routes, as istiod does
    /// them: without a sub-match, INSERT_BEFORE puts the value first and INSERT_AFTER last, REPLACE and REMOVE do nothing.
    static func applyListOperation(_ patch: EnvoyFilterPatch, to items: [JSONValue], matching: ((JSONValue) -> Bool)?) -> [JSONValue] {
        switch patch.operation {
        case "ADD": return items + [patch.value]
        case "INSERT_FIRST": return [patch.value] + items
        case "INSERT_BEFORE":
            guard let matching else { return [patch.value] + items }
            guard let index = items.firstIndex(where: matching) else { return items }
            return Array(items[..<index]) + [patch.value] + Array(items[index...])
        case "INSERT_AFTER":
            guard let matching else { return items + [patch.value] }
            guard let index = items.firstIndex(where: matching) else { return items }
            return Array(items[...index]) + [patch.value] + Array(items[(index + 1)...])
        case "REPLACE":
            guard let matching, let index = items.firstIndex(where: matching) else { return items }
            var replaced = items
            replaced[index] = patch.value
            return replaced
        case "REMOVE":
            guard let matching else { return items }
            return items.filter { !matching($0) }
        default: return items
        }
    }

    // MARK: Routes

    func routeContext(_ configuration: JSONValue) -> EnvoyFilterPatch.Context {
        if kind == .router { return .gateway }
        return (configuration["name"]?.string ?? "").hasPrefix("inbound|") ? .sidecarInbound : .sidecarOutbound
    }

    func routeConfigurationMatches(_ configuration: JSONValue, _ patch: EnvoyFilterPatch) -> Bool {
        guard let match = patch.routeMatch else { return true }
        let name = configuration["name"]?.string ?? ""
        if let wanted = match["name"]?.string, !wanted.isEmpty, wanted != name { return false }
        if let port = match["portNumber"]?.int, port != 0 {
            let parts = name.split(separator: "|", omittingEmptySubsequences: false)
            // `inbound|9080||` and `9080` (sidecars); a gateway's `http.8080`.
            let routePort = name.hasPrefix("inbound|") && parts.count > 1 ? Int(parts[1]) : Int(name) ?? Int(name.split(separator: ".").last ?? "")
            if routePort != port { return false }
        }
        if kind == .router, let portName = match["portName"]?.string, !portName.isEmpty,
           name.split(separator: ".").dropFirst().first.map(String.init) != portName { return false }
        return true
    }

    func virtualHostMatches(_ host: JSONValue, _ patch: EnvoyFilterPatch) -> Bool {
        guard let match = patch.virtualHostMatch else { return true }
        if let name = match["name"]?.string, !name.isEmpty, name != host["name"]?.string { return false }
        if let domain = match["domainName"]?.string, !domain.isEmpty, !(host["domains"]?.array ?? []).contains(.string(domain)) { return false }
        return true
    }

    func routeMatches(_ route: JSONValue, _ patch: EnvoyFilterPatch) -> Bool {
        guard let match = patch.httpRouteMatch else { return true }
        if let name = match["name"]?.string, !name.isEmpty, name != route["name"]?.string { return false }
        switch match["action"]?.string ?? "ANY" {
        case "ROUTE": return route["route"] != nil
        case "REDIRECT": return route["redirect"] != nil
        case "DIRECT_RESPONSE": return route["direct_response"] != nil
        default: return true
        }
    }

    func routeConfiguration(_ original: JSONValue) -> JSONValue {
        var configuration = original
        let context = routeContext(configuration)
        for patch in patches("ROUTE_CONFIGURATION") where patch.isMerge && patch.matches(context) && routeConfigurationMatches(configuration, patch) {
            configuration = patch.merged(into: configuration)
        }
        let vhostPatches = patches("VIRTUAL_HOST").filter { $0.matches(context) && routeConfigurationMatches(configuration, $0) }
        let routePatches = patches("HTTP_ROUTE").filter { $0.matches(context) && routeConfigurationMatches(configuration, $0) }
        var hosts: [JSONValue] = (configuration["virtual_hosts"]?.array ?? []).compactMap { original in
            var host = original
            for patch in vhostPatches where virtualHostMatches(host, patch) {
                if patch.operation == "REMOVE" { return nil }
                if patch.isMerge { host = patch.merged(into: host) }
                if patch.operation == "REPLACE" { host = patch.value }
            }
            return patchRoutes(host, routePatches.filter { virtualHostMatches(host, $0) })
        }
        for patch in vhostPatches where patch.operation == "ADD" { hosts.append(patch.value) }
        configuration["virtual_hosts"] = .array(hosts)
        return configuration
    }

    private func patchRoutes(_ original: JSONValue, _ patches: [EnvoyFilterPatch]) -> JSONValue {
        var host = original
        var routes: [JSONValue] = (host["routes"]?.array ?? []).compactMap { original in
            var route = original
            for patch in patches where routeMatches(route, patch) {
                if patch.operation == "REMOVE" { return nil }
                if patch.isMerge { route = patch.merged(into: route) }
            }
            return route
        }
        for patch in patches {
            let matching: ((JSONValue) -> Bool)? = patch.httpRouteMatch == nil ? nil : { routeMatches($0, patch) }
            switch patch.operation {
            case "ADD", "INSERT_BEFORE", "INSERT_AFTER": routes = Self.applyListOperation(patch, to: routes, matching: matching)
            case "INSERT_FIRST":
                if matching == nil || routes.contains(where: matching!) { routes.insert(patch.value, at: 0) }
            default: break
            }
        }
        host["routes"] = .array(routes)
        return host
    }

    // MARK: Clusters

    func clusterContext(_ cluster: JSONValue) -> EnvoyFilterPatch.Context {
        if kind == .router { return .gateway }
        return (cluster["name"]?.string ?? "").hasPrefix("inbound|") ? .sidecarInbound : .sidecarOutbound
    }

    func clusterMatches(_ cluster: JSONValue, _ patch: EnvoyFilterPatch) -> Bool {
        guard let match = patch.match["cluster"] else { return true }
        let name = cluster["name"]?.string ?? ""
        if let wanted = match["name"]?.string, !wanted.isEmpty { return wanted == name }
        // `direction|port|subset|hostname`.
        let parts = name.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        let (port, subset, host) = parts.count == 4 ? (Int(parts[1]) ?? 0, parts[2], parts[3]) : (0, "", "")
        if let wanted = match["subset"]?.string, !wanted.isEmpty, wanted != subset { return false }
        if let wanted = match["service"]?.string, !wanted.isEmpty, wanted != host { return false }
        if let wanted = match["portNumber"]?.int, wanted != 0, wanted != port { return false }
        return true
    }

    func clusters(_ clusters: [JSONValue]) -> [JSONValue] {
        var out: [JSONValue] = clusters.compactMap { original in
            var cluster = original
            let context = clusterContext(cluster)
            for patch in patches("CLUSTER") where patch.matches(context) && clusterMatches(cluster, patch) {
                if patch.operation == "REMOVE" { return nil }
                if patch.isMerge { cluster = patch.merged(into: cluster) }
            }
            return cluster
        }
        for context in contexts {
            for patch in patches("CLUSTER") where patch.operation == "ADD" && patch.adds(in: context) { out.append(patch.value) }
        }
        return out
    }
}
