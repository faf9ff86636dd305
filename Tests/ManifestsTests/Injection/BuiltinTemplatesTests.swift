import XCTest
@testable import Manifests

/// meshctl's injection templates: the ConfigMap text injects what the built-in configuration injects, and the pods get
/// what the annotations ask for (the default cases are checked against Istio's goldens in ConformanceTests).
final class BuiltinTemplatesTests: XCTestCase {
    private let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api, namespace: shop}
        spec:
          selector: {matchLabels: {app: api}}
          template:
            metadata:
              labels: {app.kubernetes.io/name: -api-thing., version: v3, service.istio.io/workload-name: apiw}
              annotations:
                sidecar.istio.io/proxyCPU: 200m
                sidecar.istio.io/proxyMemoryLimit: 1Gi
                sidecar.istio.io/interceptionMode: TPROXY
                sidecar.istio.io/capNetBindService: "true"
                traffic.sidecar.istio.io/excludeInboundPorts: "81,82"
                traffic.sidecar.istio.io/includeOutboundPorts: "443"
                traffic.sidecar.istio.io/excludeInterfaces: eth9
                sidecar.istio.io/bootstrapOverride: my-bootstrap
                sidecar.istio.io/userVolume: '{"extra":{"emptyDir":{}}, "cfg":{"configMap":{"name":"c"}}}'
                sidecar.istio.io/userVolumeMount: '{"extra":{"mountPath":"/extra"}, "cfg":{"mountPath":"/cfg","readOnly":true}}'
                readiness.status.sidecar.istio.io/periodSeconds: "5"
                kubectl.kubernetes.io/default-container: web
            spec:
              serviceAccountName: api
              containers:
              - {name: web, image: nginx, ports: [{containerPort: 8080, name: http}, {containerPort: 9090}]}
              - {name: side, image: busybox, ports: [{containerPort: 7070, protocol: UDP}]}
        """
    private let pod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
          labels: {app: p}
          annotations: {proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": true, "proxyMetadata": {"ISTIO_META_ENABLE_HBONE": "true", "IPTABLES_TRACE_LOGGING": "true"}}'}
        spec:
          containers: [{name: a, image: x}]
        """
    private let gateway = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: gw
          labels: {service.istio.io/canonical-name: -gw-, istio: ingressgateway}
          annotations: {inject.istio.io/templates: gateway, sidecar.istio.io/bootstrapOverride: bo, sidecar.istio.io/logLevel: trace}
        spec:
          containers: [{name: istio-proxy, image: auto, ports: [{containerPort: 8080}]}]
        """

    private func manifests() -> [(String, String)] {
        var manifests = [("deployment", deployment), ("pod", pod), ("gateway", gateway)]
        for template in ["grpc-agent", "grpc-simple"] {
            manifests.append((template, deployment.replacingOccurrences(of: "annotations:\n", with: "annotations:\n        inject.istio.io/templates: \(template)\n")))
            manifests.append((template + " pod", gateway.replacingOccurrences(of: "templates: gateway", with: "templates: \(template)")))
        }
        return manifests
    }

    func testTheConfigMapTextInjectsWhatTheBuiltinConfigurationInjects() throws {
        let config = try InjectorConfig(yaml: BuiltinTemplates.injectorConfig, file: "config")
        for native in [false, true] {
            for compliance in ["", "fips-140-3"] {
                let builtin = SidecarInjector(settings: .builtin(nativeSidecars: native, compliancePolicy: compliance))
                var settings = InjectionSettings.builtin(nativeSidecars: native, compliancePolicy: compliance)
                settings.config = config
                let written = SidecarInjector(settings: settings)
                for (name, manifest) in manifests() {
                    let expected = try builtin.inject(manifest, file: name).output
                    XCTAssertTrue(expected.contains("sidecar.istio.io/status"), expected)
                    XCTAssertEqual(try written.inject(manifest, file: name).output, expected, "\(name), native sidecars \(native), compliance \(compliance)")
                }
            }
        }
    }

    func testThePodsGetWhatTheAnnotationsAskFor() throws {
        let injector = SidecarInjector(settings: .builtin())
        let sidecar = try injector.inject(deployment, file: "deployment").output
        for expected in ["service.istio.io/canonical-name: api-thing", "- NET_BIND_SERVICE", "runAsUser: 0", "- -c\n        - eth9",
                         "- 15090,15021,81,82,15020", "cpu: 200m", "memory: 1Gi", "mountPath: /cfg", "name: extra", "name: my-bootstrap",
                         "value: /etc/istio/custom-bootstrap/custom_bootstrap.json", "periodSeconds: 5", "value: apiw", "value: TPROXY"] {
            XCTAssertTrue(sidecar.contains(expected), "\(expected) in\n\(sidecar)")
        }
        let held = try injector.inject(pod, file: "pod").output
        for expected in ["networking.istio.io/tunnel: http", "postStart:", "privileged: true"] {
            XCTAssertTrue(held.contains(expected), "\(expected) in\n\(held)")
        }
        XCTAssertTrue(try injector.inject(gateway, file: "gateway").output.contains("- router"))
        let cases = Dictionary(uniqueKeysWithValues: manifests())
        XCTAssertTrue(try injector.inject(cases["grpc-agent"]!, file: "grpc-agent").output.contains("name: DISABLE_ENVOY"))
        XCTAssertTrue(try injector.inject(cases["grpc-simple"]!, file: "grpc-simple").output.contains("/var/lib/grpc/data/bootstrap.json"))
    }

    func testEveryTemplateIsInTheConfig() throws {
        let config = try InjectorConfig(yaml: BuiltinTemplates.injectorConfig)
        XCTAssertEqual(Set(config.templates.keys), Set(BuiltinTemplates.names))
        XCTAssertEqual(config.defaultTemplates, ["sidecar"])
        for name in BuiltinTemplates.names {
            XCTAssertNotNil(InjectorConfig.builtin.templates[name], "the built-in configuration has \(name)")
        }
    }
}
