import Foundation
import Manifests

/// One container of a running pod: its process, state as the kubelet reports it (waiting, running, terminated),
/// restart count and back-off, and its probes. Used only on the kubelet's queue.
final class ContainerRunner {
    enum Image {
        case exec
        case echo
        /// Istio's proxy image (`.../proxyv2:TAG`): `proxy sidecar|router` runs meshctl's sidecar; `istio-iptables`
        /// (istio-init, istio-validation) succeeds at once, since local mode emulates the traffic capture.
        case istioProxy
        case unsupported(String)

        init(_ image: String) {
            let name = image.split(separator: "@").first.map(String.init) ?? image
            var repository = name
            if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { repository = String(name[..<colon]) }
            for prefix in ["docker.io/", "index.docker.io/"] where repository.hasPrefix(prefix) { repository.removeFirst(prefix.count) }
            switch repository {
            case "meshctl/exec": self = .exec
            case "meshctl/echo": self = .echo
            case _ where repository == "proxyv2" || repository.hasSuffix("/proxyv2"): self = .istioProxy
            default: self = .unsupported(image)
            }
        }
    }

    enum State: Equatable {
        case waiting(reason: String, message: String?)
        case running(startedAt: Date)
        case terminated(exitCode: Int, signal: Int32?, reason: String, message: String?, startedAt: Date, finishedAt: Date)
    }

    /// A probe's running tally.
    struct ProbeState {
        let probe: Probe
        var successes = 0
        var failures = 0
        var nextDue: Date
        var inFlight = false
        var passing = false
    }

    let spec: JSONValue
    let name: String
    let image: Image
    let isInit: Bool
    var process: ChildProcess?
    var state: State
    var lastTerminated: State?
    var restartCount: Int
    /// Seconds of the next back-off (0: the next restart is at once).
    var backoff: Double = 0
    var nextStart: Date?
    /// The back-off now being waited (for the CrashLoopBackOff message).
    var delay: Double = 0
    var readiness: ProbeState?
    var liveness: ProbeState?
    var startup: ProbeState?
    /// Set when the kubelet stops this container: SIGKILL at this time.
    var killAt: Date?
    /// Why the kubelet is stopping it (liveness failure), for the terminated state.
    var stopReason: String?
    var started: Bool { if case .running = state { return startup?.passing ?? true } else { return false } }

    init(spec: JSONValue, isInit: Bool, restartCount: Int) {
        self.spec = spec
        name = spec["name"]?.string ?? ""
        image = Image(spec["image"]?.string ?? "")
        self.isInit = isInit
        self.restartCount = restartCount
        state = .waiting(reason: "ContainerCreating", message: nil)
    }

    var isRunning: Bool { process != nil }

    var ready: Bool {
        guard case .running = state, started else { return false }
        return readiness?.passing ?? true
    }

    var exitCode: Int? { if case .terminated(let code, _, _, _, _, _) = state { return code } else { return nil } }

    /// Istio's proxy image running `pilot-agent proxy ...`: the pod's sidecar.
    var isSidecar: Bool {
        guard case .istioProxy = image else { return false }
        return (spec["args"]?.array?.first?.string ?? "proxy") == "proxy"
    }

    /// Istio's proxy image setting up the traffic capture (`istio-iptables`): nothing to do in local mode.
    var isCaptureSetup: Bool {
        guard case .istioProxy = image else { return false }
        return !isSidecar
    }

    /// The command line this container runs, or why it cannot run.
    func commandLine(executable: String, environment: [String: String]) -> Result<[String], ChildProcess.SpawnError> {
        switch image {
        case .echo:
            return .success([executable, "x", "echo"])
        case .istioProxy:
            let args = (spec["args"]?.array ?? []).compactMap(\.string).map { PodEnvironment.expand($0, environment) }
            return .success([executable, "x", "sidecar", "--"] + args)
        case .exec:
            let command = (spec["command"]?.array ?? []).compactMap(\.string)
            let args = (spec["args"]?.array ?? []).compactMap(\.string)
            let line = (command + args).map { PodEnvironment.expand($0, environment) }
            guard !line.isEmpty else { return .failure(ChildProcess.SpawnError(description: "a meshctl/exec container runs its command and args: container \(name) has neither")) }
            return .success(line)
        case .unsupported(let image):
            return .failure(ChildProcess.SpawnError(description: "image \(image) is not one local mode runs"))
        }
    }

    /// Probes start over with each start of the container.
    func armProbes(now: Date) {
        func state(_ key: String) -> ProbeState? {
            Probe(spec[key], container: spec).map { ProbeState(probe: $0, nextDue: now.addingTimeInterval($0.initialDelay)) }
        }
        readiness = state("readinessProbe")
        liveness = state("livenessProbe")
        startup = state("startupProbe")
    }

    /// The container's status entry, as the kubelet writes it.
    func status(podUID: String) -> JSONValue {
        func render(_ state: State?) -> JSONValue {
            switch state {
            case .none: return .object([])
            case .waiting(let reason, let message)?:
                var pairs: [(key: String, value: JSONValue)] = [("reason", .string(reason))]
                if let message { pairs.append(("message", .string(message))) }
                return .object([("waiting", .object(pairs))])
            case .running(let startedAt)?:
                return .object([("running", .object([("startedAt", .string(Timestamps.format(startedAt)))]))])
            case .terminated(let code, let signal, let reason, let message, let startedAt, let finishedAt)?:
                var pairs: [(key: String, value: JSONValue)] = [("exitCode", .int(code))]
                if let signal { pairs.append(("signal", .int(Int(signal)))) }
                pairs.append(("reason", .string(reason)))
                if let message { pairs.append(("message", .string(message))) }
                pairs += [("startedAt", .string(Timestamps.format(startedAt))), ("finishedAt", .string(Timestamps.format(finishedAt)))]
                pairs.append(("containerID", .string("meshctl://\(podUID)/\(name)/\(restartCount)")))
                return .object([("terminated", .object(pairs))])
            }
        }
        var pairs: [(key: String, value: JSONValue)] = [("name", .string(name)), ("state", render(state)), ("lastState", render(lastTerminated)),
                                                         ("ready", .bool(ready)), ("restartCount", .int(restartCount)),
                                                         ("image", .string(spec["image"]?.string ?? "")), ("imageID", .string(""))]
        if case .running = state { pairs.append(("containerID", .string("meshctl://\(podUID)/\(name)/\(restartCount)"))) }
        pairs.append(("started", .bool(started)))
        return .object(pairs)
    }
}
