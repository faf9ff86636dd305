import Foundation
import MeshNet
import MeshTLS
import MeshTestSupport
import XCTest

/// Issue 17's ingress and HTTP_PROXY, end to end: `local up` runs `istio-ingressgateway` in istio-system (a router
/// proxy the pilot configures) reached from this machine at the host port it prints; real kubectl applies a Gateway
/// and VirtualService; real curl calls the host port, and a `meshctl/exec` pod runs curl through its sidecar's HTTP
/// proxy port. One local control plane serves each class: meshctl's proxy in `LocalIngressTests`, Envoy in
/// `LocalIngressEnvoyTests` (the same checks).
class LocalIngressScenarios: XCTestCase {
    nonisolated(unsafe) static var meshes: [ObjectIdentifier: IngressMesh] = [:]
    nonisolated(unsafe) static var skipReasons: [ObjectIdentifier: String] = [:]

    /// What runs in the gateway and the sidecars: `local up --proxy`.
    class var proxy: String { "meshctl" }
    /// Why this class cannot run at all (nil: it can).
    class func unavailable() -> String? { nil }

    override class func tearDown() {
        meshes[ObjectIdentifier(self)]?.home.finish()
        meshes[ObjectIdentifier(self)] = nil
    }

    static let curl = ["/usr/bin/curl", "/bin/curl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The running control plane with `web` (echo, with a sidecar) and `curler` (curl in a loop, with a sidecar)
    /// ready, and the gateway ready; or a skip saying what is missing.
    func mesh() throws -> IngressMesh {
        let key = ObjectIdentifier(type(of: self))
        if let mesh = Self.meshes[key] { return mesh }
        if let reason = Self.skipReasons[key] { throw XCTSkip(reason) }
        guard FileManager.default.isExecutableFile(atPath: TestPaths.meshctlBinary.path) else {
            XCTFail("meshctl was not built at \(TestPaths.meshctlBinary.path)")
            throw XCTSkip("no meshctl binary")
        }
        var missing: String?
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/kubectl") { missing = "no kubectl at /usr/bin/kubectl on this machine" }
        if Self.curl == nil { missing = "no curl at /usr/bin/curl or /bin/curl on this machine" }
        if let missing = missing ?? type(of: self).unavailable() {
            Self.skipReasons[key] = missing
            throw XCTSkip(missing)
        }
        let mesh = try IngressMesh.start(proxy: type(of: self).proxy)
        Self.meshes[key] = mesh
        return mesh
    }

    func checkTheGatewayRoutesFromTheHostPortToAWorkloadWithASidecar() throws {
        let mesh = try mesh()
        // `local status` prints the port `local up` printed.
        let status = try mesh.home.meshctl(["local", "status", "--state-dir", mesh.home.state])
        XCTAssertTrue(status.stdout.contains("ingress:   http://127.0.0.1:\(mesh.httpPort) -> istio-system/istio-ingressgateway:80"), status.stdout)
        // kubectl shows the gateway's Service as a LoadBalancer on 127.0.0.1, as on kind or minikube with a tunnel.
        let service = try mesh.home.kubectl(["get", "svc", "-n", "istio-system", "istio-ingressgateway"])
        XCTAssertTrue(service.stdout.contains("LoadBalancer") && service.stdout.contains("127.0.0.1"), service.stdout + service.stderr)
        try mesh.apply(IngressMesh.gatewayRules)
        var answer = (status: 0, body: "")
        XCTAssertTrue(mesh.eventually(timeout: 40) {
            answer = try mesh.curl(host: "web.example.com", path: "/hello")
            return answer.status == 200
        }, "the gateway never answered 200 for web.example.com: \(answer)")
        XCTAssertTrue(answer.body.contains("pod=web-"), answer.body)
        XCTAssertTrue(answer.body.contains("GET /hello HTTP/1.1"), answer.body)
        // The host port in the Host header, as a browser sends it: the gateway ignores the port when matching hosts.
        XCTAssertEqual(try mesh.curl(host: "web.example.com:\(mesh.httpPort)", path: "/with-port").status, 200)
        // A host no Gateway server admits: Envoy's 404 (no route).
        XCTAssertTrue(mesh.eventually { try mesh.curl(host: "other.example.com", path: "/").status == 404 })
        // The gateway reached the workload's sidecar over mTLS: the sidecar's inbound log line for the request shows
        // the SNI the gateway's auto-mTLS cluster sends.
        var logs = ""
        XCTAssertTrue(mesh.eventually {
            logs = try mesh.home.kubectl(["logs", "-n", "web", "deploy/web", "-c", "istio-proxy"]).stdout
            return logs.split(separator: "\n").contains { line in
                line.contains("\"GET /hello HTTP/1.1\" 200") && line.contains("\"web.example.com\"") && line.contains("inbound|8080||")
                    && line.contains("outbound_.80_._.web.web.svc.cluster.local")
            }
        }, logs)
        // proxy-status lists the gateway; proxy-config shows its route.
        let gatewayPod = try mesh.podName("istio-ingressgateway", namespace: "istio-system")
        var listed = ""
        XCTAssertTrue(mesh.eventually {
            listed = try mesh.home.meshctl(["proxy-status"]).stdout
            return listed.contains("\(gatewayPod).istio-system")
        }, listed)
        let routes = try mesh.home.meshctl(["proxy-config", "routes", "-n", "istio-system", gatewayPod])
        XCTAssertEqual(routes.status, 0, routes.stderr)
        XCTAssertTrue(routes.stdout.contains("http.8080") && routes.stdout.contains("web.example.com"), routes.stdout)
    }

    /// A ServiceEntry whose workloadSelector picks a WorkloadEntry at the `web` pod's address: the gateway routes to it
    /// over the entry's endpoint (mTLS, since the entry names a service account).
    func checkAWorkloadEntrySelectedByAServiceEntryServesThroughTheGateway() throws {
        let mesh = try mesh()
        try mesh.apply(IngressMesh.gatewayRules)
        let podIP = try mesh.home.kubectl(["get", "pods", "-n", "web", "-l", "app=web", "-o", "jsonpath={.items[0].status.podIP}"]).stdout
        XCTAssertTrue(podIP.hasPrefix("127.10."), podIP)
        try mesh.apply("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: vm, namespace: web}
            spec:
              hosts: [vm.example.com]
              location: MESH_INTERNAL
              resolution: STATIC
              ports: [{number: 80, name: http, protocol: HTTP}]
              workloadSelector: {labels: {app: vm}}
            ---
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: vm-1, namespace: web}
            spec: {address: \(podIP), ports: {http: 8080}, labels: {app: vm}, serviceAccount: default}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: vm, namespace: web}
            spec:
              hosts: [vm.example.com]
              gateways: [web-gateway]
              http: [{route: [{destination: {host: vm.example.com, port: {number: 80}}}]}]

            """)
        var answer = (status: 0, body: "")
        XCTAssertTrue(mesh.eventually(timeout: 40) {
            answer = try mesh.curl(host: "vm.example.com", path: "/from-vm-entry")
            return answer.status == 200
        }, "\(answer)")
        XCTAssertTrue(answer.body.contains("pod=web-") && answer.body.contains("GET /from-vm-entry"), answer.body)
        let gatewayPod = try mesh.podName("istio-ingressgateway", namespace: "istio-system")
        let endpoints = try mesh.home.meshctl(["proxy-config", "endpoints", "-n", "istio-system", gatewayPod, "--cluster", "outbound|80||vm.example.com"])
        XCTAssertTrue(endpoints.stdout.contains("\(podIP):8080"), endpoints.stdout)
    }

    /// curl in a `meshctl/exec` container of a pod with a sidecar gets HTTP_PROXY and reaches a Service through the
    /// sidecar's HTTP proxy port (the answer carries the sidecar's headers).
    func checkCurlInAnExecPodGoesThroughTheSidecarsHTTPProxyPort() throws {
        let mesh = try mesh()
        var logs = ""
        XCTAssertTrue(mesh.eventually(timeout: 40) {
            logs = try mesh.home.kubectl(["logs", "-n", "web", "deploy/curler", "-c", "curl", "--tail", "40"]).stdout
            return logs.contains("pod=web-") && logs.lowercased().contains("x-envoy-attempt-count")
        }, logs)
        XCTAssertTrue(logs.contains("proxy=http://127.10."), "the container was given HTTP_PROXY: \(logs)")
        XCTAssertTrue(logs.contains("GET /through-proxy HTTP/1.1"), "the sidecar sent the request in origin form: \(logs)")
    }

    /// A TLS SIMPLE server whose certificate comes from a `kubernetes.io/tls` Secret in istio-system (credentialName):
    /// curl on the HTTPS host port, trusting only the Secret's CA, gets the workload's answer.
    func checkTLSSimpleWithACredentialNameSecret() throws {
        let mesh = try mesh()
        let authorityKey = try PrivateKey.generateP256()
        let authority = try Certificate.issue(CertificateRequest(commonName: "ingress test CA", isAuthority: true, lifetimeSeconds: 3600), for: authorityKey)
        let serverKey = try PrivateKey.generateP256()
        let server = try Certificate.issue(CertificateRequest(commonName: "web.example.com", dnsNames: ["web.example.com"], lifetimeSeconds: 3600),
                                           for: serverKey, signedBy: (authority, authorityKey))
        let caFile = mesh.home.folder.appendingPathComponent("ingress-ca.pem")
        try Data(try authority.pem()).write(to: caFile)
        try mesh.apply(IngressMesh.gatewayRules + """
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: web-cert, namespace: istio-system}
            type: kubernetes.io/tls
            data: {tls.crt: \(Data(try server.pem()).base64EncodedString()), tls.key: \(Data(try serverKey.pem()).base64EncodedString())}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: web-tls, namespace: web}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [web.example.com]
                tls: {mode: SIMPLE, credentialName: web-cert}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: web-tls, namespace: web}
            spec:
              hosts: [web.example.com]
              gateways: [web-tls]
              http: [{route: [{destination: {host: web, port: {number: 80}}}]}]

            """)
        var answer = (status: 0, body: "")
        XCTAssertTrue(mesh.eventually(timeout: 40) {
            answer = try mesh.curlTLS(host: "web.example.com", path: "/secure", caFile: caFile.path)
            return answer.status == 200
        }, "\(answer)")
        XCTAssertTrue(answer.body.contains("pod=web-") && answer.body.contains("GET /secure HTTP/1.1"), answer.body)
        // The certificate never shows: the gateway's config dump redacts its key.
        let gatewayPod = try mesh.podName("istio-ingressgateway", namespace: "istio-system")
        let secrets = try mesh.home.meshctl(["proxy-config", "secret", "-n", "istio-system", gatewayPod, "-o", "json"])
        XCTAssertFalse(secrets.stdout.contains("PRIVATE KEY"), "the key reached proxy-config's output")
    }
}

/// The ingress checks with meshctl's proxy in the gateway and the sidecars.
final class LocalIngressTests: LocalIngressScenarios {
    func testTheGatewayRoutesFromTheHostPortToAWorkloadWithASidecar() throws { try checkTheGatewayRoutesFromTheHostPortToAWorkloadWithASidecar() }
    func testAWorkloadEntrySelectedByAServiceEntryServesThroughTheGateway() throws { try checkAWorkloadEntrySelectedByAServiceEntryServesThroughTheGateway() }
    func testCurlInAnExecPodGoesThroughTheSidecarsHTTPProxyPort() throws { try checkCurlInAnExecPodGoesThroughTheSidecarsHTTPProxyPort() }
    func testTLSSimpleWithACredentialNameSecret() throws { try checkTLSSimpleWithACredentialNameSecret() }
}

/// The same checks with a real Envoy in the gateway and the sidecars (`local up --proxy envoy`), where one is installed.
final class LocalIngressEnvoyTests: LocalIngressScenarios {
    override class var proxy: String { "envoy" }
    override class func unavailable() -> String? {
        LocalMeshEnvoyTests.envoy == nil ? "no envoy binary (set ENVOY, or `make test` installs Envoy 1.40): the ingress gateway with real Envoy did not run" : nil
    }

    func testTheGatewayRoutesFromTheHostPortToAWorkloadWithASidecar() throws { try checkTheGatewayRoutesFromTheHostPortToAWorkloadWithASidecar() }
    func testAWorkloadEntrySelectedByAServiceEntryServesThroughTheGateway() throws { try checkAWorkloadEntrySelectedByAServiceEntryServesThroughTheGateway() }
    func testCurlInAnExecPodGoesThroughTheSidecarsHTTPProxyPort() throws { try checkCurlInAnExecPodGoesThroughTheSidecarsHTTPProxyPort() }
    func testTLSSimpleWithACredentialNameSecret() throws { try checkTLSSimpleWithACredentialNameSecret() }
}

/// A local control plane for the ingress tests: the gateway on host ports chosen by the system, `web` and `curler`.
final class IngressMesh: @unchecked Sendable {
    let home: LocalModeHome
    let httpPort: Int
    let httpsPort: Int

    private init(home: LocalModeHome, httpPort: Int, httpsPort: Int) {
        self.home = home
        self.httpPort = httpPort
        self.httpsPort = httpsPort
    }

    static let workloads = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: web, labels: {istio-injection: enabled}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: web}
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web, version: v1}}
            spec:
              terminationGracePeriodSeconds: 2
              containers:
              - name: echo
                image: meshctl/echo:latest
                ports: [{name: http, containerPort: 8080}]
                readinessProbe: {httpGet: {path: /status/200, port: http}, periodSeconds: 1}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: web}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: http}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: curler, namespace: web}
        spec:
          replicas: 1
          selector: {matchLabels: {app: curler}}
          template:
            metadata: {labels: {app: curler}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: curl
                image: meshctl/exec
                command: [/bin/sh, -c, 'while true; do echo "proxy=$http_proxy"; curl -s -m 5 http://web.web/through-proxy; sleep 1; done']

        """

    static let gatewayRules = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: web-gateway, namespace: web}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 80, name: http, protocol: HTTP}
            hosts: [web.example.com, vm.example.com]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web, namespace: web}
        spec:
          hosts: [web.example.com]
          gateways: [web-gateway]
          http: [{route: [{destination: {host: web, port: {number: 80}}}]}]

        """

    /// `local up` with system-chosen ingress ports (tests run side by side), the workloads applied, every Deployment
    /// ready (the gateway's too) within 90 s.
    static func start(proxy: String) throws -> IngressMesh {
        let home = try LocalModeHome("ingress-\(proxy)", variables: proxy == "envoy" ? ["ENVOY": LocalMeshEnvoyTests.envoy ?? ""] : [:])
        do {
            let up = try home.meshctl(["local", "up", "--state-dir", home.state, "--proxy", proxy, "--ingress-port", "0", "--ingress-https-port", "0"])
            guard up.status == 0 else { throw LocalMesh.NotReady(description: "local up failed: \(up.stdout) \(up.stderr)") }
            guard let range = up.stdout.range(of: #"ingress: http://127\.0\.0\.1:[0-9]+ and https://127\.0\.0\.1:[0-9]+"#, options: .regularExpression)
            else { throw LocalMesh.NotReady(description: "local up did not print the ingress ports: \(up.stdout)") }
            let ports = up.stdout[range].split(separator: " ").compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
            guard ports.count == 2 else { throw LocalMesh.NotReady(description: "local up's ingress line: \(up.stdout[range])") }
            let mesh = IngressMesh(home: home, httpPort: ports[0], httpsPort: ports[1])
            try mesh.apply(workloads)
            var waiting: Set<String> = []
            let ready = mesh.eventually(timeout: 90) {
                let text = try home.kubectl(["get", "deployments", "-A", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.readyReplicas} {end}"]).stdout
                let readyNames = Set(text.split(separator: " ").filter { $0.hasSuffix("=1") }.map { String($0.dropLast(2)) })
                waiting = Set(["web", "curler", "istio-ingressgateway"]).subtracting(readyNames)
                return waiting.isEmpty
            }
            guard ready else {
                let gateway = (try? home.kubectl(["logs", "-n", "istio-system", "deploy/istio-ingressgateway", "--tail", "20"]).stdout) ?? ""
                throw LocalMesh.NotReady(description: "deployments \(waiting.sorted()) did not become ready within 90 s; gateway log: \(gateway)")
            }
            return mesh
        } catch {
            home.finish()
            throw error
        }
    }

    func apply(_ yaml: String) throws {
        let applied = try home.kubectl(["apply", "-f", "-"], stdin: yaml)
        guard applied.status == 0 else { throw LocalMesh.NotReady(description: "kubectl apply failed: \(applied.stderr)") }
    }

    /// Polls `condition` until it holds or `timeout` passes (a throw counts as not yet), every 0.2 s at most, as each
    /// round starts a process (curl, kubectl).
    func eventually(timeout: Double = 20, _ condition: () throws -> Bool) -> Bool {
        MeshTestSupport.eventually(timeout: timeout) {
            if (try? condition()) == true { return true }
            Thread.sleep(forTimeInterval: 0.2)
            return false
        }
    }

    /// Real curl from this machine to the gateway's HTTP host port, with `host` as the Host header.
    func curl(host: String, path: String) throws -> (status: Int, body: String) {
        try curl(["-H", "Host: \(host)", "http://127.0.0.1:\(httpPort)\(path)"])
    }

    /// Real curl over TLS to the gateway's HTTPS host port, as `host` (SNI and Host), trusting only `caFile`: ALPN
    /// picks HTTP/2 (the gateway offers `h2` as Istio's does), as a browser's request would go.
    func curlTLS(host: String, path: String, caFile: String) throws -> (status: Int, body: String) {
        try curl(["--http2", "--cacert", caFile, "--resolve", "\(host):\(httpsPort):127.0.0.1", "https://\(host):\(httpsPort)\(path)"])
    }

    /// The status (0: no answer) and body of one curl call with `arguments`.
    private func curl(_ arguments: [String]) throws -> (status: Int, body: String) {
        let result = try runProcess(URL(fileURLWithPath: LocalIngressScenarios.curl ?? "/usr/bin/curl"), ["-s", "-m", "5", "-w", "\n%{http_code}"] + arguments,
                                    environment: ["PATH": "/usr/bin:/bin"])
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    func podName(_ deployment: String, namespace: String) throws -> String {
        let pods = try home.kubectl(["get", "pods", "-n", namespace, "-o", "jsonpath={.items[*].metadata.name}"]).stdout.split(separator: " ").map(String.init)
        guard let pod = pods.first(where: { $0.hasPrefix(deployment + "-") }) else {
            throw LocalMesh.NotReady(description: "no pod of deployment \(deployment) among \(pods)")
        }
        return pod
    }
}
