import Foundation
import LocalPods
import Manifests
import MeshControlPlane

/// `meshctl local curl`: an HTTP request from inside local mode, as `kubectl exec sleep -- curl` is used in a cluster.
struct LocalCurlCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "curl",
            abstract: "Make an HTTP request from inside local mode: Service names resolve, and --from sends it from a pod's address",
            discussion: """
            Names resolve as they do in a pod: SERVICE, SERVICE.NAMESPACE, SERVICE.NAMESPACE.svc and
            SERVICE.NAMESPACE.svc.cluster.local (short names in -n's namespace, or the --from pod's), and pods as
            A-B-C-D.NAMESPACE.pod.cluster.local; the request goes to the Service's cluster IP, where local mode
            forwards it to a ready pod. With --from POD (or deploy/NAME) it leaves from that pod's address, so the
            server sees that pod as the caller. Only plain HTTP/1.1 (HTTP/1.0 with -0), and only addresses in 127.0.0.0/8.
            The body goes to standard output; -v writes the request and the answer's status line and headers to
            standard error. Exit 0 on any HTTP answer, 1 when none came (the reason is printed), 22 with --fail on
            a 4xx or 5xx answer, as curl does.
            """,
            examples: [
                Example("Call a Service by name", "meshctl local curl http://echo:8080/"),
                Example("From a pod of a Deployment, with the status line and headers", "meshctl local curl --from deploy/sleep -n shop -v http://echo.shop/headers"),
                Example("Post JSON and fail on an error status", "meshctl local curl -X POST -H 'Content-Type: application/json' -d '{\"a\":1}' --fail http://echo:8080/status/503"),
            ],
            flags: [
                FlagSpec("from", valueName: "POD|deploy/NAME", help: "Send from this pod's address (a pod, or the first ready pod of a Deployment)"),
                FlagSpec("header", short: "H", kind: .repeatedValue, valueName: "'NAME: VALUE'", help: "A request header (repeat for more)"),
                FlagSpec("request", short: "X", valueName: "METHOD", help: "The request method (default GET, or POST with --data)"),
                FlagSpec("data", short: "d", valueName: "DATA", help: "The request body (@FILE reads it from a file)"),
                FlagSpec("verbose", short: "v", kind: .bool, help: "Write the request and the answer's status line and headers to standard error"),
                FlagSpec("http1.0", short: "0", kind: .bool, help: "Send HTTP/1.0 (Istio's sidecars answer it 426 unless ISTIO_META_HTTP10 is \"1\" for them)"),
                FlagSpec("fail", short: "f", kind: .bool, help: "Exit 22 when the answer is a 4xx or 5xx (the body is not printed)"),
                FlagSpec("max-time", short: "m", valueName: "SECONDS", help: "How long to wait for the whole answer", default: "30"),
                LocalMode.stateDirectoryFlag,
            ],
            arguments: [ArgumentSpec("URL", help: "http://HOST[:PORT]/PATH (http:// may be left out)")])
    }

    let invocation: Invocation
    let url: String
    let from: String?
    let headers: [(name: String, value: String)]
    let method: String?
    let data: String?
    let verbose: Bool
    let http10: Bool
    let fail: Bool
    let maxTime: Double

    init(_ invocation: Invocation) throws {
        self.invocation = invocation
        url = invocation.arguments.first ?? ""
        from = invocation.string("from")
        let path = invocation.pathText
        headers = try invocation.strings("header").map { text in
            guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
                throw UsageError(problem: "-H \"\(text)\": a header is NAME: VALUE", commandPath: path)
            }
            return (String(text[..<colon]).trimmingCharacters(in: .whitespaces), String(text[text.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        method = invocation.string("request")
        data = invocation.string("data")
        verbose = invocation.bool("verbose")
        http10 = invocation.bool("http1.0")
        fail = invocation.bool("fail")
        let timeText = invocation.string("max-time") ?? "30"
        guard let seconds = Double(timeText), seconds > 0, seconds <= 3600 else {
            throw UsageError(problem: "--max-time \(timeText): give the seconds to wait, from 0 to 3600 (such as 30 or 2.5)", commandPath: path)
        }
        maxTime = seconds
    }

    func validate() throws {
        if let method, method.isEmpty || !method.allSatisfy({ $0.isLetter || $0 == "-" }) {
            throw UsageError(problem: "-X \"\(method)\": a method is a word such as GET, POST or DELETE", commandPath: invocation.pathText)
        }
        if let from, from.isEmpty || from.hasSuffix("/") {
            throw UsageError(problem: "--from \"\(from)\": give a pod name or deploy/NAME", commandPath: invocation.pathText)
        }
    }

    func run(_ context: CommandContext) throws {
        let mode = LocalMode(invocation, context.environment)
        let namespace = context.global.namespace ?? "default"
        let target: CallURL
        do { target = try CallURL(url) } catch { throw UsageError(problem: error.description, commandPath: invocation.pathText) }
        guard let text = StateFiles.read(mode.paths.names) else {
            throw CommandFailure("local mode has no names file in \(mode.paths.directory.path): start it with `meshctl local up`"
                                 + (mode.isDefault ? "" : " --state-dir \(mode.paths.directory.path)"))
        }
        let origin = try from.map { try LocalPodAddress.find($0, namespace: namespace, mode: mode) }
        let source = origin?.address
        let address: String
        do { address = try ClusterNames(fileText: String(decoding: text, as: UTF8.self)).resolve(target.host, namespace: namespace)[0] } catch {
            throw CommandFailure(error.description)
        }
        var body: [UInt8] = []
        if let data {
            if data.hasPrefix("@") {
                let path = FileSystem.resolve(String(data.dropFirst()), in: context.environment.workingDirectory)
                guard let bytes = FileManager.default.contents(atPath: path) else { throw CommandFailure.cannotRead(path, reason: "no such file, or not readable") }
                body = Array(bytes)
            } else {
                body = Array(data.utf8)
            }
        }
        var sent = headers
        if data != nil && !sent.contains(where: { $0.name.lowercased() == "content-type" }) {
            sent.append(("Content-Type", "application/x-www-form-urlencoded"))
        }
        let request = HTTPCall.Request(method: method ?? (data == nil ? "GET" : "POST"), url: target, headers: sent, body: body, version: http10 ? 10 : 11)
        if verbose {
            context.stderr.write("* \(target.host) is \(address); connecting to \(address):\(target.port)" + (source.map { " from \($0)" } ?? "")
                                 + (origin?.sidecar.map { " through its sidecar at \($0.host):\($0.port)" } ?? "") + "\n")
            context.stderr.write("> \(request.method) \(target.target) HTTP/\(http10 ? "1.0" : "1.1")\n> Host: \(target.hostHeader)\n")
            for (name, value) in sent { context.stderr.write("> \(name): \(value)\n") }
            context.stderr.write(">\n")
        }
        switch HTTPCall.performWaiting(request, address: address, source: source, through: origin?.sidecar, timeout: maxTime) {
        case .failure(let failure):
            let down = mode.runningProcess == nil ? " (local mode is not running: `meshctl local up`" + (mode.isDefault ? "" : " --state-dir \(mode.paths.directory.path)") + ")" : ""
            throw CommandFailure(failure.description + down)
        case .success(let response):
            if verbose {
                context.stderr.write("< HTTP/\(response.head.version == 10 ? "1.0" : "1.1") \(response.head.status) \(response.head.reason)\n")
                for (name, value) in response.head.headers { context.stderr.write("< \(name): \(value)\n") }
                context.stderr.write("<\n")
            }
            if fail && response.head.status >= 400 { throw HTTPErrorStatus(status: response.head.status) }
            context.stdout.write(String(decoding: response.body, as: UTF8.self))
        }
    }
}

/// `--fail` and a 4xx or 5xx answer: exit 22, as curl.
struct HTTPErrorStatus: MeshError {
    let status: Int
    var exitCode: ExitCode { .httpErrorStatus }
    var message: String { "the requested URL returned error: \(status)" }
}

/// The address of a pod local mode runs, read from its store: the pod IP, or for a pod with a sidecar its
/// application address and the sidecar its connections go through.
struct LocalPodAddress {
    let address: String
    let sidecar: OutboundProxy?

    init(pod: JSONValue, podIP: String) {
        let containers = (pod["spec"]?["containers"]?.array ?? []) + (pod["spec"]?["initContainers"]?.array ?? [])
        if containers.contains(where: { $0["name"]?.string == "istio-proxy" }), let application = SidecarAddresses.application(podIP: podIP) {
            address = application
            sidecar = SidecarAddresses.outboundProxy(podIP: podIP)
        } else {
            address = podIP
            sidecar = nil
        }
    }

    /// `POD`, `pod/POD`, or `deploy/NAME` (`deployment/`, `deployments/`): the pod, or the first ready pod of the
    /// Deployment (by name, as kubectl exec picks one).
    static func find(_ reference: String, namespace: String, mode: LocalMode) throws -> LocalPodAddress {
        guard FileManager.default.fileExists(atPath: mode.paths.database.path) else {
            throw CommandFailure("local mode has no store in \(mode.paths.directory.path): start it with `meshctl local up`")
        }
        let store: ObjectStore
        do { store = try ObjectStore(path: mode.paths.database.path) } catch {
            throw CommandFailure("cannot read the local store \(mode.paths.database.path): \(error)")
        }
        let parts = reference.split(separator: "/", maxSplits: 1).map(String.init)
        let kind = parts.count == 2 ? parts[0].lowercased() : "pod"
        let name = parts.last ?? reference
        switch kind {
        case "pod", "pods", "po":
            guard let pod = try store.get("pods", namespace: namespace, name: name) else {
                throw CommandFailure("pod \(name) not found in namespace \(namespace) (list them with `kubectl get pods -n \(namespace)`)")
            }
            guard let address = pod["status"]?["podIP"]?.string, !address.isEmpty else {
                let phase = pod["status"]?["phase"]?.string ?? "Pending"
                throw CommandFailure("pod \(namespace)/\(name) has no IP address yet (phase \(phase)); wait until it runs: kubectl get pod \(name) -n \(namespace) -w")
            }
            return LocalPodAddress(pod: pod, podIP: address)
        case "deploy", "deployment", "deployments":
            guard let deployment = try store.get("deployments.apps", namespace: namespace, name: name) else {
                throw CommandFailure("deployment \(name) not found in namespace \(namespace) (list them with `kubectl get deploy -n \(namespace)`)")
            }
            let selector = deployment["spec"]?["selector"]?["matchLabels"]?.stringMap ?? [:]
            let pods = try store.list("pods", namespace: namespace).items.filter { pod in
                let labels = pod.labelMap
                return !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value } && pod["metadata"]?["deletionTimestamp"] == nil
            }
            let ready = pods.filter { pod in
                (pod["status"]?["conditions"]?.array ?? []).contains { $0["type"]?.string == "Ready" && $0["status"]?.string == "True" }
            }
            guard let pod = (ready + pods).first(where: { !($0["status"]?["podIP"]?.string ?? "").isEmpty }), let address = pod["status"]?["podIP"]?.string else {
                throw CommandFailure("deployment \(namespace)/\(name) has no pod with an IP address yet (\(pods.count) pod(s)); "
                                     + "wait for it: kubectl rollout status deploy/\(name) -n \(namespace)")
            }
            return LocalPodAddress(pod: pod, podIP: address)
        default:
            throw CommandFailure("--from \(reference): give a pod name, pod/NAME or deploy/NAME")
        }
    }
}
