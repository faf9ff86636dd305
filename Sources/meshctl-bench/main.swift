import Foundation
import KubeClient
import Manifests
import MeshConformance
import MeshControlPlane

// meshctl's benchmarks, printed as a table. `make bench` builds everything in release mode and runs this
// with the paths it needs:  meshctl-bench MESHCTL LIBYAML_HARNESS WORKDIR

#if canImport(Glibc)
import Glibc
#endif

struct Row {
    var benchmark: String
    var result: String
    var reference: String
    var note: String
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Runs a program to completion with its output discarded; returns the wall time in seconds.
func timeProcess(_ path: String, _ arguments: [String]) -> Double {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let start = DispatchTime.now().uptimeNanoseconds
    guard posix_spawn(&pid, path, &actions, nil, argv, environ) == 0 else { return .nan }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// The results, one aligned row each.
func printTable(_ rows: [Row]) {
    let headers = Row(benchmark: "BENCHMARK", result: "RESULT", reference: "REFERENCE", note: "NOTE")
    let all = [headers] + rows
    let widths = [all.map(\.benchmark.count).max()!, all.map(\.result.count).max()!, all.map(\.reference.count).max()!]
    for row in all {
        let cells = [row.benchmark, row.result, row.reference]
        var line = ""
        for (cell, width) in zip(cells, widths) { line += cell + String(repeating: " ", count: width - cell.count) + "   " }
        print(line + row.note)
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// A deterministic stream of Deployments and Services, about `targetBytes` long.
func generateManifests(targetBytes: Int) -> String {
    var text = ""
    var index = 0
    while text.utf8.count < targetBytes {
        let name = "app-\(index)"
        text += """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: \(name)
          namespace: shop
          labels:
            app: \(name)
            version: v\(index % 3 + 1)
          annotations:
            description: "Serves the \(name) part of the shop, version \(index % 3 + 1)"
        spec:
          replicas: \(index % 5 + 1)
          selector:
            matchLabels:
              app: \(name)
          template:
            metadata:
              labels:
                app: \(name)
                version: v\(index % 3 + 1)
            spec:
              containers:
              - name: \(name)
                image: registry.example.com/shop/\(name):1.\(index % 10).0
                args: ["--port", "8080", "--log-level=info"]
                ports:
                - containerPort: 8080
                  name: http
                env:
                - name: GREETING
                  value: 'hello: world'
                - name: ENABLED
                  value: "true"
                readinessProbe:
                  httpGet:
                    path: /healthz
                    port: 8080
                resources:
                  limits:
                    cpu: 500m
                    memory: 128Mi
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: shop
        spec:
          selector:
            app: \(name)
          ports:
          - name: http
            port: 80
            targetPort: 8080
        ---

        """
        index += 1
    }
    return text
}

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: meshctl-bench MESHCTL LIBYAML_HARNESS WORKDIR\n".utf8))
    exit(64)
}
let meshctl = arguments[1], harness = arguments[2], workdir = arguments[3]
var rows: [Row] = []
// MESHCTL_BENCH_ONLY=echo runs only the echo pod's memory rows.
if ProcessInfo.processInfo.environment["MESHCTL_BENCH_ONLY"] == "echo" {
    try? FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
    printTable(EchoFootprint.rows(meshctl: meshctl, workdir: workdir))
    exit(0)
}

// MESHCTL_BENCH_ONLY=local-api runs only the local API server's load benchmark.
if ProcessInfo.processInfo.environment["MESHCTL_BENCH_ONLY"] == "local-api" {
    try? FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
    printTable(try LocalAPILoad.run(meshctl: meshctl, workdir: workdir))
    exit(0)
}
// MESHCTL_BENCH_ONLY=local-pods runs only local mode's pod benchmark.
if ProcessInfo.processInfo.environment["MESHCTL_BENCH_ONLY"] == "local-pods" {
    try? FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
    printTable(try LocalWorkloadsLoad.run(meshctl: meshctl, workdir: workdir))
    exit(0)
}

// MESHCTL_BENCH_ONLY=local-mesh runs only the local mesh's push benchmark.
if ProcessInfo.processInfo.environment["MESHCTL_BENCH_ONLY"] == "local-mesh" {
    try? FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
    printTable(try LocalMeshLoad.run(meshctl: meshctl, workdir: workdir))
    exit(0)
}

// 1. Start-up: `meshctl version`, median of 50 runs after 3 warm-up runs.
for _ in 0..<3 { _ = timeProcess(meshctl, ["version", "--remote=false"]) }
let startup = median((0..<50).map { _ in timeProcess(meshctl, ["version", "--remote=false"]) }) * 1000
rows.append(Row(benchmark: "meshctl version --remote=false start-up (median of 50)", result: String(format: "%.1f ms", startup),
                reference: "goal <= 15 ms", note: startup <= 15 ? "ok" : "SLOWER THAN GOAL"))

// 2. YAML parse + emit on a ~10 MB manifest stream, beside libyaml's own parse + emit.
try? FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
let manifestPath = workdir + "/manifests.yaml"
let manifest = generateManifests(targetBytes: 10 * 1024 * 1024)
try manifest.write(toFile: manifestPath, atomically: true, encoding: .utf8)
let megabytes = Double(manifest.utf8.count) / 1_048_576
var best = Double.infinity
var documents = 0
for _ in 0..<3 {
    let elapsed = try seconds {
        let parsed = try YAMLParser.parse(manifest, file: manifestPath)
        documents = parsed.count
        let output = YAMLEmitter().emit(documents: parsed.map(\.root))
        precondition(!output.isEmpty)
    }
    best = min(best, elapsed)
}
let ours = megabytes / best

let pipe = Pipe()
let process = Process()
process.executableURL = URL(fileURLWithPath: harness)
process.arguments = [manifestPath, "3"]
process.standardOutput = pipe
try process.run()
process.waitUntilExit()
let fields = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    .split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
let libyaml = fields.count == 2 ? (fields[1] / 1_048_576) / fields[0] : .nan
let ratio = ours / libyaml
rows.append(Row(benchmark: String(format: "YAML parse+emit, %.1f MB, %d documents", megabytes, documents),
                result: String(format: "%.1f MB/s", ours), reference: String(format: "libyaml %.1f MB/s", libyaml),
                note: String(format: "%.0f%% of libyaml (goal >= 50%%)", ratio * 100)))

// 3. kube-inject on a generated stream of 5,000 Deployments, with the chart's default configuration.
let corpus = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let corpusRoot = ConformanceHarness.locateCorpus(packageRoot: FileManager.default.currentDirectoryPath)
if let settings = try? KubeInjectCorpus(root: URL(fileURLWithPath: corpusRoot).appendingPathComponent("kube-inject")).defaultSettings() {
    _ = corpus
    var deployments = ""
    for index in 0..<5000 {
        deployments += """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: app-\(index)
          namespace: shop
        spec:
          replicas: 2
          selector:
            matchLabels: {app: app-\(index)}
          template:
            metadata:
              labels: {app: app-\(index), version: v1}
            spec:
              containers:
              - name: app
                image: registry.example.com/shop/app:1.0
                ports: [{name: http, containerPort: 8080}]
                readinessProbe: {httpGet: {path: /ready, port: http}}
        ---

        """
    }
    let injector = SidecarInjector(settings: settings)
    var outputBytes = 0
    let elapsed = try seconds { outputBytes = try injector.inject(deployments, file: "bench").output.utf8.count }
    let inputMB = Double(deployments.utf8.count) / 1_048_576
    rows.append(Row(benchmark: "kube-inject, 5000 Deployments (\(String(format: "%.1f", inputMB)) MB in, \(String(format: "%.1f", Double(outputBytes) / 1_048_576)) MB out)",
                    result: String(format: "%.0f docs/s", 5000 / elapsed),
                    reference: String(format: "%.1f MB/s in", inputMB / elapsed),
                    note: String(format: "YAML layer alone: %.1f MB/s", ours)))
} else {
    rows.append(Row(benchmark: "kube-inject", result: "skipped", reference: "", note: "no conformance corpus at \(corpusRoot)"))
}

// 4. validate on a generated stream of 10,000 Istio resources.
var resources = ""
for index in 0..<10_000 {
    switch index % 4 {
    case 0:
        resources += "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-\(index), namespace: shop}\nspec:\n  hosts: [svc-\(index)]\n  http:\n  - match: [{uri: {prefix: /api}}]\n    route:\n    - destination: {host: svc-\(index), subset: v1}\n      weight: 90\n    - destination: {host: svc-\(index), subset: v2}\n      weight: 10\n    retries: {attempts: 3, perTryTimeout: 2s}\n    timeout: 10s\n---\n"
    case 1:
        resources += "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr-\(index), namespace: shop}\nspec:\n  host: svc-\(index)\n  trafficPolicy:\n    connectionPool: {tcp: {maxConnections: 100}, http: {http1MaxPendingRequests: 10}}\n    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n---\n"
    case 2:
        resources += "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ap-\(index), namespace: shop}\nspec:\n  selector: {matchLabels: {app: svc-\(index)}}\n  action: ALLOW\n  rules:\n  - from: [{source: {principals: [cluster.local/ns/shop/sa/frontend]}}]\n    to: [{operation: {methods: [GET], paths: [/api/*]}}]\n---\n"
    default:
        resources += "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se-\(index), namespace: shop}\nspec:\n  hosts: [api-\(index).example.com]\n  ports: [{number: 443, name: https, protocol: TLS}]\n  resolution: DNS\n  location: MESH_EXTERNAL\n---\n"
    }
}
var validated = 0
let validationTime = try seconds {
    for document in try YAMLParser.parse(resources) where !document.root.isNull {
        if case .checked(_, let problems) = ResourceValidator.validate(document.root), problems.contains(where: { $0.severity == .error }) {
            fatalError("generated resource \(document.index) is invalid: \(problems)")
        }
        validated += 1
    }
}
rows.append(Row(benchmark: "validate, \(validated) Istio resources (parse included)", result: String(format: "%.0f resources/s", Double(validated) / validationTime),
                reference: String(format: "%.2f s", validationTime), note: "VirtualService, DestinationRule, AuthorizationPolicy, ServiceEntry"))

// 5. analyze: every analyzer over the same 10,000 resources (parse included).
var analyzedMessages = 0
let analyzeTime = try seconds {
    let parsed = try YAMLParser.parse(resources).compactMap { AnalyzedResource($0.root, file: "bench.yaml") }
    analyzedMessages = Analyzers.run(Analyzers.all, on: AnalysisInput(resources: parsed)).count
}
rows.append(Row(benchmark: "analyze, 10000 Istio resources, all analyzers (parse included)", result: String(format: "%.2f s", analyzeTime),
                reference: "goal < 2 s", note: "\(Analyzers.all.count) analyzers, \(analyzedMessages) messages"))

// 6. The local control plane: create throughput over one HTTPS connection (libcurl), and kubectl listing 10,000
// ConfigMaps end to end (a warm kubectl: discovery cached by a first run).
do {
    let state = URL(fileURLWithPath: workdir).appendingPathComponent("local-\(getpid())")
    try? FileManager.default.removeItem(at: state)
    defer { try? FileManager.default.removeItem(at: state) }
    let plane = try LocalControlPlane(stateDirectory: state, port: 0)
    try plane.start()
    defer { plane.stop() }
    let client = try CurlClient(certificateAuthorities: plane.authorityPEM)
    let headers = [("Authorization", "Bearer \(plane.token)"), ("Content-Type", "application/json")]
    _ = try client.perform(HTTPClientRequest(method: "POST", url: plane.url + "/api/v1/namespaces", headers: headers,
                                             body: Array(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}}"#.utf8)))
    func create(_ index: Int) throws {
        let body = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-\#(index)","labels":{"app":"bench"}},"data":{"key":"value-\#(index)"}}"#
        let response = try client.perform(HTTPClientRequest(method: "POST", url: plane.url + "/api/v1/namespaces/bench/configmaps", headers: headers,
                                                            body: Array(body.utf8)))
        guard response.status == 201 else { throw CocoaError(.fileWriteUnknown) }
    }
    let createTime = try seconds { for index in 0..<1000 { try create(index) } }
    rows.append(Row(benchmark: "local API: create 1,000 ConfigMaps (HTTPS, one connection)", result: String(format: "%.0f objects/s", 1000 / createTime),
                    reference: String(format: "%.2f s", createTime), note: "each one SQLite transaction (WAL)"))
    for index in 1000..<10_000 { try create(index) }
    let kubectlPath = "/usr/bin/kubectl"
    if FileManager.default.isExecutableFile(atPath: kubectlPath) {
        let kubeconfig = state.appendingPathComponent("bench-kubeconfig")
        try """
            apiVersion: v1
            kind: Config
            clusters: [{name: b, cluster: {server: "\(plane.url)", certificate-authority-data: \(Data(plane.authorityPEM).base64EncodedString())}}]
            users: [{name: b, user: {token: \(plane.token)}}]
            contexts: [{name: b, context: {cluster: b, user: b}}]
            current-context: b
            """.write(to: kubeconfig, atomically: true, encoding: .utf8)
        let arguments = ["--kubeconfig", kubeconfig.path, "--cache-dir", state.appendingPathComponent("cache").path, "get", "configmaps", "-n", "bench"]
        _ = timeProcess(kubectlPath, arguments)
        let oneRequest = median((0..<3).map { _ in timeProcess(kubectlPath, arguments + ["--chunk-size=0"]) })
        rows.append(Row(benchmark: "kubectl get configmaps --chunk-size=0, 10,000 objects (local API)", result: String(format: "%.2f s", oneRequest),
                        reference: "goal < 1 s", note: "median of 3, warm kubectl; one Table of 10,000 rows"))
        let paged = median((0..<3).map { _ in timeProcess(kubectlPath, arguments) })
        rows.append(Row(benchmark: "kubectl get configmaps, 10,000 objects, kubectl's 500-object pages", result: String(format: "%.2f s", paged),
                        reference: "", note: "20 requests; kubectl throttles itself to 5 requests/s after 10 (client-side, any server)"))
        // The server's share of the paged run: the same 20 pages over one connection.
        let tableHeaders = [("Authorization", "Bearer \(plane.token)"), ("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")]
        let serverTime = try seconds {
            var next: String? = ""
            while let token = next {
                let query = "limit=500" + (token.isEmpty ? "" : "&continue=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token))
                let response = try client.perform(HTTPClientRequest(url: plane.url + "/api/v1/namespaces/bench/configmaps?" + query, headers: tableHeaders))
                next = (try JSONValue.parse(response.body))["metadata"]?["continue"]?.string
            }
        }
        rows.append(Row(benchmark: "local API: the same 20 Table pages over one connection", result: String(format: "%.2f s", serverTime),
                        reference: "", note: "the server's part of the paged kubectl run"))

        // meshctl's client beside kubectl: one object again and again, and the 10,000-object list.
        let access = ClusterAccess(contextName: "bench", server: plane.url, namespace: "bench", certificateAuthority: plane.authorityPEM,
                                   insecureSkipTLSVerify: false, tlsServerName: nil, proxyURL: nil, credentials: .token(plane.token), source: "bench")
        let kube = try KubernetesClient(access: access)
        let gets = 2000
        let getTime = try seconds { for _ in 0..<gets { _ = try kube.get("/api/v1/namespaces/bench/configmaps/cm-1") } }
        let kubectlGet = median((0..<5).map { _ in timeProcess(kubectlPath, ["--kubeconfig", kubeconfig.path, "--cache-dir", state.appendingPathComponent("cache").path,
                                                                             "get", "configmap", "cm-1", "-n", "bench", "-o", "json"]) })
        rows.append(Row(benchmark: "KubeClient: GET one object, reused connection", result: String(format: "%.0f requests/s", Double(gets) / getTime),
                        reference: String(format: "kubectl %.0f/s", 1 / kubectlGet), note: "kubectl: one process per get (median of 5)"))
        var listed = 0
        let listTime = try seconds { listed = try kube.list("/api/v1/namespaces/bench/configmaps").count }
        let kubectlList = median((0..<3).map { _ in timeProcess(kubectlPath, ["--kubeconfig", kubeconfig.path, "--cache-dir", state.appendingPathComponent("cache").path,
                                                                              "get", "configmaps", "-n", "bench", "-o", "json", "--chunk-size=500"]) })
        rows.append(Row(benchmark: "KubeClient: list \(listed) objects in 500-object pages", result: String(format: "%.2f s", listTime),
                        reference: String(format: "kubectl %.2f s", kubectlList), note: "kubectl -o json, same pages (it throttles itself after 10 requests)"))
    } else {
        rows.append(Row(benchmark: "kubectl get configmaps, 10,000 objects", result: "skipped", reference: "", note: "no kubectl at \(kubectlPath)"))
    }
} catch {
    rows.append(Row(benchmark: "local API", result: "failed", reference: "", note: "\(error)"))
}

// 7. The local API server under load, in its own process.
do {
    rows += try LocalAPILoad.run(meshctl: meshctl, workdir: workdir)
} catch {
    rows.append(Row(benchmark: "local API under load", result: "failed", reference: "", note: "\(error)"))
}

// The echo pod's memory.
rows += EchoFootprint.rows(meshctl: meshctl, workdir: workdir)

// 8. Local mode running pods: 100 of one Deployment, from apply to ready, and memory per pod process.
do {
    rows += try LocalWorkloadsLoad.run(meshctl: meshctl, workdir: workdir)
} catch {
    rows.append(Row(benchmark: "local mode pods", result: "failed", reference: "", note: "\(error)"))
}

// 9. Local mode as a mesh: a VirtualService's way to 100 sidecars.
do {
    rows += try LocalMeshLoad.run(meshctl: meshctl, workdir: workdir)
} catch {
    rows.append(Row(benchmark: "local mesh push", result: "failed", reference: "", note: "\(error)"))
}

printTable(rows)
