import Foundation
import KubeClient
import Manifests

/// One run of `meshctl local demo`: local mode up, the shop applied and rolled out, then the steps, each measured
/// against the rule it applies, then where to look further and the teardown.
final class LocalDemoRun {
    struct Options {
        var requests = 200
        var keep = false
        var json = false
    }

    private let mode: LocalMode
    private let context: CommandContext
    private let options: Options
    private let started = Date()
    private var report: DemoReport
    private let meshctl: InProcessMeshctl
    private let traffic: DemoTraffic
    /// How long the demo waits for the rollout, and for a sidecar to take a rule.
    private let rolloutTimeout = 60.0
    private let ruleTimeout = 15.0
    /// Whether the rules of an earlier run (with --keep) were deleted, so step 1 first waits until they are gone.
    private(set) var removedLeftoverRules = false
    /// Ctrl-C during the run (taken only while `run` runs).
    private var interruption: DemoInterruption?

    init(mode: LocalMode, context: CommandContext, options: Options) {
        self.mode = mode
        self.context = context
        self.options = options
        report = DemoReport(requests: options.requests)
        var clusterFlags = ["--context", mode.contextName]
        if let kubeconfig = context.global.kubeconfig { clusterFlags += ["--kubeconfig", FileSystem.resolve(kubeconfig, in: context.environment.workingDirectory)] }
        meshctl = InProcessMeshctl(variables: context.environment.variables, workingDirectory: context.environment.workingDirectory,
                                   executablePath: context.environment.executablePath, clusterFlags: clusterFlags)
        traffic = DemoTraffic(meshctl: meshctl, stateDirectory: mode.paths.directory.path)
    }

    /// Runs the demo; a step that measured something its rule does not allow ends it with exit 1.
    func run() throws {
        interruption = DemoInterruption()
        let wasUp = mode.runningProcess != nil && mode.endpoint.map { mode.isReady($0.url) } == true
        let stateExisted = FileManager.default.fileExists(atPath: mode.paths.directory.path)
        say("meshctl local demo: a service mesh on this machine, the shop (examples/mesh-demo.yaml) and Istio's rules on real traffic")
        var startedHere = false
        var frontend: String?
        do {
            if !wasUp {
                try startLocalMode()
                startedHere = true
            } else {
                say("local mode: already up at \(mode.endpoint?.url ?? "?") (it stays up)")
            }
            let cluster = DemoCluster(client: try ClusterConnection.client(CommandContext(environment: context.environment, global: localGlobal)))
            try applyShop(cluster)
            try waitForRollout(cluster)
            var client: String?
            _ = waitUntil(timeout: 10) {
                frontend = try cluster.readyPod(app: "frontend", namespace: DemoManifests.shopNamespace)
                client = try cluster.readyPod(app: "client", namespace: DemoManifests.legacyNamespace)
                return frontend != nil && client != nil
            }
            guard let frontend, let client else {
                throw DemoFailure(step: "rollout", kind: .error, expected: "a ready frontend pod in shop and a ready client pod in legacy",
                                  measured: "frontend: \(frontend ?? "none ready"), client: \(client ?? "none ready"), 10 s after the rollout")
            }
            let steps = DemoSteps(run: self, cluster: cluster, frontend: frontend, legacyClient: client)
            try runStep(1, "traffic", "Traffic: frontend -> cart, through frontend's sidecar", steps.traffic)
            try runStep(2, "canary", "Canary: a VirtualService sends 90% to cart v1, 10% to v2", steps.canary)
            try runStep(3, "fault", "Fault injection: half of cart's requests aborted with 503", steps.fault)
            try runStep(4, "mtls", "STRICT mTLS in shop: a client without a sidecar is refused", steps.strictMTLS)
            try runStep(5, "routes", "The routes frontend's sidecar holds: meshctl proxy-config routes", steps.routes)
        } catch let failure as DemoFailure {
            report.failure = failure
        } catch {
            report.failure = DemoFailure(step: "setup", kind: .error, expected: "local mode and the shop to start",
                                         measured: ErrorReporter.message(for: error))
        }
        if !report.steps.isEmpty { report.lookFurther = lookFurther(frontend: frontend) }
        report.stillRunning = wasUp || (startedHere && options.keep)
        report.teardown = tearDown(wasUp: wasUp, startedHere: startedHere, purge: !stateExisted)
        report.totalSeconds = elapsed
        if options.json { context.stdout.write(report.json) } else { context.stdout.write(report.closingText) }
        if let failure = report.failure { throw CommandFailure(failure.line) }
    }

    // MARK: - Setting up

    /// The global flags that reach the local control plane's context.
    private var localGlobal: GlobalOptions {
        var global = context.global
        global.context = mode.contextName
        global.namespace = nil
        return global
    }

    private func startLocalMode() throws {
        say("local mode: starting (state in \(mode.paths.directory.path))")
        let up = meshctl.run(["local", "up", "--state-dir", mode.paths.directory.path])
        guard up.exitCode == .success else {
            throw DemoFailure(step: "setup", kind: .error, expected: "`meshctl local up` to start local mode",
                              measured: (up.stderr + up.stdout).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        say("local mode: up at \(mode.endpoint?.url ?? "?")")
    }

    private func applyShop(_ cluster: DemoCluster) throws {
        // Rules a run with --keep left behind would change what step 1 measures.
        let removedRoute = try cluster.deleteIfPresent("/apis/networking.istio.io/v1/namespaces/shop/virtualservices/cart")
        let removedPolicy = try cluster.deleteIfPresent("/apis/security.istio.io/v1/namespaces/shop/peerauthentications/default")
        if removedRoute || removedPolicy {
            removedLeftoverRules = true
            say("removed the rules an earlier demo left (VirtualService shop/cart, PeerAuthentication shop/default)")
        }
        say("applying the shop: namespace shop (istio-injection: enabled) with frontend, cart v1 and v2, payments; namespace legacy with a client")
        try apply(DemoManifests.shop, step: "setup")
    }

    /// `meshctl apply -f -` of `yaml`; its lines go to the progress output.
    func apply(_ yaml: String, step: String) throws {
        let applied = meshctl.run(["apply", "-f", "-"], standardInput: yaml)
        for line in applied.stdout.split(separator: "\n") { say("  " + line) }
        guard applied.exitCode == .success else {
            throw DemoFailure(step: step, kind: .error, expected: "`meshctl apply` to store the objects",
                              measured: applied.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    private func waitForRollout(_ cluster: DemoCluster) throws {
        let deadline = Date().addingTimeInterval(rolloutTimeout)
        var last = ""
        while true {
            let rollout = try cluster.rollout()
            if rollout.summary != last { say("rollout: " + rollout.summary); last = rollout.summary }
            try interruption?.check(step: "rollout")
            if rollout.complete {
                say("rollout: done, every shop pod runs its istio-proxy sidecar")
                return
            }
            if let problem = rollout.sidecarCannotRun {
                throw Self.sidecarsNotRunning(problem)
            }
            if Date() >= deadline {
                if let problem = rollout.sidecarsNotReady.first {
                    let tail = cluster.sidecarLogTail(problem.pod, namespace: problem.namespace)
                    throw Self.sidecarsNotRunning(problem.text + " after \(Int(rolloutTimeout)) s" + (tail.map { "; its last log lines: " + $0.replacingOccurrences(of: "\n", with: " | ") } ?? ""))
                }
                throw DemoFailure(step: "rollout", kind: .error, expected: "every Deployment ready within \(Int(rolloutTimeout)) s", measured: rollout.summary)
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    static func sidecarsNotRunning(_ problem: String) -> DemoFailure {
        DemoFailure(step: "rollout", kind: .sidecarsNotRunning,
                    expected: "the shop's injected pods to run their istio-proxy sidecars (local mode's mesh, issue 17)", measured: problem)
    }

    // MARK: - Steps

    private func runStep(_ number: Int, _ name: String, _ title: String, _ body: (inout DemoStep) throws -> Void) throws {
        try interruption?.check(step: "\(number) (\(name))")
        let start = Date()
        var step = DemoStep(name: name, title: title)
        say("")
        say("step \(number): \(title)")
        do {
            try body(&step)
        } catch let failure as DemoFailure {
            step.couldNotMeasure(failure.expected, failure.measured)
        } catch {
            step.couldNotMeasure("the step to run", ErrorReporter.message(for: error))
        }
        step.seconds = Date().timeIntervalSince(start)
        report.steps.append(step)
        try interruption?.check(step: "\(number) (\(name))")
        if !options.json { context.stdout.write(DemoReport.text(step, number: number)) }
        if let disagreement = step.disagreements.first {
            throw DemoFailure(step: "\(number) (\(name))", kind: .measurement, expected: disagreement.expected, measured: disagreement.measured)
        }
    }

    /// Polls `test` until it holds or `timeout` passes; returns the seconds it took, or nil.
    func waitUntil(timeout: Double, every interval: Double = 0.2, _ test: () throws -> Bool) -> Double? {
        let start = Date()
        while true {
            if (try? test()) == true { return Date().timeIntervalSince(start) }
            if Date().timeIntervalSince(start) >= timeout || interruption?.signal != nil { return nil }
            Thread.sleep(forTimeInterval: interval)
        }
    }

    /// Waits until frontend's sidecar configuration shows what a rule makes (`what` names it for the messages).
    func waitForSidecar(_ cluster: DemoCluster, pod: String, what: String, _ test: @escaping (JSONValue) -> Bool) throws -> String {
        var lastError: String?
        let took = waitUntil(timeout: ruleTimeout) {
            do { return test(try cluster.configDump(pod: pod, namespace: DemoManifests.shopNamespace)) } catch {
                lastError = ErrorReporter.message(for: error)
                return false
            }
        }
        guard let took else {
            throw DemoFailure(step: "", kind: .measurement, expected: "\(pod)'s sidecar to show \(what) within \(Int(ruleTimeout)) s",
                              measured: "not after \(Int(ruleTimeout)) s" + (lastError.map { " (last error: \($0))" } ?? ""))
        }
        return String(format: "%@'s sidecar showed %@ after %.1f s (its /config_dump)", pod, what, took)
    }

    func send(_ count: Int, from pod: String, namespace: String) -> TrafficTally {
        let interruption = interruption
        return traffic.send(count, from: pod, namespace: namespace, url: DemoManifests.cartURL) { interruption?.signal != nil }
    }

    func sendOne(from pod: String, namespace: String, url: String = DemoManifests.cartURL) -> TrafficOutcome {
        traffic.send(from: pod, namespace: namespace, url: url)
    }

    func path(from pod: String, namespace: String) -> String? {
        traffic.path(from: pod, namespace: namespace, url: DemoManifests.cartURL)
    }

    var requests: Int { options.requests }

    func proxyConfigRoutes(_ pod: String) -> InProcessMeshctl.Result {
        meshctl.run(["proxy-config", "routes", "\(pod).\(DemoManifests.shopNamespace)"])
    }

    // MARK: - Ending

    private func lookFurther(frontend: String?) -> [String] {
        let pod = frontend.map { "\($0).shop" } ?? "FRONTEND-POD.shop"
        let stateFlag = mode.isDefault ? "" : " --state-dir \(mode.paths.directory.path)"
        let commands: [(String, String)] = [
            ("meshctl proxy-status", "every sidecar and whether it took its configuration"),
            ("meshctl proxy-config clusters \(pod)", "also listeners, routes, endpoints, secrets"),
            ("kubectl logs -n shop deploy/frontend -c istio-proxy", "the sidecar's access log"),
            ("meshctl x diagnose deploy/frontend -n shop --to cart.shop:80", "why calls fail, if they do"),
            ("meshctl local curl\(stateFlag) --from deploy/frontend -n shop -v http://cart.shop/", "one request, through frontend's sidecar"),
        ]
        let width = commands.map(\.0.count).max() ?? 0
        return commands.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "   # " + $0.1 }
    }

    private func tearDown(wasUp: Bool, startedHere: Bool, purge: Bool) -> String {
        let stateFlag = mode.isDefault ? "" : " --state-dir \(mode.paths.directory.path)"
        if !wasUp && !startedHere { return "" }
        if wasUp || options.keep {
            return "Local mode keeps running\(startedHere ? " (--keep)" : " (it was up before the demo)"); tear it down with: meshctl local down\(purge ? " --purge" : "")\(stateFlag)"
        }
        say("stopping local mode (meshctl local down\(purge ? " --purge" : "")\(stateFlag))")
        let down = meshctl.run(["local", "down", "--state-dir", mode.paths.directory.path] + (purge ? ["--purge"] : []))
        if down.exitCode != .success { say("local down failed: " + down.stderr.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return purge ? "Local mode stopped and its state removed: nothing is left running."
                     : "Local mode stopped (its state is kept in \(mode.paths.directory.path)): nothing is left running."
    }

    private var elapsed: Double { Date().timeIntervalSince(started) }

    /// A progress line: standard output for text, standard error beside JSON.
    func say(_ line: String) {
        let stream = options.json ? context.stderr : context.stdout
        stream.write(line.isEmpty ? "\n" : String(format: "[%5.1fs] ", elapsed) + line + "\n")
    }
}
