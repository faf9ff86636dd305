import Foundation
import Manifests
import MeshNet
import MeshTLS
import MeshHTTP1
import MeshHTTP2

/// The files of a local control plane's state directory.
public struct LocalStatePaths: Sendable {
    public let directory: URL
    public init(directory: URL) { self.directory = directory }

    public var database: URL { directory.appendingPathComponent("store.db") }
    public var authorityCertificate: URL { directory.appendingPathComponent("ca.crt") }
    public var authorityKey: URL { directory.appendingPathComponent("ca.key") }
    public var serverCertificate: URL { directory.appendingPathComponent("server.crt") }
    public var serverKey: URL { directory.appendingPathComponent("server.key") }
    public var token: URL { directory.appendingPathComponent("token") }
    public var pidFile: URL { directory.appendingPathComponent("meshctl-local.pid") }
    public var log: URL { directory.appendingPathComponent("meshctl-local.log") }
    /// The names of the Services, for processes local mode starts (see `ClusterNames`, `ServiceLinks`).
    public var names: URL { directory.appendingPathComponent("names") }
    /// Written once the server answers: `https://127.0.0.1:PORT` and the start time.
    public var endpoint: URL { directory.appendingPathComponent("endpoint") }
    /// The pilot's xDS and debug address, `127.0.0.1:PORT`, while it runs.
    public var pilot: URL { directory.appendingPathComponent("pilot") }
    /// The mesh's certificate authority (the sidecars' SPIFFE certificates), apart from the API server's.
    public var meshAuthorityCertificate: URL { directory.appendingPathComponent("mesh-ca.crt") }
    public var meshAuthorityKey: URL { directory.appendingPathComponent("mesh-ca.key") }
    /// The ingress gateway's host ports (`http=PORT`, `https=PORT`): kept, so the next start uses them again.
    public var ingress: URL { directory.appendingPathComponent("ingress") }
}

/// Files written whole (temporary file, then rename) and, for secrets, readable by the owner only.
public enum StateFiles {
    public static func write(_ bytes: [UInt8], to url: URL, secret: Bool) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let mode: mode_t = secret ? 0o600 : 0o644
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: temporary.path]) }
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0, rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }

    public static func read(_ url: URL) -> [UInt8]? {
        (try? Data(contentsOf: url)).map { Array($0) }
    }
}

/// meshctl's local control plane: a Kubernetes-compatible API over HTTPS on 127.0.0.1, state in SQLite, a CA and
/// server certificate and a bearer token made on first start and kept in the state directory.
public final class LocalControlPlane: @unchecked Sendable {
    public let paths: LocalStatePaths
    public let port: Int
    public let token: String
    public let authorityPEM: [UInt8]
    private let loops: [EventLoop]
    private let server: HTTPServer
    public let api: KubernetesAPI
    /// Forwards connections to Services' cluster IPs to their ready endpoints.
    public let serviceProxy: ServiceProxy
    /// The controllers and the kubelet, when this control plane runs workloads.
    let workloads: LocalWorkloads?
    /// The pilot that configures the sidecars, when this control plane runs workloads.
    public let pilot: LocalPilot?
    /// The ingress gateway's host ports, when this control plane runs one.
    public let ingress: IngressSettings?

    /// Prepares the state directory (credentials made if missing) and binds the port (0: any free one). With
    /// `workloads`, it also runs what is applied: controllers, and pods as local processes; with `ingress` too, the
    /// `istio-ingressgateway` of `istio-system`, reached from this machine at the host ports.
    public init(stateDirectory: URL, port: Int, loops loopCount: Int = 2, workloads settings: WorkloadSettings? = nil, ingress: IngressSettings? = nil) throws {
        paths = LocalStatePaths(directory: stateDirectory)
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let credentials = try Self.credentials(paths)
        token = credentials.token
        authorityPEM = credentials.authority
        // The store holds Secrets: owner-only, and SQLite gives its journal files the same mode.
        if !FileManager.default.fileExists(atPath: paths.database.path) {
            FileManager.default.createFile(atPath: paths.database.path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let store = try ObjectStore(path: paths.database.path)
        api = KubernetesAPI(store: store, token: token)
        loops = try (0..<max(1, loopCount)).map { try EventLoop(name: "meshctl-api-\($0)") }
        // HTTP/2 where the client offers it (kubectl's Go client and libcurl do), HTTP/1.1 otherwise, as a real API server.
        var configuration = TLSServerConfiguration(identity: TLSIdentity(chain: [credentials.serverCertificate], key: credentials.serverKey))
        configuration.applicationProtocols = ["h2", "http/1.1"]
        let tls = try TLSServerContext(configuration)
        let h2 = HTTP2Service(maxBodyBytes: Self.maxBodyBytes, idleTimeout: nil) { [api] request, responder in api.handle(request, responder) }
        server = try HTTPServer(host: "127.0.0.1", port: port, loops: loops, tls: tls, maxBodyBytes: Self.maxBodyBytes,
                                handoffs: ["h2": { h2.connectionHandler() }]) { [api] request, responder in
            api.handle(request, responder)
        }
        self.port = server.port
        api.serverAddress = "127.0.0.1:\(server.port)"
        let api = self.api
        workloads = settings.map { LocalWorkloads(api: api, settings: $0, stateDirectory: stateDirectory) }
        let statePaths = paths
        pilot = try settings.map { settings in
            try LocalPilot(store: store, paths: statePaths, istioStats: settings.sidecarProxy != "envoy", log: { line in api.log(line) })
        }
        try Bootstrap.seed(api)
        self.ingress = settings == nil ? nil : ingress
        serviceProxy = try ServiceProxy(store: store, namesFile: paths.names, hostPorts: self.ingress.map(IngressGateway.hostPorts) ?? []) { [api] line in
            api.log(line)
        }
    }

    public var url: String { "https://127.0.0.1:\(port)" }

    /// The largest request body the API reads (3 MiB, as a real API server's limit on most writes).
    static let maxBodyBytes = 3 * 1024 * 1024

    /// Connections served so far by the protocol ALPN chose (`h2`, `http/1.1`).
    public var connectionsByProtocol: [String: Int] { server.connectionsByProtocol }

    /// Ends the pod processes a control plane on `stateDirectory` left running (one killed before it could stop
    /// them); returns how many there were.
    @discardableResult
    public static func endLeftoverPods(stateDirectory: URL) -> Int {
        let marker = ("MESHCTL_LOCAL_STATE", stateDirectory.standardizedFileURL.path)
        let count = ChildProcess.processes(carrying: "\(marker.0)=\(marker.1)").count
        Kubelet.endLeftovers(marker: marker)
        return count
    }

    /// The pod processes running now (tests).
    var podProcessIDs: [pid_t] { workloads?.kubelet.processIDs ?? [] }

    public func start() throws {
        for loop in loops { loop.start() }
        server.start()
        try serviceProxy.start()
        if let pilot {
            try pilot.start()
            api.podPortOverride = IstiodPod.override(pilotAddress: pilot.address)
            try IstiodPod.ensure(api)
            try StateFiles.write(Array("\(pilot.address)\n".utf8), to: paths.pilot, secret: false)
        }
        if let ingress {
            try IngressGateway.ensure(api)
            try StateFiles.write(Array(ingress.fileText.utf8), to: paths.ingress, secret: false)
        }
        try workloads?.start()
        try StateFiles.write(Array("\(url)\n\(Int(Date().timeIntervalSince1970))\n".utf8), to: paths.endpoint, secret: false)
    }

    /// Stops the pods (when it runs them; none is left running), then the server.
    public func stop() {
        workloads?.stop()
        if let pilot {
            pilot.stop()
            IstiodPod.remove(api)
            try? FileManager.default.removeItem(at: paths.pilot)
        }
        serviceProxy.stop()
        server.stop()
        for loop in loops { loop.stop() }
        try? FileManager.default.removeItem(at: paths.endpoint)
    }

    struct Credentials {
        let token: String
        let authority: [UInt8]
        let serverCertificate: Certificate
        let serverKey: PrivateKey
    }

    /// Reads the CA, server certificate and token, making any that are missing (a new CA means a new server certificate).
    static func credentials(_ paths: LocalStatePaths) throws -> Credentials {
        var authorityKey = StateFiles.read(paths.authorityKey).flatMap { try? PrivateKey(pem: $0) }
        var authority = StateFiles.read(paths.authorityCertificate).flatMap { try? Certificate(pem: $0) }
        var renewed = false
        if authorityKey == nil || authority == nil || !(authority!.isKey(authorityKey!)) {
            let key = try PrivateKey.generateP256()
            let certificate = try Certificate.issue(CertificateRequest(commonName: "meshctl local CA", organization: "meshctl", isAuthority: true,
                                                                       lifetimeSeconds: 10 * 365 * 86_400), for: key)
            try StateFiles.write(try key.pem(), to: paths.authorityKey, secret: true)
            try StateFiles.write(try certificate.pem(), to: paths.authorityCertificate, secret: false)
            authorityKey = key
            authority = certificate
            renewed = true
        }
        var serverKey = StateFiles.read(paths.serverKey).flatMap { try? PrivateKey(pem: $0) }
        var serverCertificate = StateFiles.read(paths.serverCertificate).flatMap { try? Certificate(pem: $0) }
        let expiresSoon = (try? serverCertificate?.summary()).map { $0?.notAfter ?? 0 < Int64(Date().timeIntervalSince1970) + 7 * 86_400 } ?? true
        if renewed || serverKey == nil || serverCertificate == nil || expiresSoon || !(serverCertificate!.isKey(serverKey!)) {
            let key = try PrivateKey.generateP256()
            let certificate = try Certificate.issue(CertificateRequest(commonName: "127.0.0.1", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"],
                                                                       lifetimeSeconds: 365 * 86_400), for: key, signedBy: (authority!, authorityKey!))
            try StateFiles.write(try key.pem(), to: paths.serverKey, secret: true)
            try StateFiles.write(try certificate.pem(), to: paths.serverCertificate, secret: false)
            serverKey = key
            serverCertificate = certificate
        }
        var token = StateFiles.read(paths.token).map { String(decoding: $0, as: UTF8.self).trimmed } ?? ""
        if token.count < 64 {
            var random = [UInt8](repeating: 0, count: 32)
            let source = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            guard source >= 0, Foundation.read(source, &random, 32) == 32 else { throw CocoaError(.fileReadUnknown) }
            close(source)
            token = random.map { String(format: "%02x", $0) }.joined()
            try StateFiles.write(Array(token.utf8), to: paths.token, secret: true)
        }
        return Credentials(token: token, authority: try authority!.pem(), serverCertificate: serverCertificate!, serverKey: serverKey!)
    }
}

/// What local mode's mesh config sets beyond Istio's defaults.
public enum LocalMeshDefaults {
    /// `proxyHttpPort`: each sidecar's HTTP proxy listener (absolute-form requests), HTTP_PROXY of exec apps.
    public static let proxyHTTPPort = 15080
}

/// The objects a fresh control plane starts with, as an Istio install has them.
enum Bootstrap {
    /// Creates what is missing (a deleted istio-system comes back with its ConfigMaps), after finishing any namespace
    /// deletion the last run left Terminating.
    static func seed(_ api: KubernetesAPI) throws {
        try api.finishTerminatingNamespaces()
        for name in ["default", "kube-system", "kube-public", "istio-system"] {
            try api.ensure(.object([("apiVersion", .string("v1")), ("kind", .string("Namespace")), ("metadata", .object([("name", .string(name))]))]))
        }
        // Istio's defaults, plus the sidecars' HTTP proxy port: `meshctl/exec` processes in a pod with a sidecar get
        // HTTP_PROXY pointing at it, since local mode has no iptables to capture their traffic.
        var meshNode = MeshConfiguration.defaultMesh
        meshNode["proxyHttpPort"] = .int(LocalMeshDefaults.proxyHTTPPort)
        let mesh = YAMLEmitter().emit(meshNode)
        try api.ensure(.object([("apiVersion", .string("v1")), ("kind", .string("ConfigMap")),
                                ("metadata", .object([("name", .string("istio")), ("namespace", .string("istio-system")),
                                                      ("labels", .object([("app", .string("istiod")), ("istio.io/rev", .string("default"))]))])),
                                ("data", .object([("mesh", .string(mesh)), ("meshNetworks", .string("networks: {}\n"))]))]))
        let values = JSONValue(yaml: InjectionSettings.builtinValues).serialized
        try api.ensure(.object([("apiVersion", .string("v1")), ("kind", .string("ConfigMap")),
                                ("metadata", .object([("name", .string("istio-sidecar-injector")), ("namespace", .string("istio-system")),
                                                      ("labels", .object([("app", .string("sidecar-injector")), ("istio.io/rev", .string("default"))]))])),
                                ("data", .object([("config", .string(BuiltinTemplates.injectorConfig)), ("values", .string(values))]))]))
        // Earlier meshctl versions stored no template text, only the marker `meshctlTemplates: builtin`: such a
        // ConfigMap gets the templates, and keeps its values.
        if let configMaps = ResourceCatalog.find(apiVersion: "v1", kind: "ConfigMap"),
           try api.store.get(configMaps.key, namespace: "istio-system", name: "istio-sidecar-injector")?["data"]?["meshctlTemplates"] != nil {
            _ = try api.store.update(configMaps.key, namespace: "istio-system", name: "istio-sidecar-injector") { existing, _ in
                var updated = existing
                updated["data"] = .object([("config", .string(BuiltinTemplates.injectorConfig)),
                                           ("values", .string(existing["data"]?["values"]?.string ?? values))])
                return updated
            }
        }
        // The Service the injector webhook calls, as an Istio install has it (local mode answers injection itself).
        func port(_ name: String, _ number: Int, _ target: Int) -> JSONValue {
            .object([("name", .string(name)), ("port", .int(number)), ("protocol", .string("TCP")), ("targetPort", .int(target))])
        }
        try api.ensure(.object([
            ("apiVersion", .string("v1")), ("kind", .string("Service")),
            ("metadata", .object([("name", .string("istiod")), ("namespace", .string("istio-system")),
                                  ("labels", .object([("app", .string("istiod")), ("istio", .string("pilot")), ("istio.io/rev", .string("default"))]))])),
            ("spec", .object([("selector", .object([("app", .string("istiod")), ("istio", .string("pilot"))])),
                              ("ports", .array([port("grpc-xds", 15010, 15010), port("https-dns", 15012, 15012), port("https-webhook", 443, 15017),
                                                port("http-monitoring", 15014, 15014)]))])),
        ]))
        func webhook(_ name: String, namespaceSelector: JSONValue, objectSelector: JSONValue) -> JSONValue {
            .object([
                ("name", .string(name)), ("admissionReviewVersions", .array([.string("v1")])), ("sideEffects", .string("None")),
                ("failurePolicy", .string("Fail")), ("reinvocationPolicy", .string("Never")), ("timeoutSeconds", .int(10)),
                ("clientConfig", .object([("service", .object([("name", .string("istiod")), ("namespace", .string("istio-system")),
                                                               ("path", .string("/inject")), ("port", .int(443))]))])),
                ("rules", .array([.object([("apiGroups", .array([.string("")])), ("apiVersions", .array([.string("v1")])),
                                           ("operations", .array([.string("CREATE")])), ("resources", .array([.string("pods")])),
                                           ("scope", .string("*"))])])),
                ("namespaceSelector", namespaceSelector), ("objectSelector", objectSelector),
            ])
        }
        func expression(_ key: String, _ op: String, _ values: [String] = []) -> JSONValue {
            var pairs: [(key: String, value: JSONValue)] = [("key", .string(key)), ("operator", .string(op))]
            if !values.isEmpty { pairs.append(("values", .array(values.map { .string($0) }))) }
            return .object(pairs)
        }
        func selector(_ expressions: [JSONValue]) -> JSONValue { .object([("matchExpressions", .array(expressions))]) }
        try api.ensure(.object([
            ("apiVersion", .string("admissionregistration.k8s.io/v1")), ("kind", .string("MutatingWebhookConfiguration")),
            ("metadata", .object([("name", .string("istio-sidecar-injector")),
                                  ("labels", .object([("app", .string("sidecar-injector")), ("istio.io/rev", .string("default"))]))])),
            ("webhooks", .array([
                webhook("rev.namespace.sidecar-injector.istio.io",
                        namespaceSelector: selector([expression("istio.io/rev", "In", ["default"]), expression("istio-injection", "DoesNotExist")]),
                        objectSelector: selector([expression("sidecar.istio.io/inject", "NotIn", ["false"])])),
                webhook("rev.object.sidecar-injector.istio.io",
                        namespaceSelector: selector([expression("istio.io/rev", "DoesNotExist"), expression("istio-injection", "DoesNotExist")]),
                        objectSelector: selector([expression("sidecar.istio.io/inject", "NotIn", ["false"]), expression("istio.io/rev", "In", ["default"])])),
                webhook("namespace.sidecar-injector.istio.io",
                        namespaceSelector: selector([expression("istio-injection", "In", ["enabled"])]),
                        objectSelector: selector([expression("sidecar.istio.io/inject", "NotIn", ["false"])])),
                webhook("object.sidecar-injector.istio.io",
                        namespaceSelector: selector([expression("istio-injection", "DoesNotExist"), expression("istio.io/rev", "DoesNotExist")]),
                        objectSelector: selector([expression("sidecar.istio.io/inject", "In", ["true"]), expression("istio.io/rev", "DoesNotExist")])),
            ])),
        ]))
    }
}
