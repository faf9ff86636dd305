import Foundation
import Manifests

/// What time it is for the controllers and the kubelet: the system's, or a test's.
public protocol WorkloadClock: Sendable {
    var now: Date { get }
}

/// The wall clock.
public struct SystemWorkloadClock: WorkloadClock {
    public init() {}
    public var now: Date { Date() }
}

/// A clock a test sets by hand (CronJob schedules, back-off deadlines).
public final class SettableWorkloadClock: WorkloadClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    public init(_ start: Date) { current = start }
    public var now: Date { lock.lock(); defer { lock.unlock() }; return current }
    public func advance(by seconds: Double) { lock.lock(); current += seconds; lock.unlock() }
}

/// How local mode runs workloads: the meshctl executable that runs `meshctl/echo` containers, the clock, and the
/// kubelet's timings (tests shorten them).
public struct WorkloadSettings: Sendable {
    /// `[meshctl, "x", "echo"]` runs an echo container.
    public var executable: String
    /// The controllers' clock (CronJob schedules, minReadySeconds, progress deadlines). The kubelet keeps real
    /// time: its processes, probes and back-off do.
    public var clock: any WorkloadClock = SystemWorkloadClock()
    /// Seconds between reconcile passes when nothing changes (status that depends on time, schedules).
    public var resyncInterval: Double = 1
    /// The kubelet's restart back-off: the first delay and the longest (Kubernetes: 10 s doubling to 5 min).
    public var backoffInitial: Double = 10
    public var backoffMaximum: Double = 300
    /// The longest a stopping pod is given before SIGKILL when local mode itself shuts down.
    public var shutdownGraceLimit: Double = 8
    /// What runs in a pod's `istio-proxy` container: `meshctl` (the embedded proxy) or `envoy` (a real Envoy, at
    /// `envoyPath`), both on the bootstrap meshctl's sidecar agent writes.
    public var sidecarProxy = "meshctl"
    public var envoyPath: String?

    public init(executable: String) { self.executable = executable }
}

/// One step of a reconcile pass: reads what it needs through the pass's view and writes what it must change.
protocol Reconciler: AnyObject {
    func reconcile(_ view: ClusterView) throws
}

/// Runs the reconcilers: on start (so a restarted control plane picks up where the store left off), shortly after
/// any change in the store, and every `resyncInterval` seconds. Passes run one at a time on one queue; each reads
/// the store afresh, so a pass that missed nothing converges, and its own writes lead to one more pass that
/// changes nothing.
final class ControllerRuntime: @unchecked Sendable {
    private let store: ObjectStore
    private let queue = DispatchQueue(label: "meshctl.controllers")
    private let reconcilers: [Reconciler]
    private let log: @Sendable (String) -> Void
    private let lock = NSLock()
    private var scheduled = false
    private var stopped = false
    private var watchToken: Int?
    private var timer: DispatchSourceTimer?
    private let resyncInterval: Double

    init(store: ObjectStore, reconcilers: [Reconciler], resyncInterval: Double, log: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.reconcilers = reconcilers
        self.resyncInterval = resyncInterval
        self.log = log
    }

    /// What the reconcilers read: a change to anything else (ConfigMaps, Istio's kinds, Events) starts no pass.
    static let watchedResources: Set<String> = [
        "pods", "services", "endpoints", "nodes", "deployments.apps", "replicasets.apps", "statefulsets.apps", "daemonsets.apps",
        "jobs.batch", "cronjobs.batch", "endpointslices.discovery.k8s.io",
    ]

    func start() throws {
        // Events are only a nudge: the pass reads the store itself. Own writes and others' are treated alike.
        let watched = Self.watchedResources
        watchToken = try store.watch(from: nil, filter: { watched.contains($0.resource) }, deliver: { [weak self] _ in self?.schedule(after: 0.02) })
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + resyncInterval, repeating: resyncInterval)
        timer.setEventHandler { [weak self] in self?.pass() }
        timer.resume()
        self.timer = timer
        schedule(after: 0)
    }

    func stop() {
        lock.lock(); stopped = true; lock.unlock()
        if let watchToken { store.stopWatching(watchToken) }
        timer?.cancel()
        queue.sync {}
    }

    /// Runs a pass now and returns when it is done (tests, and callers that need its effect).
    func reconcileNow() { queue.sync { pass() } }

    private func schedule(after seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        guard !scheduled, !stopped else { return }
        scheduled = true
        queue.asyncAfter(deadline: .now() + seconds) { [weak self] in self?.pass() }
    }

    private func pass() {
        lock.lock()
        scheduled = false
        let isStopped = stopped
        lock.unlock()
        guard !isStopped else { return }
        let view = ClusterView(store: store)
        for reconciler in reconcilers {
            do { try reconciler.reconcile(view) } catch {
                log("\(Timestamps.now()) controller \(type(of: reconciler)): \(error)")
            }
        }
    }
}

/// The store as one pass sees it: lists read once per pass (and dropped when the pass writes that resource).
final class ClusterView {
    let store: ObjectStore
    private var lists: [String: [JSONValue]] = [:]

    init(store: ObjectStore) { self.store = store }

    /// Every object of a resource (all namespaces).
    func all(_ resource: String) throws -> [JSONValue] {
        if let cached = lists[resource] { return cached }
        let items = try store.list(resource, namespace: nil).items
        lists[resource] = items
        return items
    }

    func forget(_ resource: String) { lists[resource] = nil }

    /// Objects of `resource` whose controlling owner has this uid.
    func owned(_ resource: String, by uid: String) throws -> [JSONValue] {
        try all(resource).filter { OwnerReferences.controller($0)?.uid == uid }
    }
}

/// Reading `metadata.ownerReferences`.
enum OwnerReferences {
    struct Reference { let kind: String; let name: String; let uid: String; let controller: Bool }

    static func all(_ object: JSONValue) -> [Reference] {
        (object["metadata"]?["ownerReferences"]?.array ?? []).compactMap { reference in
            guard let uid = reference["uid"]?.string else { return nil }
            return Reference(kind: reference["kind"]?.string ?? "", name: reference["name"]?.string ?? "", uid: uid,
                             controller: reference["controller"]?.bool ?? false)
        }
    }

    static func controller(_ object: JSONValue) -> Reference? { all(object).first { $0.controller } }

    /// A reference to `owner` that makes it the controller of the object carrying it.
    static func controllerReference(to owner: JSONValue) -> JSONValue {
        .object([("apiVersion", owner["apiVersion"] ?? .string("v1")), ("kind", owner["kind"] ?? .string("")),
                 ("name", owner["metadata"]?["name"] ?? .string("")), ("uid", owner["metadata"]?["uid"] ?? .string("")),
                 ("controller", .bool(true)), ("blockOwnerDeletion", .bool(true))])
    }
}

extension JSONValue {
    var name: String { self["metadata"]?["name"]?.string ?? "" }
    var namespace: String { self["metadata"]?["namespace"]?.string ?? "" }
    var uid: String { self["metadata"]?["uid"]?.string ?? "" }
    var generation: Int { self["metadata"]?["generation"]?.int ?? 0 }
    var isBeingDeleted: Bool { self["metadata"]?["deletionTimestamp"].map { !$0.isNull } ?? false }

    /// Compact JSON with object keys sorted, so equal values give equal text whatever order a client wrote them in.
    var canonicalText: String {
        switch self {
        case .object(let pairs):
            return "{" + pairs.sorted { $0.key < $1.key }.map { JSONValue.string($0.key).serialized + ":" + $0.value.canonicalText }.joined(separator: ",") + "}"
        case .array(let items):
            return "[" + items.map(\.canonicalText).joined(separator: ",") + "]"
        default:
            return serialized
        }
    }
}
