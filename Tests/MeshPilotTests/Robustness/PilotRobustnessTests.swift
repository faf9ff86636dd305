import ConfigValues
import Foundation
import MeshNet
import MeshTLS
@testable import MeshPilot
@testable import MeshProxy
import XCTest

/// The pilot runs inside local mode's control plane on whatever users apply: every object of Istio's conformance
/// corpus (valid and invalid) and hand-made hostile ones must give each proxy a configuration, never a trap, and
/// that configuration must read back in meshctl's proxy (or be refused for a reason listed in `knownRefusals`).
final class PilotRobustnessTests: XCTestCase {
    /// Storage keys of the kinds the pilot reads (other kinds are kept too, under a made-up key, to prove they are ignored).
    static let storageKeys = PilotFixtures.storageKeys.merging([
        "AuthorizationPolicy": "authorizationpolicies.security.istio.io", "RequestAuthentication": "requestauthentications.security.istio.io",
        "EnvoyFilter": "envoyfilters.networking.istio.io", "WorkloadEntry": "workloadentries.networking.istio.io",
        "WorkloadGroup": "workloadgroups.networking.istio.io", "ProxyConfig": "proxyconfigs.networking.istio.io",
        "WasmPlugin": "wasmplugins.extensions.istio.io", "Namespace": "namespaces",
    ]) { first, _ in first }

    /// Refusals by meshctl's proxy that are features its reader does not have yet (README, Proxy), not pilot defects.
    static let knownRefusals = ["STRICT_DNS is not supported", "HTTP/2 upstreams are not supported yet", "a cookie ttl (generated cookies) is not supported"]

    private static let corpus = URL(fileURLWithPath: "/work/shared/conformance/istio")

    /// Each YAML file of the corpus, as the objects its documents hold (files that do not parse are counted).
    private func corpusObjects() -> (cases: [[JSONValue]], unreadable: Int) {
        var cases: [[JSONValue]] = [], unreadable = 0
        let root = PilotFixtures.packageRoot.appendingPathComponent("../shared/conformance/istio").standardizedFileURL
        let base = FileManager.default.fileExists(atPath: root.path) ? root : Self.corpus
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { return ([], 0) }
        for case let url as URL in walker where ["yaml", "yml"].contains(url.pathExtension) {
            guard let text = try? String(contentsOf: url, encoding: .utf8), let documents = try? YAMLParser.parse(text) else { unreadable += 1; continue }
            var objects: [JSONValue] = []
            for document in documents {
                let value = JSONValue(yaml: document.root)
                if value["kind"]?.string == "List" { objects += value["items"]?.array ?? [] } else if value["kind"] != nil { objects.append(value) }
            }
            if !objects.isEmpty { cases.append(objects) }
        }
        return (cases, unreadable)
    }

    /// A snapshot of `objects` plus one made-up sidecar pod per namespace they name.
    static func snapshot(_ objects: [JSONValue]) -> MeshSnapshot {
        var byKey: [String: [JSONValue]] = [:]
        var namespaces: Set<String> = ["default"]
        for object in objects {
            let kind = object["kind"]?.string ?? ""
            byKey[storageKeys[kind] ?? "other.\(kind)", default: []].append(object)
            if let namespace = object.value(atPath: "metadata.namespace")?.string { namespaces.insert(namespace) }
        }
        for (index, namespace) in namespaces.sorted().enumerated() {
            byKey["pods", default: []].append(madeUpPod(namespace: namespace, index: index))
        }
        return MeshSnapshot(objects: byKey)
    }

    static func madeUpPod(namespace: String, index: Int) -> JSONValue {
        .object([
            ("kind", .string("Pod")),
            ("metadata", .object([("name", .string("robust-\(index)")), ("namespace", .string(namespace)),
                                  ("labels", .object([("app", .string("robust"))]))])),
            ("spec", .object([("containers", .array([.object([("name", .string("app"))]), .object([("name", .string("istio-proxy"))])]))])),
            ("status", .object([("podIP", .string("127.10.\(200 + index / 250).\(1 + index % 250)"))])),
        ])
    }

    /// The nodes of every pod with a sidecar in the snapshot.
    static func sidecarNodes(_ snapshot: MeshSnapshot) -> [ProxyNode] {
        MeshModel(snapshot).workloads.filter(\.hasSidecar).map { ProxyNode(kind: .sidecar, ip: $0.ip.isEmpty ? "127.10.0.250" : $0.ip, podName: $0.name, namespace: $0.namespace) }
    }

    struct Tally { var snapshots = 0, proxies = 0, resources = 0, readBack = 0; var refusals: [String] = [] }

    /// Computes every sidecar's resources and reads each type back as meshctl's proxy takes an xDS response.
    static func check(_ snapshot: MeshSnapshot, into tally: inout Tally, label: String) {
        tally.snapshots += 1
        let pilot = Pilot(authority: nil)
        let model = MeshModel(snapshot)
        for node in sidecarNodes(snapshot) {
            let out = pilot.resources(for: node, in: model)
            tally.proxies += 1
            var discovered = DiscoveredResources()
            for type in DiscoveryType.allCases where type != .secrets {
                let computed = out.resources(ofType: type.typeURL)
                tally.resources += computed.count
                do {
                    // Through JSON text and back, as the discovery server sends it and the proxy reads it.
                    let sent = DiscoveryResponse(versionInfo: "1", resources: computed, typeURL: type.typeURL, nonce: "n")
                    try discovered.accept(try DiscoveryResponse.read(sent.json.serializedBytes), type: type, now: Date())
                    tally.readBack += 1
                } catch {
                    let reason = "\(label) \(node.id) \(type.shortName): \(error)"
                    if !knownRefusals.contains(where: { reason.contains($0) }) { tally.refusals.append(reason) }
                }
            }
        }
    }

    func testEveryCorpusObjectGivesEachSidecarAConfigurationThatReadsBack() throws {
        let (cases, unreadable) = corpusObjects()
        guard !cases.isEmpty else { throw XCTSkip("no conformance corpus at ../shared/conformance/istio") }
        var tally = Tally()
        for (index, objects) in cases.enumerated() { Self.check(Self.snapshot(objects), into: &tally, label: "case \(index)") }
        Self.check(Self.snapshot(cases.flatMap { $0 }), into: &tally, label: "everything")
        print("pilot robustness (corpus): \(cases.count) files with objects (\(unreadable) unreadable YAML files), \(cases.reduce(0) { $0 + $1.count }) objects, "
              + "\(tally.snapshots) snapshots, \(tally.proxies) proxies, \(tally.resources) resources, \(tally.readBack) type sets read back, \(tally.refusals.count) refused")
        XCTAssertEqual(tally.refusals, [], "meshctl's proxy refused the pilot's output")
    }

    /// Parses YAML documents into objects (the test's hostile inputs are written as YAML).
    private func objects(_ yaml: String) throws -> [JSONValue] { try YAMLParser.parse(yaml).map { JSONValue(yaml: $0.root) } }

    static let hostile = """
    kind: Service
    metadata: {name: svc, namespace: default}
    spec: {ports: [{port: 99999999999999999999}, {port: -1, name: x}, {port: 0}, {port: "http"}, {port: 80, name: http, targetPort: 99999}, {port: 81, name: http-ok}], selector: {app: robust}}
    ---
    kind: Service
    metadata: {name: "", namespace: default}
    ---
    kind: Service
    metadata: {name: svc, namespace: default}
    spec: {ports: "not a list", clusterIP: None}
    ---
    kind: Service
    metadata: {name: "ünïcødé-☃", namespace: default}
    spec: {ports: [{port: 80, targetPort: 70000}]}
    ---
    kind: VirtualService
    metadata: {name: weights, namespace: default}
    spec:
      hosts: [svc]
      http:
      - route: [{destination: {host: svc}, weight: 0}, {destination: {host: svc}, weight: 0}]
      - route: [{destination: {host: svc}, weight: 9223372036854775807}, {destination: {host: svc}, weight: 9223372036854775807}]
      - route: [{destination: {host: svc}, weight: 4294967296}, {destination: {host: svc, port: {number: 99999999}}, weight: -5}]
        timeout: 99999999999999999999h
        retries: {attempts: 9223372036854775807, perTryTimeout: 1e999s}
        fault: {delay: {fixedDelay: 99999999999999h, percentage: {value: 1e308}}, abort: {httpStatus: 99999, percentage: {value: -1}}}
        mirrorPercentage: {value: 1e308}
      - match: [{uri: {regex: "([unclosed"}}, {headers: {x: {regex: "*"}}}]
        rewrite: {uriRegexRewrite: {match: "(", rewrite: "/x"}}
        route: [{destination: {host: svc}}]
      tcp: [{route: [{destination: {host: svc}, weight: 0}]}, {route: []}]
    ---
    kind: VirtualService
    metadata: {name: wrongtypes, namespace: default}
    spec: {hosts: "svc", http: "not a list", tcp: {a: 1}}
    ---
    kind: VirtualService
    metadata: {name: nospec, namespace: default}
    ---
    kind: DestinationRule
    metadata: {name: dr, namespace: default}
    spec:
      host: svc
      trafficPolicy:
        connectionPool: {tcp: {maxConnections: -1, connectTimeout: 99999999999999999999s, maxConnectionDuration: 1e999s}, http: {idleTimeout: 9999999999999h, maxRequestsPerConnection: 9223372036854775807}}
        outlierDetection: {consecutive5xxErrors: -3, interval: 99999999999999999999s, baseEjectionTime: 1e20s, maxEjectionPercent: 500, minHealthPercent: -7}
        loadBalancer: {consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: -1}}}
        portLevelSettings: [{port: {number: -1}}, "not an object"]
      subsets: [{name: v1, labels: {app: robust}}, {name: v1}, {labels: "x"}, {name: ""}]
    ---
    kind: ServiceEntry
    metadata: {name: se, namespace: default}
    spec: {hosts: ["*", ""], ports: [{number: 70000, name: http, protocol: HTTP}, {number: 0, name: tcp}], endpoints: [{address: "not an ip", weight: 4294967295}, {address: "1.2.3.4", weight: 9223372036854775807}, {address: "1.2.3.5", weight: 9223372036854775807}], resolution: STATIC}
    ---
    kind: Sidecar
    metadata: {name: default, namespace: default}
    spec: {egress: [{hosts: ["./*", "nonsense", ""]}], ingress: [{port: {number: 99999}, defaultEndpoint: ""}]}
    ---
    kind: PeerAuthentication
    metadata: {name: default, namespace: default}
    spec: {mtls: {mode: NONSENSE}, portLevelMtls: {"99999": {mode: STRICT}, "abc": {mode: DISABLE}}}
    ---
    kind: Pod
    metadata: {name: dup, namespace: default, labels: {app: robust}}
    spec: {containers: [{name: istio-proxy, ports: [{name: http, containerPort: 99999999999}]}]}
    status: {podIP: 127.10.9.9}
    ---
    kind: Pod
    metadata: {name: dup, namespace: default, labels: {app: robust}}
    spec: {containers: "not a list"}
    status: {podIP: "not an ip"}
    """

    func testHostileObjectsGiveAConfigurationWithoutATrap() throws {
        var tally = Tally()
        let hostile = try objects(Self.hostile)
        Self.check(Self.snapshot(hostile), into: &tally, label: "hostile")
        // 10,000 routes for one host, and a Service with 1,000 ports.
        let routes = (0..<10_000).map { index in JSONValue.object([("match", .array([.object([("uri", .object([("prefix", .string("/r\(index)"))]))])])),
                                                                  ("route", .array([.object([("destination", .object([("host", .string("svc"))]))])]))]) }
        var many = hostile.filter { $0["kind"]?.string != "VirtualService" }
        many.append(.object([("kind", .string("VirtualService")), ("metadata", .object([("name", .string("many")), ("namespace", .string("default"))])),
                             ("spec", .object([("hosts", .array([.string("svc")])), ("http", .array(routes))]))]))
        Self.check(Self.snapshot(many), into: &tally, label: "10,000 routes")
        let node = Self.sidecarNodes(Self.snapshot(many))[0]
        let routeCount = Pilot(authority: nil).resources(for: node, in: Self.snapshot(many)).routes
            .flatMap { $0["virtual_hosts"]?.array ?? [] }.map { $0["routes"]?.array?.count ?? 0 }.max() ?? 0
        XCTAssertGreaterThanOrEqual(routeCount, 10_000)
        print("pilot robustness (hostile): \(hostile.count) objects, \(tally.snapshots) snapshots, \(tally.proxies) proxies, \(tally.resources) resources, "
              + "\(tally.readBack) type sets read back, \(tally.refusals.count) refused")
        XCTAssertEqual(tally.refusals, [], "meshctl's proxy refused the pilot's output")
    }

    func testDurationsOutsideProtobufsRangeAreClampedNotTrapped() {
        XCTAssertEqual(EnvoyJSON.duration(1e20), .string("315576000000s"))
        XCTAssertEqual(EnvoyJSON.duration(.infinity), .string("315576000000s"))
        XCTAssertEqual(EnvoyJSON.duration(.nan), .string("0s"))
        XCTAssertEqual(EnvoyJSON.duration(-5), .string("0s"))
        XCTAssertEqual(EnvoyJSON.duration(0.5), .string("0.500s"))
        XCTAssertEqual(EnvoyJSON.duration(1.9999999999), .string("2s"))
        XCTAssertEqual(TrafficPolicy.seconds(.string("99999999999999999999h")).map(EnvoyJSON.duration), .string("315576000000s"))
    }

    func testANodeIdNamingAPodAtAnotherAddressGetsNoSecrets() throws {
        let pilot = Pilot(authority: try CertificateAuthority())
        let snapshot = Self.snapshot([])
        let pod = Self.sidecarNodes(snapshot)[0]
        XCTAssertEqual(pilot.resources(for: pod, in: snapshot).secrets.names, ["default", "ROOTCA"])
        let impostor = ProxyNode(kind: .sidecar, ip: "127.10.99.99", podName: pod.podName, namespace: pod.namespace)
        XCTAssertEqual(pilot.resources(for: impostor, in: snapshot).secrets, [])
    }
}
