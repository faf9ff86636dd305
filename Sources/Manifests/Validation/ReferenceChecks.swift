/// Checks across the resources of one validation run (`validate -x`): what a VirtualService names
/// must be defined in the same input.
public enum ReferenceChecks {
    /// A resource and the file it came from.
    public struct Item {
        public var file: String
        public var node: YAMLNode
        public init(file: String, node: YAMLNode) {
            self.file = file
            self.node = node
        }
    }

    /// Warnings for each item, by its index in `items`.
    public static func warnings(_ items: [Item]) -> [Int: [ValidationProblem]] {
        func namespace(_ node: YAMLNode) -> String { node["metadata"]?["namespace"]?.scalarText ?? "default" }
        func shortHost(_ host: String) -> String { String(host.split(separator: ".").first ?? "") }
        let gateways = Set(items.filter { $0.node["kind"]?.scalarText == "Gateway" }.map {
            namespace($0.node) + "/" + ($0.node["metadata"]?["name"]?.scalarText ?? "")
        })
        var subsets: [String: Set<String>] = [:]
        for item in items where item.node["kind"]?.scalarText == "DestinationRule" {
            let host = shortHost(item.node["spec"]?["host"]?.scalarText ?? "")
            for subset in item.node["spec"]?["subsets"]?.items ?? [] {
                subsets[host, default: []].insert(subset["name"]?.scalarText ?? "")
            }
        }
        var result: [Int: [ValidationProblem]] = [:]
        for (index, item) in items.enumerated() where item.node["kind"]?.scalarText == "VirtualService" {
            let spec = item.node["spec"]
            var problems: [ValidationProblem] = []
            for (position, gateway) in (spec?["gateways"]?.items ?? []).enumerated() {
                guard let name = gateway.scalarText, name != "mesh" else { continue }
                let qualified = name.contains("/") ? name : namespace(item.node) + "/" + name
                if !gateways.contains(qualified) {
                    problems.append(ValidationProblem(.warning, path: [.key("spec"), .key("gateways"), .index(position)], location: gateway.location,
                                                      message: "gateway \"\(qualified)\" is not defined in the files validated"))
                }
            }
            for (routeIndex, route) in (spec?["http"]?.items ?? []).enumerated() {
                for (destinationIndex, target) in (route["route"]?.items ?? []).enumerated() {
                    guard let subset = target["destination"]?["subset"]?.scalarText,
                          let host = target["destination"]?["host"]?.scalarText else { continue }
                    if !(subsets[shortHost(host)]?.contains(subset) ?? false) {
                        problems.append(ValidationProblem(.warning,
                            path: [.key("spec"), .key("http"), .index(routeIndex), .key("route"), .index(destinationIndex), .key("destination"), .key("subset")],
                            location: target["destination"]?["subset"]?.location ?? target.location,
                            message: "subset \"\(subset)\" of host \"\(host)\" is not defined by a DestinationRule in the files validated"))
                    }
                }
            }
            if !problems.isEmpty { result[index] = problems }
        }
        return result
    }
}

/// Mapping keys given twice, which Kubernetes rejects ("key already set") though YAML readers keep one.
public enum DuplicateKeys {
    public static func find(_ node: YAMLNode, path: [YAMLPathComponent] = []) -> [ValidationProblem] {
        switch node.content {
        case .mapping(let pairs):
            var problems: [ValidationProblem] = []
            var seen: [String: SourceLocation] = [:]
            for pair in pairs {
                let key = pair.key.scalarText ?? ""
                if let first = seen[key] {
                    problems.append(ValidationProblem(.error, path: path + [.key(key)], location: pair.key.location,
                        message: "key \"\(key)\" already set in map (first at line \(first.line)); remove one of them"))
                } else {
                    seen[key] = pair.key.location
                }
                problems += find(pair.value, path: path + [.key(key)])
            }
            return problems
        case .sequence(let items):
            return items.enumerated().flatMap { find($0.element, path: path + [.index($0.offset)]) }
        case .scalar:
            return []
        }
    }
}
