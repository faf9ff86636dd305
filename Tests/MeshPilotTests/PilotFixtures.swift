import ConfigValues
import Foundation
import MeshPilot
import XCTest

/// Snapshots built from YAML fixtures under Fixtures/, and lookups in the pilot's output.
enum PilotFixtures {
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let packageRoot = testsFolder.deletingLastPathComponent().deletingLastPathComponent()

    /// The store's key for each kind the fixtures use.
    static let storageKeys = [
        "Node": "nodes", "Pod": "pods", "Service": "services", "Endpoints": "endpoints", "Secret": "secrets",
        "EndpointSlice": "endpointslices.discovery.k8s.io",
        "VirtualService": "virtualservices.networking.istio.io", "DestinationRule": "destinationrules.networking.istio.io",
        "ServiceEntry": "serviceentries.networking.istio.io", "Sidecar": "sidecars.networking.istio.io",
        "Gateway": "gateways.networking.istio.io", "PeerAuthentication": "peerauthentications.security.istio.io",
        "Telemetry": "telemetries.telemetry.istio.io", "AuthorizationPolicy": "authorizationpolicies.security.istio.io", "RequestAuthentication": "requestauthentications.security.istio.io",
        "EnvoyFilter": "envoyfilters.networking.istio.io", "WorkloadEntry": "workloadentries.networking.istio.io",
    ]

    /// A snapshot of the objects in YAML text (several documents), plus `extra` YAML appended.
    static func snapshot(yaml text: String, meshConfig: JSONValue = .object([])) throws -> MeshSnapshot {
        var objects: [String: [JSONValue]] = [:]
        for document in try YAMLParser.parse(text) {
            let object = JSONValue(yaml: document.root)
            guard let kind = object["kind"]?.string else { continue }
            guard let key = storageKeys[kind] else { throw FixtureError(description: "no storage key for kind \(kind)") }
            objects[key, default: []].append(object)
        }
        return MeshSnapshot(objects: objects, meshConfig: meshConfig)
    }

    static func snapshot(fixture name: String, adding extra: String = "", meshConfig: JSONValue = .object([])) throws -> MeshSnapshot {
        let text = try String(contentsOf: testsFolder.appendingPathComponent("Fixtures/\(name)"), encoding: .utf8)
        return try snapshot(yaml: extra.isEmpty ? text : text + "\n---\n" + extra, meshConfig: meshConfig)
    }

    static let productpage = ProxyNode(kind: .sidecar, ip: "127.10.0.2", podName: "productpage-v1-6b746f74dc-9stvs", namespace: "default")
    static let reviewsV1 = ProxyNode(kind: .sidecar, ip: "127.10.0.3", podName: "reviews-v1-5b9f4c7d8-x7k2p", namespace: "default")
}

struct FixtureError: Error, CustomStringConvertible { let description: String }

extension Array where Element == JSONValue {
    /// The resource named `name` (`name` field, or `cluster_name` for load assignments).
    func named(_ name: String) -> JSONValue? { first { ($0["name"] ?? $0["cluster_name"])?.string == name } }
    var names: [String] { compactMap { ($0["name"] ?? $0["cluster_name"])?.string } }
}

extension JSONValue {
    /// The value at a path of keys and list indexes: `["filter_chains", 0, "filters"]`.
    subscript(path components: Any...) -> JSONValue? {
        var node: JSONValue? = self
        for component in components {
            if let key = component as? String { node = node?[key] }
            else if let index = component as? Int { node = node?.array.flatMap { index < $0.count ? $0[index] : nil } }
        }
        return node
    }
}
