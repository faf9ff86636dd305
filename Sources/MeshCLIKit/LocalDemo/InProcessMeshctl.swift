import Foundation

/// Runs meshctl's own commands in this process, as the demo uses them (`local up`, `apply`, `local curl`,
/// `proxy-config routes`): what the demo shows is what those commands do, not a copy of them.
struct InProcessMeshctl: @unchecked Sendable {
    /// What one command wrote and how it ended.
    struct Result: Sendable {
        let exitCode: ExitCode
        let stdout: String
        let stderr: String
    }

    let variables: [String: String]
    let workingDirectory: String
    let executablePath: String
    /// Flags every command gets: the local control plane's kubeconfig and context.
    let clusterFlags: [String]

    func run(_ arguments: [String], standardInput: String? = nil) -> Result {
        let out = BufferOutput(), err = BufferOutput()
        let input = Array((standardInput ?? "").utf8)
        let environment = CommandEnvironment(stdout: out, stderr: err, readStandardInput: { input }, variables: variables,
                                             workingDirectory: workingDirectory, executablePath: executablePath)
        let code = MeshCLI.run(arguments + clusterFlags, environment: environment)
        return Result(exitCode: code, stdout: out.text, stderr: err.text)
    }
}

/// The demo's requests: GETs sent from a pod with `meshctl local curl --from POD`, so they leave as that pod's own
/// calls do (through its sidecar when it has one), a few at a time.
struct DemoTraffic: Sendable {
    /// Requests in flight at once: each mostly waits on the sidecars and the app, so more lanes than cores help.
    static let lanes = 8
    let meshctl: InProcessMeshctl
    let stateDirectory: String

    /// One request from `pod` in `namespace` to `url`.
    func send(from pod: String, namespace: String, url: String) -> TrafficOutcome {
        let result = curl(from: pod, namespace: namespace, url: url)
        return TrafficOutcome(exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr)
    }

    /// How `local curl -v` says one request from `pod` leaves (its `* ...` line: the address, and the sidecar it
    /// goes through when the pod has one).
    func path(from pod: String, namespace: String, url: String) -> String? {
        curl(from: pod, namespace: namespace, url: url).stderr.split(separator: "\n").first { $0.hasPrefix("* ") }.map { String($0.dropFirst(2)) }
    }

    private func curl(from pod: String, namespace: String, url: String) -> InProcessMeshctl.Result {
        meshctl.run(["local", "curl", "--state-dir", stateDirectory, "--from", pod, "-n", namespace, "-v", "--max-time", "10", url])
    }

    /// `count` requests, `parallel` at a time, counted; `stop` ends the batch early (Ctrl-C).
    func send(_ count: Int, from pod: String, namespace: String, url: String, parallel: Int = DemoTraffic.lanes,
              stop: @escaping @Sendable () -> Bool = { false }) -> TrafficTally {
        let outcomes = OutcomeList(count)
        let lanes = max(1, min(parallel, count))
        // A thread per lane: each request waits on its own network loop, so the lanes run at once on any core count.
        let group = DispatchGroup()
        for lane in 0..<lanes {
            group.enter()
            Thread.detachNewThread {
                for index in stride(from: lane, to: count, by: lanes) where !stop() {
                    outcomes.set(index, send(from: pod, namespace: namespace, url: url))
                }
                group.leave()
            }
        }
        group.wait()
        return TrafficTally(outcomes.all)
    }

    /// Outcomes filled in from several threads.
    private final class OutcomeList: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [TrafficOutcome?]

        init(_ count: Int) { items = Array(repeating: nil, count: count) }

        func set(_ index: Int, _ outcome: TrafficOutcome) { lock.lock(); items[index] = outcome; lock.unlock() }

        var all: [TrafficOutcome] { lock.lock(); defer { lock.unlock() }; return items.compactMap { $0 } }
    }
}
