import Foundation
import LocalPods
import Manifests

/// A value used only on the kubelet's queue, carried through a closure that hops back to it.
struct QueueBound<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// What every pod worker shares: settings, where logs go, how to write, and the queue they all run on.
struct KubeletContext {
    let settings: WorkloadSettings
    let logs: ContainerLogFiles
    let writer: ObjectWriter
    /// `NAME=value` every container process carries, so a later start can find what an earlier one left running.
    let marker: (String, String)
    let queue: DispatchQueue
    let logQueue: DispatchQueue
    /// The environment every container starts from (PATH and HOME of local mode).
    let baseEnvironment: [String: String]
    /// The pilot's `HOST:PORT`, for the sidecars (nil while it does not run).
    let pilotAddress: @Sendable () -> String?
}

/// One pod on the node: runs its init containers in order, then its containers, restarts them by the pod's
/// restartPolicy with back-off, runs the probes, stops them (SIGTERM, grace period, SIGKILL), and writes the
/// pod's status. Used only on the kubelet's queue.
final class PodWorker {
    private(set) var pod: JSONValue
    let uid: String
    let address: String
    let initContainers: [ContainerRunner]
    let containers: [ContainerRunner]
    let restartPolicy: String
    private let context: KubeletContext
    private var startTime: Date?
    private var lastWritten: JSONValue?
    private var reportedImages = false
    private(set) var stopping = false
    /// Set when a container's state, readiness or the pod changed: only then is the status built again.
    private var changed = true

    init(pod: JSONValue, address: String, context: KubeletContext) {
        self.pod = pod
        uid = pod.uid
        self.address = address
        self.context = context
        restartPolicy = pod["spec"]?["restartPolicy"]?.string ?? "Always"
        let previous = pod["status"]
        func restarts(_ list: String, _ name: String) -> Int {
            (previous?[list]?.array ?? []).first { $0["name"]?.string == name }?["restartCount"]?.int ?? 0
        }
        initContainers = (pod["spec"]?["initContainers"]?.array ?? []).map {
            ContainerRunner(spec: $0, isInit: true, restartCount: restarts("initContainerStatuses", $0["name"]?.string ?? ""))
        }
        containers = (pod["spec"]?["containers"]?.array ?? []).map {
            ContainerRunner(spec: $0, isInit: false, restartCount: restarts("containerStatuses", $0["name"]?.string ?? ""))
        }
        startTime = previous?["startTime"]?.string.flatMap(Timestamps.parse)
        lastWritten = previous
    }

    var all: [ContainerRunner] { initContainers + containers }
    var hasProcesses: Bool { all.contains { $0.isRunning } }
    private var namespace: String { pod.namespace }
    private var name: String { pod.name }

    func update(_ pod: JSONValue) {
        if pod["status"]?["conditions"] != self.pod["status"]?["conditions"] { changed = true }
        self.pod = pod
    }

    /// Stops every container: SIGTERM now, SIGKILL after `grace` seconds.
    func stop(grace: Double, now: Date) {
        stopping = true
        for container in all where container.isRunning && container.killAt == nil {
            container.process?.signalGroup(SIGTERM)
            container.killAt = now.addingTimeInterval(grace)
        }
    }

    var gracePeriod: Double { Double(max(0, pod["spec"]?["terminationGracePeriodSeconds"]?.int ?? 30)) }

    /// One step: reap exits, stop or start containers, probe; returns the status to write when it changed.
    func tick(now: Date) -> JSONValue? {
        for container in all { reap(container, now: now) }
        if stopping {
            for container in all where container.isRunning {
                if let killAt = container.killAt, now >= killAt { container.process?.signalGroup(SIGKILL) }
            }
            return nil
        }
        let unsupported = all.compactMap { container -> String? in
            if case .unsupported(let image) = container.image { return image } else { return nil }
        }
        if !unsupported.isEmpty {
            reportUnsupported(unsupported)
        } else if let next = initContainers.first(where: { $0.exitCode != 0 }) {
            if !next.isRunning { startIfDue(next, now: now) }
        } else {
            for container in containers where !container.isRunning { startIfDue(container, now: now) }
        }
        for container in all where container.isRunning { probe(container, now: now) }
        guard changed else { return nil }
        changed = false
        let status = status(now: now)
        guard status != lastWritten else { return nil }
        lastWritten = status
        return status
    }

    private func reportUnsupported(_ images: [String]) {
        let message = "local mode runs only the images meshctl/echo[:TAG] (the built-in echo app), meshctl/exec[:TAG] (the container's "
            + "command and args as a local process) and Istio's proxyv2 (meshctl's sidecar); \(images.joined(separator: ", ")) "
            + "\(images.count == 1 ? "is" : "are") none of these"
        for container in all {
            if case .unsupported = container.image { container.state = .waiting(reason: "ErrImageNeverPull", message: message) }
            else { container.state = .waiting(reason: "PodInitializing", message: nil) }
        }
        guard !reportedImages else { return }
        reportedImages = true
        changed = true
        context.writer.event(pod, type: "Warning", reason: "ErrImageNeverPull", message: message, component: "kubelet")
    }

    private func startIfDue(_ container: ContainerRunner, now: Date) {
        let before = container.state
        defer { if container.state != before { changed = true } }
        switch container.state {
        case .running:
            return
        case .terminated(let code, _, _, _, _, _):
            let restarts = restartPolicy == "Always" || (restartPolicy == "OnFailure" && code != 0)
            guard restarts, !(container.isInit && code == 0) else { return }
            container.lastTerminated = container.state
            if let nextStart = container.nextStart, now < nextStart {
                container.state = .waiting(reason: "CrashLoopBackOff", message: "back-off \(Self.duration(container.delay)) restarting failed "
                                           + "container=\(container.name) pod=\(name)_\(namespace)(\(uid))")
                return
            }
            container.restartCount += 1
        case .waiting(let reason, _):
            if let nextStart = container.nextStart, now < nextStart { return }
            if reason == "CrashLoopBackOff" { container.restartCount += 1 }
        }
        start(container, now: now)
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds)
        return whole >= 60 ? "\(whole / 60)m\(whole % 60 == 0 ? "" : "\(whole % 60)s")" : "\(whole)s"
    }

    /// Whether the pod runs meshctl's sidecar (Istio's `istio-proxy` container): its application containers then
    /// get an address of their own and send through the sidecar.
    var hasSidecar: Bool { all.contains { $0.isSidecar } }

    /// The address a container sees as its pod IP: the pod IP for the sidecar and in pods without one, else the
    /// application address (see `SidecarAddresses`).
    func podIP(for container: ContainerRunner) -> String {
        guard hasSidecar, !container.isSidecar, let application = SidecarAddresses.application(podIP: address) else { return address }
        return application
    }

    /// What local mode adds to a container's environment in a pod with a sidecar: the sidecar learns where the pilot
    /// is and the pod's labels and annotations (Istio's agent reads them from the downward API); the application
    /// containers learn where their sidecar listens.
    func sidecarEnvironment(for container: ContainerRunner) -> [String: String] {
        guard hasSidecar else { return [:] }
        guard container.isSidecar else {
            var values = [OutboundProxy.environmentVariable: "\(address):\(OutboundProxy.outboundPort)"]
            // meshctl/exec processes (curl, scripts) send HTTP through the sidecar's HTTP proxy port, when the mesh
            // config has one; the pod's own addresses and localhost go direct.
            if case .exec = container.image, let port = Self.httpProxyPort(context.writer.store) {
                let proxy = "http://\(address):\(port)"
                let direct = (["localhost", "127.0.0.1", "::1"] + [podIP(for: container)]).joined(separator: ",")
                for (name, value) in [("HTTP_PROXY", proxy), ("http_proxy", proxy), ("NO_PROXY", direct), ("no_proxy", direct)] { values[name] = value }
            }
            return values
        }
        var values = ["ISTIO_METAJSON_LABELS": pod["metadata"]?["labels"]?.serialized ?? "{}",
                      "ISTIO_METAJSON_ANNOTATIONS": pod["metadata"]?["annotations"]?.serialized ?? "{}",
                      "MESHCTL_POD_DIRECTORY": context.logs.podDirectory(namespace: namespace, name: name, uid: uid).path,
                      "MESHCTL_SIDECAR_PROXY": context.settings.sidecarProxy]
        if let pilot = context.pilotAddress() { values["MESHCTL_PILOT"] = pilot }
        if let envoy = context.settings.envoyPath { values["ENVOY"] = envoy }
        return values
    }

    /// `proxyHttpPort` of the mesh config (istio-system's `istio` ConfigMap), nil when it is not set.
    static func httpProxyPort(_ store: ObjectStore) -> Int? {
        guard let text = (try? store.get("configmaps", namespace: "istio-system", name: "istio"))??["data"]?["mesh"]?.string,
              let root = (try? YAMLParser.parse(text, file: "istio ConfigMap"))?.first?.root,
              let port = root["proxyHttpPort"]?.int, (1...65535).contains(port) else { return nil }
        return port
    }

    private func environment(for container: ContainerRunner) -> [String] {
        PodEnvironment(pod: pod, container: container.spec, podIP: podIP(for: container), store: context.writer.store)
            .entries(base: context.baseEnvironment.merging(sidecarEnvironment(for: container)) { $1 }, marker: context.marker)
    }

    private func start(_ container: ContainerRunner, now: Date) {
        changed = true
        if container.isCaptureSetup { return finishCaptureSetup(container, now: now) }
        let environment = environment(for: container)
        let values = Dictionary(environment.map { entry -> (String, String) in
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }, uniquingKeysWith: { _, last in last })
        let line: [String]
        switch container.commandLine(executable: context.settings.executable, environment: values) {
        case .failure(let reason):
            container.state = .waiting(reason: "CreateContainerError", message: reason.description)
            return
        case .success(let command): line = command
        }
        let file = context.logs.file(namespace: namespace, name: name, uid: uid, container: container.name, restart: container.restartCount)
        let directory = context.logs.podDirectory(namespace: namespace, name: name, uid: uid)
        var workingDirectory = directory.path
        if let wanted = container.spec["workingDir"]?.string, FileManager.default.fileExists(atPath: wanted) { workingDirectory = wanted }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let process = try ChildProcess.spawn(line, environment: environment, workingDirectory: workingDirectory)
            _ = try ContainerLogWriter(file: file, stdout: process.stdout, stderr: process.stderr, queue: context.logQueue) {}
            container.process = process
            container.state = .running(startedAt: now)
            container.killAt = nil
            container.stopReason = nil
            container.armProbes(now: now)
            if startTime == nil { startTime = now }
        } catch {
            container.state = .waiting(reason: "RunContainerError", message: "\(error)")
            container.nextStart = now.addingTimeInterval(max(1, container.backoff))
            context.writer.event(pod, type: "Warning", reason: "Failed", message: "Error: \(error)", component: "kubelet")
        }
    }

    /// istio-init and istio-validation: local mode has no iptables rules to write (the sidecar's listeners on the
    /// pod IP stand in for them), so they complete at once, saying so in their log.
    private func finishCaptureSetup(_ container: ContainerRunner, now: Date) {
        let file = context.logs.file(namespace: namespace, name: name, uid: uid, container: container.name, restart: container.restartCount)
        let line = "\(LogLine.timestamp(now)) stdout F meshctl local mode: traffic capture is emulated (the sidecar listens on the pod IP; "
            + "applications send through it with the PROXY protocol), so \(container.name) has nothing to set up\n"
        try? FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? StateFiles.write(Array(line.utf8), to: file, secret: false)
        container.state = .terminated(exitCode: 0, signal: nil, reason: "Completed", message: nil, startedAt: now, finishedAt: now)
        if startTime == nil { startTime = now }
    }

    private func reap(_ container: ContainerRunner, now: Date) {
        guard let process = container.process, let exit = process.exitStatus() else { return }
        changed = true
        // What the container's main process leaves behind goes with it, as a container's cgroup would.
        process.signalGroup(SIGKILL)
        container.process = nil
        var startedAt = now
        if case .running(let at) = container.state { startedAt = at }
        let reason = container.stopReason ?? (exit.code == 0 ? "Completed" : "Error")
        container.state = .terminated(exitCode: exit.code, signal: exit.signal, reason: reason, message: nil, startedAt: startedAt, finishedAt: now)
        container.readiness?.passing = false
        guard !stopping else { return }
        // Back-off as the kubelet does it: the first restart at once, then 10 s doubling to 5 min; a container
        // that ran for twice the longest back-off starts over.
        if now.timeIntervalSince(startedAt) >= 2 * context.settings.backoffMaximum { container.backoff = 0 }
        if container.backoff == 0 {
            container.nextStart = nil
            container.backoff = context.settings.backoffInitial
        } else {
            container.delay = container.backoff
            container.nextStart = now.addingTimeInterval(container.backoff)
            container.backoff = min(container.backoff * 2, context.settings.backoffMaximum)
            if restartPolicy != "Never" && !(restartPolicy == "OnFailure" && exit.code == 0) {
                context.writer.event(pod, type: "Warning", reason: "BackOff", message: "Back-off restarting failed container \(container.name) in pod \(name)_\(namespace)(\(uid))",
                                     component: "kubelet")
            }
        }
    }

    private func probe(_ container: ContainerRunner, now: Date) {
        for key in [\ContainerRunner.startup, \ContainerRunner.readiness, \ContainerRunner.liveness] {
            guard var state = container[keyPath: key], !state.inFlight, now >= state.nextDue else { continue }
            // Readiness and liveness wait for the startup probe.
            if key != \ContainerRunner.startup, let startup = container.startup, !startup.passing { continue }
            if key == \ContainerRunner.startup && state.passing { continue }
            state.inFlight = true
            state.nextDue = now.addingTimeInterval(state.probe.period)
            container[keyPath: key] = state
            let entries = environment(for: container)
            let queue = context.queue
            let target = QueueBound((worker: self, container: container, process: container.process))
            state.probe.run(address: address, environment: entries) { failure in
                queue.async {
                    let (worker, container, process) = target.value
                    guard let self = Optional(worker), container.process === process, var state = container[keyPath: key] else { return }
                    state.inFlight = false
                    let wasPassing = state.passing
                    defer { if state.passing != wasPassing { self.changed = true } }
                    if failure == nil {
                        state.successes += 1
                        state.failures = 0
                        if state.successes >= state.probe.successThreshold { state.passing = true }
                    } else {
                        state.failures += 1
                        state.successes = 0
                        if state.failures >= state.probe.failureThreshold { state.passing = false }
                    }
                    container[keyPath: key] = state
                    if let failure {
                        let kind = key == \ContainerRunner.liveness ? "Liveness" : key == \ContainerRunner.readiness ? "Readiness" : "Startup"
                        self.context.writer.event(self.pod, type: "Warning", reason: "Unhealthy", message: "\(kind) probe failed: \(failure)", component: "kubelet")
                        if key != \ContainerRunner.readiness && state.failures >= state.probe.failureThreshold && container.killAt == nil {
                            self.context.writer.event(self.pod, reason: "Killing",
                                                      message: "Container \(container.name) failed \(kind.lowercased()) probe, will be restarted", component: "kubelet")
                            container.stopReason = "Error"
                            container.process?.signalGroup(SIGTERM)
                            container.killAt = Date().addingTimeInterval(self.gracePeriod)
                        }
                    }
                }
            }
        }
        if let killAt = container.killAt, now >= killAt { container.process?.signalGroup(SIGKILL) }
    }

    /// The pod's status as the kubelet reports it.
    func status(now: Date) -> JSONValue {
        let previous = pod["status"]
        let stamp = Timestamps.format(now)
        let initDone = initContainers.allSatisfy { $0.exitCode == 0 }
        let started = containers.contains { c in if case .waiting(let reason, _) = c.state { return reason == "CrashLoopBackOff" } else { return true } }
        let everyTerminated = containers.allSatisfy { c in if case .terminated = c.state { return !c.isRunning } else { return false } }
        let phase: String
        if !initDone {
            let failedInit = initContainers.contains { ($0.exitCode ?? 0) != 0 } && restartPolicy == "Never"
            phase = failedInit ? "Failed" : "Pending"
        } else if everyTerminated && restartPolicy != "Always" {
            let failed = containers.contains { ($0.exitCode ?? 0) != 0 }
            phase = failed ? (restartPolicy == "Never" ? "Failed" : "Running") : "Succeeded"
        } else if started {
            phase = "Running"
        } else {
            phase = "Pending"
        }
        let unready = containers.filter { !$0.ready }.map(\.name)
        let incomplete = initContainers.filter { $0.exitCode != 0 }.map(\.name)
        var ready = unready.isEmpty && phase == "Running"
        if let gates = pod["spec"]?["readinessGates"]?.array, !gates.isEmpty {
            let types = gates.compactMap { $0["conditionType"]?.string }
            ready = ready && types.allSatisfy { Conditions.isTrue(pod, $0) }
        }
        let done = phase == "Succeeded" || phase == "Failed"
        var conditions: [JSONValue] = [
            Conditions.make("PodReadyToStartContainers", !done, previous: previous, now: stamp),
            incomplete.isEmpty ? Conditions.make("Initialized", true, reason: done && !initContainers.isEmpty ? "PodCompleted" : nil, previous: previous, now: stamp)
                : Conditions.make("Initialized", false, reason: "ContainersNotInitialized", message: "containers with incomplete status: [\(incomplete.joined(separator: " "))]",
                                  previous: previous, now: stamp),
        ]
        let readyReason = done ? "PodCompleted" : (ready ? nil : "ContainersNotReady")
        let readyMessage = ready || done ? nil : "containers with unready status: [\(unready.joined(separator: " "))]"
        conditions.append(Conditions.make("Ready", ready, reason: readyReason, message: readyMessage, previous: previous, now: stamp))
        conditions.append(Conditions.make("ContainersReady", ready, reason: readyReason, message: readyMessage, previous: previous, now: stamp))
        conditions.append(Conditions.make("PodScheduled", true, previous: previous, now: stamp))
        // Conditions set by others (readiness gates) stay.
        let own: Set<String> = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        conditions += (previous?["conditions"]?.array ?? []).filter { !own.contains($0["type"]?.string ?? "") }
        var pairs: [(key: String, value: JSONValue)] = [
            ("phase", .string(phase)), ("conditions", .array(conditions)),
            ("hostIP", .string("127.0.0.1")), ("hostIPs", .array([.object([("ip", .string("127.0.0.1"))])])),
            ("podIP", .string(address)), ("podIPs", .array([.object([("ip", .string(address))])])),
        ]
        if let startTime { pairs.append(("startTime", .string(Timestamps.format(startTime)))) }
        if !initContainers.isEmpty { pairs.append(("initContainerStatuses", .array(initContainers.map { $0.status(podUID: uid) }))) }
        pairs.append(("containerStatuses", .array(containers.map { $0.status(podUID: uid) })))
        pairs.append(("qosClass", previous?["qosClass"] ?? .string(BuiltinDefaults.qosClass(pod))))
        return .object(pairs)
    }
}
