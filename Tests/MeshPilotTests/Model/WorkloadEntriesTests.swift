import ConfigValues
@testable import MeshPilot
import XCTest

/// WorkloadEntries as endpoints: of a ServiceEntry that selects them by `workloadSelector`, and of a Kubernetes
/// Service whose selector matches their labels, with istiod's fields (port by name, tlsMode, identity, locality,
/// weight, network, telemetry metadata).
final class WorkloadEntriesTests: XCTestCase {
    static let entries = """
    apiVersion: networking.istio.io/v1
    kind: ServiceEntry
    metadata: {name: vm, namespace: default}
    spec:
      hosts: [vm.example.com]
      location: MESH_INTERNAL
      resolution: STATIC
      ports: [{number: 80, name: http, protocol: HTTP}, {number: 5432, name: tcp-db, protocol: TCP, targetPort: 6432}]
      workloadSelector: {labels: {app: vm}}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: vm-1, namespace: default}
    spec:
      address: 127.20.0.1
      ports: {http: 9080}
      labels: {app: vm, version: v1}
      locality: us-east1/us-east1-b
      weight: 3
      network: vpc-1
      serviceAccount: vm-sa
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: vm-2, namespace: default}
    spec: {address: 127.20.0.2, labels: {app: vm, security.istio.io/tlsMode: disabled}, serviceAccount: other-sa}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: vm-3, namespace: default}
    spec: {address: 127.20.0.3, labels: {app: vm, istio-locality: eu-west1.eu-west1-a}}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: elsewhere, namespace: other}
    spec: {address: 127.20.0.9, labels: {app: vm}}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: unrelated, namespace: default}
    spec: {address: 127.20.0.8, labels: {app: db}}
    """

    func testAServiceEntrysWorkloadSelectorTakesTheMatchingWorkloadEntriesOfItsNamespace() throws {
        let model = MeshModel(try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: Self.entries))
        let service = try XCTUnwrap(model.services.first { $0.hostname == "vm.example.com" })
        let http = model.endpoints(of: service, port: 80)
        XCTAssertEqual(http.map(\.address), ["127.20.0.1", "127.20.0.2", "127.20.0.3"])
        // The entry's own port for the port's name, else the port's number.
        XCTAssertEqual(http.map(\.port), [9080, 80, 80])
        XCTAssertEqual(http.map(\.tlsMode), ["istio", "disabled", "disabled"], "a service account means a sidecar; the label wins")
        XCTAssertEqual(http.map(\.serviceAccount), ["vm-sa", "other-sa", nil])
        XCTAssertEqual(http.map(\.weight), [3, 1, 1])
        XCTAssertEqual(http[0].network, "vpc-1")
        XCTAssertEqual(http[0].locality, Locality(region: "us-east1", zone: "us-east1-b"))
        XCTAssertEqual(http[2].locality, Locality(region: "eu-west1", zone: "eu-west1-a"))
        XCTAssertEqual(http[0].labels, ["app": "vm", "version": "v1"])
        XCTAssertEqual(http[0].workloadMetadata, "vm-1;default;vm;v1;Kubernetes")
        XCTAssertEqual(http[2].workloadMetadata, "vm-3;default;vm;;Kubernetes")
        // The port's targetPort when the entry has no port of its name.
        XCTAssertEqual(model.endpoints(of: service, port: 5432).map(\.port), [6432, 6432, 6432])
    }

    func testTheEndpointsReachEDSWithIstiosMetadataAndAutoMTLS() throws {
        let out = Pilot(authority: nil).resources(for: PilotFixtures.productpage, in: try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: Self.entries))
        let assignment = try XCTUnwrap(out.endpoints.named("outbound|80||vm.example.com"))
        let localities = try XCTUnwrap(assignment["endpoints"]?.array)
        let first = try XCTUnwrap(localities.first { $0[path: "locality", "region"] == .string("us-east1") })
        XCTAssertEqual(first[path: "locality", "zone"], .string("us-east1-b"))
        XCTAssertEqual(first[path: "lb_endpoints", 0, "endpoint", "address", "socket_address", "address"], .string("127.20.0.1"))
        XCTAssertEqual(first[path: "lb_endpoints", 0, "endpoint", "address", "socket_address", "port_value"], .int(9080))
        XCTAssertEqual(first[path: "lb_endpoints", 0, "load_balancing_weight"], .int(3))
        XCTAssertEqual(first[path: "lb_endpoints", 0, "metadata", "filter_metadata", "envoy.transport_socket_match", "tlsMode"], .string("istio"))
        XCTAssertEqual(first[path: "lb_endpoints", 0, "metadata", "filter_metadata", "istio", "workload"], .string("vm-1;default;vm;v1;Kubernetes"))
        // Auto mTLS to the entry with a sidecar checks the identity it names.
        let cluster = try XCTUnwrap(out.clusters.named("outbound|80||vm.example.com"))
        XCTAssertEqual(cluster["type"], .string("EDS"))
        XCTAssertTrue(cluster.serialized.contains("spiffe://cluster.local/ns/default/sa/vm-sa"), cluster.serialized)
        XCTAssertTrue(cluster.serialized.contains("envoy.transport_socket_match") || cluster["transport_socket_matches"] != nil, cluster.serialized)
    }

    func testAKubernetesServiceSelectingWorkloadEntriesServesThemToo() throws {
        let service = """
        apiVersion: v1
        kind: Service
        metadata: {name: vm-svc, namespace: default}
        spec:
          selector: {app: vm}
          ports: [{name: http, port: 8000, targetPort: 8080}]
        """
        let model = MeshModel(try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: Self.entries + "\n---\n" + service))
        let kube = try XCTUnwrap(model.services.first { $0.hostname == "vm-svc.default.svc.cluster.local" })
        XCTAssertEqual(model.endpoints(of: kube, port: 8000).map { "\($0.address):\($0.port)" }, ["127.20.0.1:9080", "127.20.0.2:8080", "127.20.0.3:8080"])
    }

    func testAnEntryWithoutAddressOrWithABadPortIsLeftOut() throws {
        let bad = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: odd, namespace: default}
        spec:
          hosts: [odd.example.com]
          resolution: STATIC
          ports: [{number: 80, name: http, protocol: HTTP}]
          workloadSelector: {labels: {app: odd}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: no-address, namespace: default}
        spec: {labels: {app: odd}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: bad-port, namespace: default}
        spec: {address: 127.20.0.4, ports: {http: 70000}, labels: {app: odd}}
        """
        let model = MeshModel(try PilotFixtures.snapshot(fixture: "bookinfo.yaml", adding: bad))
        let service = try XCTUnwrap(model.services.first { $0.hostname == "odd.example.com" })
        XCTAssertEqual(model.endpoints(of: service, port: 80).count, 0)
    }
}
