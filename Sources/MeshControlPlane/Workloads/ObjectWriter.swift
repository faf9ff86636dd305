import Foundation
import Manifests

/// How controllers and the kubelet change objects: creations go through the API (defaults, admission and the
/// injector apply, as for any client), status and bookkeeping writes straight to the store (no generation bump).
final class ObjectWriter: @unchecked Sendable {
    let api: KubernetesAPI
    var store: ObjectStore { api.store }
    let clock: any WorkloadClock

    init(api: KubernetesAPI, clock: any WorkloadClock) {
        self.api = api
        self.clock = clock
    }

    static func type(_ resource: String) -> ResourceType? {
        ResourceCatalog.all.first { $0.key == resource }
    }

    /// Creates `object` (of `resource`, in its metadata's namespace) as a client would.
    @discardableResult
    func create(_ resource: String, _ object: JSONValue) throws -> JSONValue {
        guard let type = Self.type(resource) else { throw StoreError.database("unknown resource \(resource)") }
        let namespace = type.namespaced ? object.namespace : nil
        return try api.create(object, KubernetesAPI.Target(type: type, version: type.versions.last ?? "v1", namespace: namespace, name: nil, subresource: nil),
                              dryRun: false)
    }

    /// Deletes an object (its dependents follow through the garbage collector); gone already is fine.
    func delete(_ resource: String, namespace: String, name: String) throws {
        do { _ = try store.delete(resource, namespace: namespace, name: name) } catch StoreError.notFound {}
    }

    /// Changes an object in place with `change` (nil or an equal result writes nothing). Gone is fine.
    @discardableResult
    func modify(_ resource: String, namespace: String, name: String, _ change: (JSONValue) -> JSONValue?) throws -> JSONValue? {
        do {
            return try store.update(resource, namespace: namespace, name: name) { current, version in
                guard var updated = change(current), updated != current else { return nil }
                updated["metadata"]?["resourceVersion"] = .string(String(version))
                return updated
            }
        } catch StoreError.notFound {
            return nil
        }
    }

    /// Writes `status` unless it is what is stored.
    func writeStatus(_ resource: String, of object: JSONValue, _ status: JSONValue) throws {
        try modify(resource, namespace: object.namespace, name: object.name) { current in
            guard current.uid == object.uid else { return nil }
            var updated = current
            updated["status"] = status
            return updated
        }
    }

    /// An Event about `object`, as `kubectl describe` and `kubectl get events` show them.
    func event(_ object: JSONValue, type: String = "Normal", reason: String, message: String, component: String) {
        // Events carry the time they happened, whatever the controllers' clock says.
        let now = Timestamps.format(Date())
        let namespace = object.namespace.isEmpty ? "default" : object.namespace
        let suffix = String(UInt64(Date().timeIntervalSince1970 * 1e9) &+ UInt64.random(in: 0..<1_000_000), radix: 16)
        let event: JSONValue = .object([
            ("apiVersion", .string("v1")), ("kind", .string("Event")),
            ("metadata", .object([("name", .string("\(object.name).\(suffix)")), ("namespace", .string(namespace))])),
            ("involvedObject", .object([("apiVersion", object["apiVersion"] ?? .string("v1")), ("kind", object["kind"] ?? .string("")),
                                        ("name", .string(object.name)), ("namespace", .string(namespace)), ("uid", .string(object.uid))])),
            ("reason", .string(reason)), ("message", .string(message)), ("type", .string(type)),
            ("source", .object([("component", .string(component)), ("host", .string(LocalNode.name))])),
            ("firstTimestamp", .string(now)), ("lastTimestamp", .string(now)), ("count", .int(1)),
            ("reportingComponent", .string(component)), ("reportingInstance", .string(LocalNode.name)),
        ])
        _ = try? create("events", event)
    }
}

/// Conditions as Kubernetes keeps them: a condition's lastTransitionTime moves only when its status does.
enum Conditions {
    static func make(_ type: String, _ status: Bool, reason: String? = nil, message: String? = nil, previous: JSONValue?, now: String,
                     updateTime: Bool = false) -> JSONValue {
        let old = (previous?["conditions"]?.array ?? []).first { $0["type"]?.string == type }
        let statusText = status ? "True" : "False"
        let unchanged = old?["status"]?.string == statusText
        var pairs: [(key: String, value: JSONValue)] = [("type", .string(type)), ("status", .string(statusText))]
        if updateTime {
            let same = unchanged && old?["reason"]?.string == reason && old?["message"]?.string == message
            pairs.append(("lastUpdateTime", same ? (old?["lastUpdateTime"] ?? .string(now)) : .string(now)))
        } else {
            pairs.append(("lastProbeTime", .null))
        }
        pairs.append(("lastTransitionTime", unchanged ? (old?["lastTransitionTime"] ?? .string(now)) : .string(now)))
        if let reason { pairs.append(("reason", .string(reason))) }
        if let message { pairs.append(("message", .string(message))) }
        return .object(pairs)
    }

    static func isTrue(_ object: JSONValue, _ type: String) -> Bool {
        (object["status"]?["conditions"]?.array ?? []).contains { $0["type"]?.string == type && $0["status"]?.string == "True" }
    }
}
