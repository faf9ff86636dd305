import Foundation

/// `meshctl local demo`: the shop on local mode, with Istio's rules measured on real traffic.
struct LocalDemoCommand: MeshCommand {
    static let defaultRequests = 200
    static let requestRange = 20...100_000

    static var spec: CommandSpec {
        CommandSpec(
            name: "demo",
            abstract: "Show a service mesh on this machine: the shop, a canary, a fault, STRICT mTLS, measured on real traffic",
            discussion: """
            Starts local mode when it is not running, applies the shop (examples/mesh-demo.yaml: namespace shop with
            injection, frontend, cart v1 and v2, payments, a DestinationRule with subsets v1 and v2; namespace legacy
            with a client that has no sidecar), waits for the rollout, then runs five steps. Each sends requests from
            a pod as `meshctl local curl --from` does (through the pod's sidecar) and compares what it measured with
            what the rule says:
              1. no rule: frontend -> cart spreads over both versions;
              2. a VirtualService 90/10 canary: the measured share of v2, within 3 sigma of 10%;
              3. a fault aborting 50% with 503: the measured rate, within 3 sigma of 50%;
              4. PeerAuthentication STRICT in shop: legacy's plaintext is refused, frontend still answered;
              5. `meshctl proxy-config routes` of the frontend pod.
            A step whose measurement disagrees with its rule stops the demo with exit 1 and a line naming the step,
            what was expected and what was measured. At the end local mode is stopped again (and its state removed
            when the demo made it) unless --keep, or it was running before.
            """,
            examples: [
                Example("Run the demo", "meshctl local demo"),
                Example("Keep local mode and the shop running afterwards", "meshctl local demo --keep"),
                Example("Fewer requests per step, the results as JSON", "meshctl local demo --requests 100 -o json"),
                Example("Apply the shop by hand instead", "meshctl local demo --manifests | kubectl apply -f -"),
            ],
            flags: [
                FlagSpec("keep", kind: .bool, help: "Leave local mode and the shop running at the end"),
                FlagSpec("requests", valueName: "N", help: "Requests per measuring step (\(requestRange.lowerBound) to \(requestRange.upperBound))",
                         default: String(defaultRequests)),
                FlagSpec("output", short: "o", help: "Output format: one of text|json", default: "text", completion: .values(["text", "json"])),
                FlagSpec("manifests", kind: .bool, help: "Print the shop's manifests (examples/mesh-demo.yaml) and exit"),
                LocalMode.stateDirectoryFlag,
            ])
    }

    let invocation: Invocation
    let options: LocalDemoRun.Options
    let printManifests: Bool

    init(_ invocation: Invocation) throws {
        self.invocation = invocation
        var options = LocalDemoRun.Options()
        options.requests = try invocation.int("requests") ?? Self.defaultRequests
        options.keep = invocation.bool("keep")
        options.json = invocation.string("output") == "json"
        self.options = options
        printManifests = invocation.bool("manifests")
    }

    func validate() throws {
        if !Self.requestRange.contains(options.requests) {
            throw UsageError(problem: "--requests \(options.requests): give from \(Self.requestRange.lowerBound) to \(Self.requestRange.upperBound) "
                             + "requests per step (fewer cannot tell a 90/10 split from chance)", commandPath: invocation.pathText)
        }
    }

    func run(_ context: CommandContext) throws {
        if printManifests {
            context.stdout.write(DemoManifests.shop)
            return
        }
        try LocalDemoRun(mode: LocalMode(invocation, context.environment), context: context, options: options).run()
    }
}
