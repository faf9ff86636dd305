import Foundation
import Manifests
import MeshNet
import MeshHTTP1

/// The Kubernetes API over the object store: discovery, OpenAPI, and get, list, watch, create, update, patch and
/// delete for the kinds of `ResourceCatalog`, as kubectl and client libraries call them.
///
/// This file routes requests; each role has its own file: `+Auth`, `+Discovery` (version, OpenAPI), `+Reading`
/// (get, list), `+Watch`, `+Writing` (create, update, patch, delete), `+Scale`, `+PodProxy` (pods/proxy, pods/log),
/// `+Namespaces` (lifecycle) and `+Admission` (validation before storing).
public final class KubernetesAPI: @unchecked Sendable {
    let store: ObjectStore
    let token: [UInt8]
    public let serverVersion: String
    /// host:port clients reach the server at, for legacy discovery.
    public var serverAddress = "127.0.0.1:0"
    /// Bytes a watch may have waiting for a client that does not read before the server ends that watch.
    var watchBacklogLimit = 16 * 1024 * 1024
    /// Seconds before a deleted namespace's contents are purged (Kubernetes keeps it Terminating meanwhile).
    var namespacePurgeDelay: Double = 1.5
    let purgeQueue = DispatchQueue(label: "meshctl.namespace-purge")
    /// Kinds added by applied CustomResourceDefinitions.
    let customKinds = CustomResourceKinds()
    /// Set when controllers run: workload status is theirs then, and pods/log reads these files.
    var runsWorkloads = false
    /// Where a pod proxy request goes instead of `podIP:port` (the istiod pod's 15014 reaches the pilot).
    var podPortOverride: (@Sendable (_ pod: JSONValue, _ port: Int) -> (host: String, port: Int)?)?
    var containerLogs: ContainerLogFiles?

    public init(store: ObjectStore, token: String, serverVersion: String = "v1.32.0") {
        self.store = store
        self.token = Array(token.utf8)
        self.serverVersion = serverVersion
        do { try customKinds.reload(from: store) } catch { log("\(Timestamps.now()) reading the stored CustomResourceDefinitions failed: \(error)") }
    }

    /// Every kind served now: the built-in ones and those of applied CRDs.
    var servedTypes: [ResourceType] { ResourceCatalog.all + customKinds.types }

    /// Where the server reports its own failures (local mode sends standard error to its log file).
    public var log: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        do {
            try route(request, responder)
        } catch let error as APIError {
            send(responder, error.code, error.status)
        } catch StoreError.database(let cause) {
            // Never a 404 or an empty list for what the store could not read: the client sees the failure, the log keeps it.
            log("\(Timestamps.now()) \(request.method) \(request.path): the store failed: \(cause)")
            send(responder, 500, APIError.internalError(cause).status)
        } catch {
            send(responder, 500, APIError(500, "InternalError", "\(error)").status)
        }
    }

    func route(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
        let segments = request.pathSegments
        let path = "/" + segments.joined(separator: "/")
        // Health and version are public, as on a real API server.
        switch path {
        case "/healthz", "/readyz", "/livez":
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", text: "ok"))
            return
        case "/version":
            send(responder, 200, versionInfo())
            return
        default: break
        }
        guard authorized(request) else {
            throw APIError(401, "Unauthorized", "Unauthorized")
        }
        let accept = request.header("Accept")
        switch segments.first {
        case "api":
            if segments.count == 1 {
                if Discovery.wantsAggregated(accept) { send(responder, 200, Discovery.aggregated(core: true, servedTypes), contentType: Discovery.aggregatedContentType) }
                else { send(responder, 200, Discovery.apiVersions(serverAddress: serverAddress)) }
                return
            }
            try resourceRequest(request, responder, group: "", version: segments[1], rest: Array(segments.dropFirst(2)))
        case "apis":
            if segments.count == 1 {
                if Discovery.wantsAggregated(accept) { send(responder, 200, Discovery.aggregated(core: false, servedTypes), contentType: Discovery.aggregatedContentType) }
                else { send(responder, 200, Discovery.groupList(servedTypes)) }
                return
            }
            if segments.count == 2 {
                guard let group = Discovery.apiGroup(segments[1], servedTypes) else { throw notFoundPath() }
                send(responder, 200, group)
                return
            }
            try resourceRequest(request, responder, group: segments[1], version: segments[2], rest: Array(segments.dropFirst(3)))
        case "openapi":
            try openAPI(request, responder, segments: Array(segments.dropFirst()))
        default:
            throw notFoundPath()
        }
    }

    /// 404 for a path the server does not serve (kube-apiserver sends empty details then; clients read them).
    func notFoundPath() -> APIError { APIError(404, "NotFound", "the server could not find the requested resource", details: .object([])) }

    /// Where a resource request points.
    struct Target {
        let type: ResourceType
        let version: String
        /// nil: all namespaces (or a cluster-scoped kind).
        let namespace: String?
        let name: String?
        let subresource: String?

        var storageNamespace: String { type.namespaced ? (namespace ?? "") : "" }
    }

    func resourceRequest(_ request: HTTPRequest, _ responder: HTTPResponder, group: String, version: String, rest: [String]) throws {
        if rest.isEmpty {
            guard let list = Discovery.resourceList(group: group, version: version, servedTypes) else { throw notFoundPath() }
            send(responder, 200, list)
            return
        }
        if try answerReview(request, responder, group: group, version: version, rest: rest) { return }
        let target: Target
        let types = servedTypes
        if rest.count >= 3, rest[0] == "namespaces", let type = ResourceCatalog.find(group: group, version: version, plural: rest[2], in: types), type.namespaced {
            target = Target(type: type, version: version, namespace: rest[1], name: rest.count > 3 ? rest[3] : nil, subresource: rest.count > 4 ? rest[4] : nil)
        } else if let type = ResourceCatalog.find(group: group, version: version, plural: rest[0], in: types) {
            if type.namespaced && rest.count > 1 { throw notFoundPath() }
            target = Target(type: type, version: version, namespace: nil, name: rest.count > 1 ? rest[1] : nil, subresource: rest.count > 2 ? rest[2] : nil)
        } else {
            throw notFoundPath()
        }
        if target.subresource == "scale", ["deployments", "statefulsets", "replicasets"].contains(target.type.plural), let name = target.name {
            try scale(request, responder, target, name: name)
            return
        }
        if Self.servesPodSubresource(target) {
            try podSubresource(request, responder, target)
            return
        }
        if let subresource = target.subresource, !["status", "finalize"].contains(subresource) {
            throw APIError.noSubresource(target.type, target.name ?? "", subresource)
        }
        var request = request
        if let contentType = request.header("Content-Type"), contentType.contains("protobuf") {
            // kubectl's typed create commands send protobuf: the kinds they create are decoded, others refused clearly.
            guard request.method == "POST", let object = try? ProtobufEnvelope.decode(request.body) else {
                throw APIError(415, "UnsupportedMediaType", "meshctl's local control plane reads protobuf only for creating Namespaces, ConfigMaps, "
                               + "Secrets and ServiceAccounts: write the object to a file and use 'kubectl apply -f' (or 'kubectl create -f') instead")
            }
            request.body = object.serializedBytes
            request.headers = request.headers.filter { $0.name.lowercased() != "content-type" } + [("Content-Type", "application/json")]
        }
        let query = request.query
        let dryRun = query["dryRun"] == "All"
        switch (request.method, target.name) {
        case ("GET", nil):
            if ["true", "1", "True"].contains(query["watch"] ?? "") { try watch(request, responder, target) } else { try list(request, responder, target) }
        case ("GET", .some(let name)):
            guard let object = try store.get(target.type.key, namespace: target.storageNamespace, name: name) else { throw APIError.notFound(target.type, name) }
            let shown = presented(object, target)
            if Tables.wanted(request.header("Accept")) {
                send(responder, 200, Tables.table(target.type, [shown], resourceVersion: object["metadata"]?["resourceVersion"]?.string ?? ""))
            } else {
                send(responder, 200, shown)
            }
        case ("POST", nil):
            let object = try body(request)
            let context = try WriteContext(request)
            let created = try create(object, target, dryRun: dryRun, context)
            send(responder, 201, presented(created, target), headers: context.headers)
        case ("PUT", .some(let name)):
            var object = try body(request)
            if object.object != nil, object["kind"] == nil { object["kind"] = .string(target.type.kind) }
            if object.object != nil, object["apiVersion"] == nil { object["apiVersion"] = .string(target.type.apiVersion(target.version)) }
            try requireDecodable(object, target.type)
            let context = try WriteContext(request)
            let (updated, _) = try replace(name, target, dryRun: dryRun, context) { _ in object }
            send(responder, 200, presented(updated, target), headers: context.headers)
        case ("PATCH", .some(let name)):
            let context = try WriteContext(request)
            let (result, created) = try patch(request, name: name, target, dryRun: dryRun, context)
            send(responder, created ? 201 : 200, presented(result, target), headers: context.headers)
        case ("DELETE", .some(let name)):
            let policy = propagationPolicy(request)
            if !dryRun, policy != nil, let owner = try store.get(target.type.key, namespace: target.storageNamespace, name: name) {
                try propagate(policy, from: owner)
            }
            send(responder, 200, presented(try delete(name, target, dryRun: dryRun), target))
        case ("DELETE", nil):
            try deleteCollection(request, responder, target, dryRun: dryRun)
        default:
            throw APIError.methodNotAllowed
        }
        if target.type.key == CustomResourceKinds.definitionsKey && request.method != "GET" { try customKinds.reload(from: store) }
    }

    /// The object as the request's version shows it (Istio's versions share one schema, so only apiVersion changes).
    func presented(_ object: JSONValue, _ target: Target) -> JSONValue {
        var shown = object
        shown["apiVersion"] = .string(target.type.apiVersion(target.version))
        if shown["kind"] == nil { shown["kind"] = .string(target.type.kind) }
        return shown
    }

    func body(_ request: HTTPRequest) throws -> JSONValue {
        let bytes = request.body
        guard let first = bytes.first(where: { ![32, 9, 10, 13].contains($0) }) else { throw APIError.badRequest("the request has no body") }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            do { return try JSONValue.parse(bytes) } catch { throw APIError.badRequest("the body is not valid JSON: \(error)") }
        }
        do {
            guard let document = try YAMLParser.parse(String(decoding: bytes, as: UTF8.self)).first else { throw APIError.badRequest("empty YAML body") }
            return JSONValue(yaml: document.root)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.badRequest("the body is neither JSON nor YAML: \(error)")
        }
    }

    func send(_ responder: HTTPResponder, _ status: Int, _ value: JSONValue, contentType: String = "application/json",
              headers: [(name: String, value: String)] = []) {
        responder.respond(HTTPResponse(status: status, headers: [("Content-Type", contentType)] + headers, body: value.serializedBytes))
    }
}
