import Manifests

/// Where a kind lives in the API: learned from the server's discovery documents (Istio's CRDs included), once
/// per client.
public struct ResourceLocation: Sendable, Equatable {
    public var group: String
    public var version: String
    public var plural: String
    public var kind: String
    public var namespaced: Bool

    /// `/api/v1` or `/apis/GROUP/VERSION`.
    public var prefix: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The collection path, in `namespace` when the kind is namespaced.
    public func collection(namespace: String?) -> String {
        namespaced ? "\(prefix)/namespaces/\(namespace ?? "default")/\(plural)" : "\(prefix)/\(plural)"
    }

    /// `deployment.apps` or `namespace`, as kubectl names a kind in its messages.
    public var displayKind: String { group.isEmpty ? kind.lowercased() : "\(kind.lowercased()).\(group)" }
}

extension KubernetesClient {
    /// The location of `kind` in `apiVersion`, from aggregated discovery (`/api` and `/apis`).
    public func locate(apiVersion: String, kind: String) throws -> ResourceLocation? {
        let resources = try discovered()
        let parts = apiVersion.split(separator: "/").map(String.init)
        let (group, version) = parts.count == 2 ? (parts[0], parts[1]) : ("", parts.first ?? "")
        return resources.first { $0.group == group && $0.version == version && $0.kind == kind }
    }

    /// The resources the server serves, asked once per client: threads that ask at the same time wait for the one answer.
    func discovered() throws -> [ResourceLocation] {
        try discoveryCache.withLock { cached in
            if let cached { return cached }
            let locations = try discover()
            cached = locations
            return locations
        }
    }

    private func discover() throws -> [ResourceLocation] {
        var locations: [ResourceLocation] = []
        for path in ["/api", "/apis"] {
            let document = try send("GET", path, accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
            if document["kind"]?.string == "APIGroupDiscoveryList" {
                for group in document["items"]?.array ?? [] {
                    let name = group["metadata"]?["name"]?.string ?? ""
                    for version in group["versions"]?.array ?? [] {
                        for resource in version["resources"]?.array ?? [] {
                            guard let plural = resource["resource"]?.string, let kind = resource["responseKind"]?["kind"]?.string else { continue }
                            locations.append(ResourceLocation(group: name, version: version["version"]?.string ?? "", plural: plural, kind: kind,
                                                              namespaced: resource["scope"]?.string == "Namespaced"))
                        }
                    }
                }
            } else {
                // Older servers: one APIResourceList per group-version.
                let versions: [String] = path == "/api"
                    ? (document["versions"]?.array ?? []).compactMap { $0.string }
                    : (document["groups"]?.array ?? []).flatMap { ($0["versions"]?.array ?? []).compactMap { $0["groupVersion"]?.string } }
                for groupVersion in versions {
                    let list = try send("GET", path == "/api" ? "/api/\(groupVersion)" : "/apis/\(groupVersion)")
                    let parts = groupVersion.split(separator: "/").map(String.init)
                    for resource in list["resources"]?.array ?? [] {
                        guard let plural = resource["name"]?.string, !plural.contains("/"), let kind = resource["kind"]?.string else { continue }
                        locations.append(ResourceLocation(group: parts.count == 2 ? parts[0] : "", version: parts.last ?? "", plural: plural, kind: kind,
                                                          namespaced: resource["namespaced"]?.bool ?? true))
                    }
                }
            }
        }
        return locations
    }
}
