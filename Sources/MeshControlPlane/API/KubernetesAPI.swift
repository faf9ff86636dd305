import Foundation
import Manifests
import MeshNet

/// The Kubernetes API over the object store: discovery, OpenAPI, and get, list, watch, create, update, patch and
/// delete for the kinds of `ResourceCatalog`, as kubectl and client libraries call them.
public final class KubernetesAPI: @unchecked Sendable {
    let store: ObjectStore
    private let token: [UInt8]
    public let serverVersion: String
    /// host:port clients reach the server at, for legacy discovery.
    public var serverAddress = "127.0.0.1:0"
    /// Seconds before a deleted namespace's contents are purged (Kubernetes keeps it Terminating meanwhile).
    var namespacePurgeDelay: Double = 1.5
    private let purgeQueue = DispatchQueue(label: "meshctl.namespace-purge")

    public init(store: ObjectStore, token: String, serverVersion: String = "v1.32.0") {
        self.store = store
        self.token = Array(token.utf8)
        self.serverVersion = serverVersion
    }

    // MARK: - Entry

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        do {
            try route(request, responder)
        } catch let error as APIError {
            send(responder, error.code, error.status)
        } catch {
            send(responder, 500, APIError(500, "InternalError", "\(error)").status)
        }
    }

    private func route(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
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
                if Discovery.wantsAggregated(accept) { send(responder, 200, Discovery.aggregated(core: true), contentType: Discovery.aggregatedContentType) }
                else { send(responder, 200, Discovery.apiVersions(serverAddress: serverAddress)) }
                return
            }
            try resourceRequest(request, responder, group: "", version: segments[1], rest: Array(segments.dropFirst(2)))
        case "apis":
            if segments.count == 1 {
                if Discovery.wantsAggregated(accept) { send(responder, 200, Discovery.aggregated(core: false), contentType: Discovery.aggregatedContentType) }
                else { send(responder, 200, Discovery.groupList()) }
                return
            }
            if segments.count == 2 {
                guard let group = Discovery.apiGroup(segments[1]) else { throw notFoundPath() }
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

    private func notFoundPath() -> APIError { APIError(404, "NotFound", "the server could not find the requested resource") }

    private func authorized(_ request: HTTPRequest) -> Bool {
        guard let header = request.header("Authorization"), header.hasPrefix("Bearer ") else { return false }
        let given = Array(header.dropFirst(7).utf8)
        // Constant time: every byte is compared whatever the first difference.
        var difference = given.count ^ token.count
        for index in 0..<max(given.count, token.count) {
            difference |= Int((index < given.count ? given[index] : 0) ^ (index < token.count ? token[index] : 0))
        }
        return difference == 0
    }

    private func versionInfo() -> JSONValue {
        let parts = serverVersion.dropFirst().split(separator: ".")
        return .object([("major", .string(parts.first.map(String.init) ?? "1")), ("minor", .string(parts.dropFirst().first.map(String.init) ?? "0")),
                        ("gitVersion", .string(serverVersion)), ("gitCommit", .string("meshctl")), ("gitTreeState", .string("clean")),
                        ("buildDate", .string("2026-01-01T00:00:00Z")), ("goVersion", .string("meshctl")), ("compiler", .string("swift")),
                        ("platform", .string("linux/amd64"))])
    }

    private func openAPI(_ request: HTTPRequest, _ responder: HTTPResponder, segments: [String]) throws {
        guard segments.first == "v3" else { throw notFoundPath() }
        if segments.count == 1 {
            send(responder, 200, Discovery.openAPIRoot(serverVersion: serverVersion))
            return
        }
        let path = segments.dropFirst().joined(separator: "/")
        guard let groupVersion = Discovery.openAPIGroupVersions.first(where: { $0.path == path }) else { throw notFoundPath() }
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        if request.query["hash"] == Discovery.openAPIHash(serverVersion: serverVersion) { headers.append(("Cache-Control", "public, immutable")) }
        responder.respond(HTTPResponse(status: 200, headers: headers,
                                       body: Discovery.openAPIDocument(group: groupVersion.group, version: groupVersion.version,
                                                                       serverVersion: serverVersion).serializedBytes))
    }

    // MARK: - Resources

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

    private func resourceRequest(_ request: HTTPRequest, _ responder: HTTPResponder, group: String, version: String, rest: [String]) throws {
        if rest.isEmpty {
            guard let list = Discovery.resourceList(group: group, version: version) else { throw notFoundPath() }
            send(responder, 200, list)
            return
        }
        let target: Target
        if rest.count >= 3, rest[0] == "namespaces", let type = ResourceCatalog.find(group: group, version: version, plural: rest[2]), type.namespaced {
            target = Target(type: type, version: version, namespace: rest[1], name: rest.count > 3 ? rest[3] : nil, subresource: rest.count > 4 ? rest[4] : nil)
        } else if let type = ResourceCatalog.find(group: group, version: version, plural: rest[0]) {
            if type.namespaced && rest.count > 1 { throw notFoundPath() }
            target = Target(type: type, version: version, namespace: nil, name: rest.count > 1 ? rest[1] : nil, subresource: rest.count > 2 ? rest[2] : nil)
        } else {
            throw notFoundPath()
        }
        if target.subresource == "scale", ["deployments", "statefulsets", "replicasets"].contains(target.type.plural), let name = target.name {
            try scale(request, responder, target, name: name)
            return
        }
        if let subresource = target.subresource, !["status", "finalize"].contains(subresource) {
            throw APIError(404, "NotFound", "\(target.type.qualifiedName) \"\(target.name ?? "")\" has no \(subresource) in meshctl's local control plane")
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
            guard let object = store.get(target.type.key, namespace: target.storageNamespace, name: name) else { throw APIError.notFound(target.type, name) }
            let shown = presented(object, target)
            if Tables.wanted(request.header("Accept")) {
                send(responder, 200, Tables.table(target.type, [shown], resourceVersion: object["metadata"]?["resourceVersion"]?.string ?? ""))
            } else {
                send(responder, 200, shown)
            }
        case ("POST", nil):
            let object = try body(request)
            let created = try create(object, target, dryRun: dryRun)
            send(responder, 201, presented(created, target))
        case ("PUT", .some(let name)):
            let object = try body(request)
            let (updated, _) = try replace(name, target, dryRun: dryRun) { _ in object }
            send(responder, 200, presented(updated, target))
        case ("PATCH", .some(let name)):
            let (result, created) = try patch(request, name: name, target, dryRun: dryRun)
            send(responder, created ? 201 : 200, presented(result, target))
        case ("DELETE", .some(let name)):
            send(responder, 200, presented(try delete(name, target, dryRun: dryRun), target))
        case ("DELETE", nil):
            try deleteCollection(request, responder, target, dryRun: dryRun)
        default:
            throw APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        }
    }

    /// The `scale` subresource (`kubectl scale`): an autoscaling/v1 Scale over the workload's spec.replicas.
    private func scale(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target, name: String) throws {
        func scaleObject(_ workload: JSONValue) -> JSONValue {
            let metadata = workload["metadata"] ?? .object([])
            return .object([("kind", .string("Scale")), ("apiVersion", .string("autoscaling/v1")),
                            ("metadata", .object([("name", .string(name)), ("namespace", metadata["namespace"] ?? .null),
                                                  ("resourceVersion", metadata["resourceVersion"] ?? .null)])),
                            ("spec", .object([("replicas", workload["spec"]?["replicas"] ?? .int(1))])),
                            ("status", .object([("replicas", workload["status"]?["replicas"] ?? .int(0))]))])
        }
        switch request.method {
        case "GET":
            guard let workload = store.get(target.type.key, namespace: target.storageNamespace, name: name) else { throw APIError.notFound(target.type, name) }
            send(responder, 200, scaleObject(workload))
        case "PUT", "PATCH":
            let change = try body(request)
            let (updated, _) = try replace(name, target, dryRun: request.query["dryRun"] == "All") { current in
                let wanted: JSONValue?
                switch request.method {
                case "PUT": wanted = change["spec"]?["replicas"]
                default:
                    let contentType = request.header("Content-Type") ?? ""
                    let patched = contentType.contains("json-patch") ? try Patches.json(scaleObject(current), change) : Patches.merge(scaleObject(current), change)
                    wanted = patched["spec"]?["replicas"]
                }
                guard let replicas = wanted?.int, replicas >= 0 else {
                    throw APIError.invalid(target.type, name, causes: [("spec.replicas", "Invalid value: must be a whole number of 0 or more")])
                }
                var workload = current
                workload["spec"]?["replicas"] = .int(replicas)
                return workload
            }
            send(responder, 200, scaleObject(updated))
        default:
            throw APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        }
    }

    /// The object as the request's version shows it (Istio's versions share one schema, so only apiVersion changes).
    private func presented(_ object: JSONValue, _ target: Target) -> JSONValue {
        var shown = object
        shown["apiVersion"] = .string(target.type.apiVersion(target.version))
        if shown["kind"] == nil { shown["kind"] = .string(target.type.kind) }
        return shown
    }

    private func body(_ request: HTTPRequest) throws -> JSONValue {
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

    // MARK: Reading

    private func selected(_ request: HTTPRequest, _ target: Target) throws -> (JSONValue) -> Bool {
        let query = request.query
        let labels = try query["labelSelector"].map { text throws(APIError) in try LabelSelectorQuery(parsing: text) }
        let fields = try query["fieldSelector"].map { text throws(APIError) in try FieldSelectorQuery(parsing: text) }
        return { object in
            if let labels, !labels.matches(object.labelMap) { return false }
            return fields?.matches(object) ?? true
        }
    }

    private func list(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target) throws {
        let matches = try selected(request, target)
        let query = request.query
        let limit = query["limit"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } ?? Int.max
        let after = try query["continue"].map { token throws(APIError) in try Self.continuePosition(token) }
        let page = store.page(target.type.key, namespace: target.type.namespaced ? target.namespace : nil, after: after, limit: limit, filter: matches)
        var metadata: [(key: String, value: JSONValue)] = [("resourceVersion", .string(String(page.resourceVersion)))]
        if let next = page.next { metadata.append(("continue", .string(Self.continueToken(next)))) }
        let items = page.items.map { presented($0, target) }
        if Tables.wanted(request.header("Accept")) {
            var table = Tables.table(target.type, items, resourceVersion: String(page.resourceVersion))
            table["metadata"] = .object(metadata)
            send(responder, 200, table)
            return
        }
        send(responder, 200, .object([("kind", .string("\(target.type.kind)List")), ("apiVersion", .string(target.type.apiVersion(target.version))),
                                      ("metadata", .object(metadata)), ("items", .array(items))]))
    }

    /// A list's `continue` token: where the next page starts, opaque to clients.
    static func continueToken(_ position: (namespace: String, name: String)) -> String {
        Data((position.namespace + "/" + position.name).utf8).base64EncodedString()
    }

    static func continuePosition(_ token: String) throws(APIError) -> (namespace: String, name: String) {
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8), let slash = text.firstIndex(of: "/") else {
            throw APIError(410, "Expired", "the provided continue parameter is not valid")
        }
        return (String(text[..<slash]), String(text[text.index(after: slash)...]))
    }

    private func watch(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target) throws {
        let matches = try selected(request, target)
        let query = request.query
        let asTable = Tables.wanted(request.header("Accept"))
        let namespace = target.type.namespaced ? target.namespace : nil
        let key = target.type.key
        let stream = responder.startStream(status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-cache")])
        let sentColumns = Mutex(false)
        func line(_ type: String, _ object: JSONValue) -> [UInt8] {
            var shown = object
            if type != "BOOKMARK" && type != "ERROR" {
                shown = presented(object, target)
                if asTable {
                    let first = sentColumns.withLock { sent in defer { sent = true }; return !sent }
                    shown = Tables.table(target.type, [shown], resourceVersion: object["metadata"]?["resourceVersion"]?.string ?? "", withColumns: first)
                }
            }
            return JSONValue.object([("type", .string(type)), ("object", shown)]).serializedBytes + [10]
        }
        let requested = query["resourceVersion"].flatMap { Int64($0) }
        var from: Int64? = requested
        if requested == nil || requested == 0 {
            // From "now", with the current objects first as ADDED events.
            let (items, version) = store.list(key, namespace: namespace)
            for item in items where matches(item) { stream.send(line("ADDED", item)) }
            from = version
        }
        let started = Result { () throws -> Int in
            try self.store.watch(from: from, filter: { event in
                event.resource == key && (namespace == nil || event.namespace == namespace) && matches(event.object)
            }, deliver: { event in
                stream.send(line(event.kind.rawValue, event.object))
            })
        }
        guard case .success(let token) = started else {
            var oldest: Int64 = 0
            if case .failure(let error) = started, case .expired(let floor) = error as? StoreError { oldest = floor }
            let gone = APIError(410, "Expired", "too old resource version: \(requested ?? 0) (\(oldest))")
            stream.send(line("ERROR", gone.status))
            stream.finish()
            return
        }
        let loop = stream.loop
        let bookmarks = ["true", "1", "True"].contains(query["allowWatchBookmarks"] ?? "")
        let watchedStore = self.store
        var timers: [EventLoop.TimerID] = []
        loop.execute {
            if let seconds = query["timeoutSeconds"].flatMap(Double.init), seconds > 0 {
                timers.append(loop.schedule(after: seconds) { stream.finish() })
            }
            if bookmarks {
                func schedule() {
                    timers.append(loop.schedule(after: 30) {
                        stream.send(line("BOOKMARK", .object([("kind", .string(target.type.kind)), ("apiVersion", .string(target.type.apiVersion(target.version))),
                                                             ("metadata", .object([("resourceVersion", .string(String(watchedStore.resourceVersion)))]))])))
                        schedule()
                    })
                }
                schedule()
            }
            stream.onEnd = {
                watchedStore.stopWatching(token)
                for timer in timers { loop.cancel(timer) }
            }
        }
    }

    // MARK: Writing

    private func create(_ input: JSONValue, _ target: Target, dryRun: Bool) throws -> JSONValue {
        var object = input
        guard object.object != nil else { throw APIError.badRequest("the body must be a JSON object") }
        let type = target.type
        if object["apiVersion"] == nil { object["apiVersion"] = .string(type.apiVersion(target.version)) }
        if object["kind"] == nil { object["kind"] = .string(type.kind) }
        guard object["kind"]?.string == type.kind else {
            throw APIError.badRequest("the kind \(object["kind"]?.serialized ?? "") does not match the URL's resource \(type.plural)")
        }
        var metadata = object["metadata"] ?? .object([])
        if metadata["name"]?.string?.isEmpty ?? true, let prefix = metadata["generateName"]?.string {
            let letters = Array("bcdfghjklmnpqrstvwxz2456789")
            metadata["name"] = .string(prefix + String((0..<5).map { _ in letters.randomElement()! }))
        }
        guard let name = metadata["name"]?.string, !name.isEmpty else {
            throw APIError.invalid(type, "", causes: [("metadata.name", "Required value: name or generateName is required")])
        }
        if type.namespaced {
            let given = metadata["namespace"]?.string
            guard let namespace = target.namespace else { throw APIError.badRequest("a \(type.kind) must be created in a namespace") }
            if let given, !given.isEmpty, given != namespace {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            metadata["namespace"] = .string(namespace)
            try requireNamespace(namespace)
        } else {
            metadata["namespace"] = nil
        }
        object["metadata"] = metadata
        if type.plural == "pods", let namespace = target.namespace { object = try Injection.admit(pod: object, namespace: namespace, store: store) }
        try admit(object, type, name: name)
        if type.plural == "namespaces" {
            if object["status"]?["phase"] == nil { object["status"] = .object([("phase", .string("Active"))]) }
            // As the API server does: every namespace carries its name as a label, for selectors.
            if object["metadata"]?["labels"] == nil { object["metadata"]?["labels"] = .object([]) }
            object["metadata"]?["labels"]?["kubernetes.io/metadata.name"] = .string(name)
        }
        let prepare: (Int64) -> JSONValue = { version in
            var stored = object
            stored["metadata"]?["uid"] = .string(UUID().uuidString.lowercased())
            stored["metadata"]?["resourceVersion"] = .string(String(version))
            stored["metadata"]?["creationTimestamp"] = .string(Timestamps.now())
            stored["metadata"]?["generation"] = .int(1)
            stored["metadata"]?["managedFields"] = nil
            return stored
        }
        if dryRun { return prepare(store.resourceVersion) }
        do {
            return try store.create(type.key, namespace: target.storageNamespace, name: name, prepare)
        } catch StoreError.alreadyExists {
            throw APIError.alreadyExists(type, name)
        }
    }

    private func requireNamespace(_ namespace: String) throws {
        guard let object = store.get("namespaces", namespace: "", name: namespace) else {
            throw APIError(404, "NotFound", "namespaces \"\(namespace)\" not found", details: .object([("name", .string(namespace)), ("kind", .string("namespaces"))]))
        }
        if object["status"]?["phase"]?.string == "Terminating" {
            throw APIError(403, "Forbidden", "unable to create new content in namespace \(namespace) because it is being terminated")
        }
    }

    /// Istio resources pass meshctl's validators before they are stored (422 naming each bad field).
    private func admit(_ object: JSONValue, _ type: ResourceType, name: String) throws {
        guard !type.builtIn else { return }
        if case .checked(_, let problems) = ResourceValidator.validate(object.yamlNode) {
            let errors = problems.filter { $0.severity == .error }
            guard !errors.isEmpty else { return }
            throw APIError.invalid(type, name, causes: errors.map { ($0.path.fieldPath, $0.message) })
        }
    }

    /// Replaces an object with what `change` makes of it; no change writes nothing. Returns the result and whether it changed.
    private func replace(_ name: String, _ target: Target, dryRun: Bool, _ change: (JSONValue) throws -> JSONValue) throws -> (JSONValue, Bool) {
        let type = target.type
        var changed = false
        do {
            let result = try store.update(type.key, namespace: target.storageNamespace, name: name) { current, version in
                var updated = try change(current)
                if let wanted = updated["metadata"]?["resourceVersion"]?.string, !wanted.isEmpty, wanted != current["metadata"]?["resourceVersion"]?.string {
                    throw APIError.conflict(type, name)
                }
                guard updated["metadata"]?["name"]?.string == name || updated["metadata"]?["name"] == nil else {
                    throw APIError.badRequest("the name of the object (\(updated["metadata"]?["name"]?.string ?? "")) does not match the name on the URL (\(name))")
                }
                if updated["apiVersion"] == nil { updated["apiVersion"] = current["apiVersion"] }
                if updated["kind"] == nil { updated["kind"] = current["kind"] }
                // What the server owns stays as it is.
                var metadata = updated["metadata"] ?? .object([])
                for key in ["uid", "creationTimestamp", "namespace", "name", "deletionTimestamp"] { metadata[key] = current["metadata"]?[key] }
                metadata["resourceVersion"] = current["metadata"]?["resourceVersion"]
                metadata["generation"] = current["metadata"]?["generation"]
                metadata["managedFields"] = nil
                updated["metadata"] = metadata
                if type.plural == "namespaces" { updated["status"] = current["status"] }
                if updated == current { return nil }
                try admit(updated, type, name: name)
                if updated["spec"] != current["spec"] {
                    updated["metadata"]?["generation"] = .int((current["metadata"]?["generation"]?.int ?? 0) + 1)
                }
                updated["metadata"]?["resourceVersion"] = .string(String(version))
                changed = true
                return dryRun ? nil : updated
            }
            return (result, changed)
        } catch StoreError.notFound {
            throw APIError.notFound(type, name)
        }
    }

    private func patch(_ request: HTTPRequest, name: String, _ target: Target, dryRun: Bool) throws -> (JSONValue, Bool) {
        let contentType = (request.header("Content-Type") ?? "").split(separator: ";").first.map { String($0).trimmed } ?? ""
        let patch = try body(request)
        let type = target.type
        switch contentType {
        case "application/apply-patch+yaml":
            if store.get(type.key, namespace: target.storageNamespace, name: name) == nil {
                var object = patch
                if object["metadata"]?["name"] == nil { object["metadata"]?["name"] = .string(name) }
                return (try create(object, target, dryRun: dryRun), true)
            }
            var applied = patch
            applied["metadata"]?["managedFields"] = nil
            return (try replace(name, target, dryRun: dryRun) { Patches.merge($0, applied) }.0, false)
        case "application/merge-patch+json", "application/json":
            return (try replace(name, target, dryRun: dryRun) { Patches.merge($0, patch) }.0, false)
        case "application/json-patch+json":
            return (try replace(name, target, dryRun: dryRun) { current throws in try Patches.json(current, patch) }.0, false)
        case "application/strategic-merge-patch+json":
            guard type.builtIn else {
                throw APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: "
                               + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
            }
            return (try replace(name, target, dryRun: dryRun) { current throws in try Patches.strategic(current, patch) }.0, false)
        default:
            throw APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: "
                           + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        }
    }

    static let protectedNamespaces: Set<String> = ["default", "kube-system", "kube-public"]

    private func delete(_ name: String, _ target: Target, dryRun: Bool) throws -> JSONValue {
        let type = target.type
        if type.plural == "namespaces" {
            if Self.protectedNamespaces.contains(name) {
                throw APIError(403, "Forbidden", "namespaces \"\(name)\" is forbidden: this namespace may not be deleted")
            }
            // Terminating first, as Kubernetes does; the contents and then the namespace go a little later.
            let (object, _) = try replace(name, target, dryRun: dryRun) { current in
                var terminating = current
                terminating["metadata"]?["deletionTimestamp"] = current["metadata"]?["deletionTimestamp"] ?? .string(Timestamps.now())
                return terminating
            }
            if dryRun { return object }
            let result = try store.update(type.key, namespace: "", name: name) { current, version in
                guard current["status"]?["phase"]?.string != "Terminating" else { return nil }
                var terminating = current
                terminating["status"] = .object([("phase", .string("Terminating"))])
                terminating["metadata"]?["resourceVersion"] = .string(String(version))
                return terminating
            }
            purgeQueue.asyncAfter(deadline: .now() + namespacePurgeDelay) { [store] in
                for kind in ResourceCatalog.all where kind.namespaced {
                    for item in store.list(kind.key, namespace: name).items {
                        _ = try? store.delete(kind.key, namespace: name, name: item["metadata"]?["name"]?.string ?? "")
                    }
                }
                _ = try? store.delete("namespaces", namespace: "", name: name)
            }
            return result
        }
        guard !dryRun else {
            guard let object = store.get(type.key, namespace: target.storageNamespace, name: name) else { throw APIError.notFound(type, name) }
            return object
        }
        do {
            return try store.delete(type.key, namespace: target.storageNamespace, name: name)
        } catch StoreError.notFound {
            throw APIError.notFound(type, name)
        }
    }

    private func deleteCollection(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target, dryRun: Bool) throws {
        let matches = try selected(request, target)
        let items = store.list(target.type.key, namespace: target.type.namespaced ? target.namespace : nil).items.filter(matches)
        var deleted: [JSONValue] = []
        for item in items {
            guard let name = item["metadata"]?["name"]?.string else { continue }
            let itemTarget = Target(type: target.type, version: target.version, namespace: item["metadata"]?["namespace"]?.string, name: name, subresource: nil)
            if let object = try? delete(name, itemTarget, dryRun: dryRun) { deleted.append(presented(object, target)) }
        }
        send(responder, 200, .object([("kind", .string("\(target.type.kind)List")), ("apiVersion", .string(target.type.apiVersion(target.version))),
                                      ("metadata", .object([("resourceVersion", .string(String(store.resourceVersion)))])), ("items", .array(deleted))]))
    }

    /// Creates `object` unless one of its kind and name exists (start-up objects).
    func ensure(_ object: JSONValue) throws {
        guard let apiVersion = object["apiVersion"]?.string, let kind = object["kind"]?.string,
              let type = ResourceCatalog.find(apiVersion: apiVersion, kind: kind), let name = object["metadata"]?["name"]?.string else { return }
        let namespace = type.namespaced ? object["metadata"]?["namespace"]?.string : nil
        guard store.get(type.key, namespace: namespace ?? "", name: name) == nil else { return }
        let version = String(apiVersion.split(separator: "/").last ?? "v1")
        _ = try create(object, Target(type: type, version: version, namespace: namespace, name: nil, subresource: nil), dryRun: false)
    }

    // MARK: - Output

    private func send(_ responder: HTTPResponder, _ status: Int, _ value: JSONValue, contentType: String = "application/json") {
        responder.respond(HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: value.serializedBytes))
    }
}

/// A value behind a lock, for the little state watch streams share across threads.
final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock(); defer { lock.unlock() }
        return body(&value)
    }
}
