import XCTest
@testable import Manifests

final class StrategicMergeTests: XCTestCase {
    private func yaml(_ text: String) -> YAMLNode { try! YAMLParser.parse(text)[0].root }

    func testMapsMergeNullDeletesAndPlainListsReplace() {
        let original = yaml("metadata: {labels: {a: '1', b: '2'}}\nspec: {args: [x, y], hostname: h}")
        let patch = yaml("metadata: {labels: {b: null, c: '3'}}\nspec: {args: [z], hostname: null}")
        let merged = StrategicMerge.apply(patch, to: original)
        XCTAssertEqual(merged, yaml("metadata: {labels: {a: '1', c: '3'}}\nspec: {args: [z]}"))
    }

    func testContainersMergeByNameAndNewPatchItemsComeFirst() {
        let original = yaml("spec: {containers: [{name: app, image: a, env: [{name: A, value: '1'}]}]}")
        let patch = yaml("spec: {containers: [{name: istio-proxy, image: p}, {name: app, env: [{name: B, value: '2'}]}]}")
        let merged = StrategicMerge.apply(patch, to: original)
        let names = merged["spec"]?["containers"]?.items?.compactMap { $0["name"]?.string }
        XCTAssertEqual(names, ["istio-proxy", "app"])
        let env = merged["spec"]?["containers"]?[1]?["env"]?.items?.compactMap { $0["name"]?.string }
        XCTAssertEqual(env, ["B", "A"], "patch items first, then the original's")
        XCTAssertEqual(merged["spec"]?["containers"]?[1]?["image"]?.string, "a")
    }

    func testItemsKnownToBothKeepTheOriginalOrder() {
        let original = yaml("spec: {volumes: [{name: v1}, {name: v2}, {name: v3}]}")
        let patch = yaml("spec: {volumes: [{name: v3, emptyDir: {}}, {name: new}, {name: v1, emptyDir: {}}]}")
        let names = StrategicMerge.apply(patch, to: original)["spec"]?["volumes"]?.items?.compactMap { $0["name"]?.string }
        // v2 is only in the original and stood before v3 there, so it leads; patch items follow in patch order.
        XCTAssertEqual(names, ["v2", "v3", "new", "v1"])
    }
}

final class KubeRoundTripTests: XCTestCase {
    private func yaml(_ text: String) -> YAMLNode { try! YAMLParser.parse(text)[0].root }

    func testEmptyOptionalFieldsGoAndRequiredStructsAppear() {
        let object = yaml("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d, labels: {}}
        spec:
          template:
            metadata: {annotations: {keep: ''}}
            spec:
              containers: [{name: c, image: '', env: [{name: E, value: ''}], ports: [{containerPort: 80, hostPort: 0}], stdin: false}]
              volumes: [{name: v, emptyDir: null}, {name: w, emptyDir: {}}]
              initContainers: []
        """)
        let node = KubeRoundTrip.normalize(object, kind: "Deployment")
        let template = KubeRoundTrip.normalizePodTemplate(node["spec"]!["template"]!)
        XCTAssertNil(node["metadata"]?["labels"])
        XCTAssertEqual(node["status"], .mapping([]))
        XCTAssertEqual(node["spec"]?["strategy"], .mapping([]))
        XCTAssertEqual(template["metadata"]?["annotations"]?["keep"]?.string, "", "map values are kept even when empty")
        let container = template["spec"]?["containers"]?[0]
        XCTAssertNil(container?["image"])
        XCTAssertNil(container?["stdin"])
        XCTAssertEqual(container?["resources"], .mapping([]))
        XCTAssertEqual(container?["env"]?[0], yaml("{name: E}"))
        XCTAssertEqual(container?["ports"]?[0], yaml("{containerPort: 80}"))
        XCTAssertEqual(template["spec"]?["volumes"], yaml("[{name: v}, {name: w, emptyDir: {}}]"))
        XCTAssertNil(template["spec"]?["initContainers"])
    }

    func testStatusShapesByKind() {
        let statefulSet = KubeRoundTrip.normalize(yaml("kind: StatefulSet\nspec: {}"), kind: "StatefulSet")
        XCTAssertEqual(statefulSet["status"], yaml("{availableReplicas: 0, replicas: 0}"))
        XCTAssertEqual(statefulSet["spec"]?["updateStrategy"], .mapping([]))
    }

    func testQuantitiesAreCanonical() {
        let cases = [("2000m", "2"), ("100m", "100m"), ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("128Mi", "128Mi"),
                     ("1000", "1k"), ("1.5", "1500m"), ("0.5Gi", "512Mi"), ("0", "0"), ("2e3", "2e3"), ("1", "1"), ("500Mi", "500Mi")]
        for (input, expected) in cases { XCTAssertEqual(Quantity.canonical(input), expected, input) }
        XCTAssertNil(Quantity.canonical("lots"))
    }
}

final class InjectionRulesTests: XCTestCase {
    private func yaml(_ text: String) -> YAMLNode { try! YAMLParser.parse(text)[0].root }

    func testAnnotationValidationNamesTheSetting() {
        XCTAssertNoThrow(try AnnotationValidation.validate(yaml("{traffic.sidecar.istio.io/includeOutboundIPRanges: '10.0.0.0/8,192.168.0.0/16'}")))
        XCTAssertNoThrow(try AnnotationValidation.validate(yaml("{traffic.sidecar.istio.io/includeOutboundIPRanges: '*'}")))
        XCTAssertThrowsError(try AnnotationValidation.validate(yaml("{traffic.sidecar.istio.io/includeOutboundIPRanges: '10.0.0.0/8,*'}")))
        XCTAssertThrowsError(try AnnotationValidation.validate(yaml("{traffic.sidecar.istio.io/excludeInboundPorts: '*'}"))) { error in
            XCTAssertTrue("\(error)".contains("excludeInboundPorts"), "\(error)")
        }
        XCTAssertThrowsError(try AnnotationValidation.validate(yaml("{sidecar.istio.io/interceptionMode: SOMETIMES}")))
        XCTAssertTrue(IPAddressText.isCIDR("10.96.0.1/24"))
        XCTAssertFalse(IPAddressText.isCIDR("10.96.0.1"))
        XCTAssertFalse(IPAddressText.isCIDR("300.1.1.1/8"))
    }

    func testAppProbersResolveNamedPorts() {
        let pod = yaml("""
        metadata: {}
        spec:
          containers:
          - name: app
            ports: [{name: http, containerPort: 8080}]
            readinessProbe: {httpGet: {path: /ready, port: http}, timeoutSeconds: 2}
            livenessProbe: {tcpSocket: {port: 9090}}
            lifecycle: {preStop: {httpGet: {path: /stop, port: 8080}}}
          - name: istio-proxy
            readinessProbe: {httpGet: {path: /healthz/ready, port: 15021}}
        """)
        XCTAssertEqual(AppProbes.dump(pod, statusPort: 15020),
                       #"{"/app-health/app/livez":{"tcpSocket":{"port":9090}},"/app-health/app/readyz":{"httpGet":{"path":"/ready","port":8080},"timeoutSeconds":2},"/app-lifecycle/app/prestopz":{"httpGet":{"path":"/stop","port":8080}}}"#)
    }

    func testPrometheusMergeMovesTheAppsAnnotations() throws {
        let pod = yaml("""
        metadata: {annotations: {prometheus.io/scrape: 'true', prometheus.io/port: '9090', prometheus.io/path: /metrics}}
        spec: {containers: [{name: app}, {name: istio-proxy, env: []}]}
        """)
        let merged = Prometheus.merge(pod, mesh: try MeshConfiguration(yaml: nil))
        XCTAssertEqual(merged["metadata"]?["annotations"], yaml("{prometheus.io/port: '15020', prometheus.io/path: /stats/prometheus, prometheus.io/scrape: 'true'}"))
        XCTAssertEqual(merged["spec"]?["containers"]?[1]?["env"]?[0]?["value"]?.string, #"{"scrape":"true","path":"/metrics","port":"9090"}"#)
        let optedOut = yaml("metadata: {annotations: {prometheus.io/scrape: 'false'}}\nspec: {containers: []}")
        XCTAssertEqual(Prometheus.merge(optedOut, mesh: try MeshConfiguration(yaml: nil)), optedOut)
    }

    func testProxyConfigCleaningAndAnnotationMerge() throws {
        let mesh = try MeshConfiguration(yaml: "defaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\n")
        XCTAssertEqual(mesh.cleanedProxyConfigJSON, "{}")
        let pod = try mesh.applyingProxyConfig("holdApplicationUntilProxyStarts: true\nproxyMetadata: {B: '2', A: '1'}\ndrainDuration: 23s")
        XCTAssertEqual(pod.cleanedProxyConfigJSON, #"{"drainDuration":"23s","proxyMetadata":{"A":"1","B":"2"},"holdApplicationUntilProxyStarts":true}"#)
        XCTAssertEqual(pod.statusPort, 15020)
    }

    func testDocumentsSplitLikeKubernetesReader() {
        let parts = SidecarInjector.documents(of: "a: 1\n---\n\n---   \nb: 2\n--- \n")
        XCTAssertEqual(parts.map(\.text), ["a: 1\n", "\n", "b: 2\n"])
        XCTAssertEqual(parts.map(\.line), [1, 3, 5])
    }
}
