import Foundation
import MeshNet
import MeshProxy
import MeshSidecar

/// `meshctl x sidecar proxy sidecar|router ...`: what local mode runs in a pod's istio-proxy container (hidden: the
/// kubelet starts it with the injected container's args and environment).
struct SidecarCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "sidecar",
            abstract: "Run a local pod's sidecar: the bootstrap, the agent on 15020 and the proxy (local mode starts it)",
            discussion: """
            Takes the istio-proxy container's arguments (`proxy sidecar --domain ...`) and environment (POD_NAME,
            POD_NAMESPACE, INSTANCE_IP, ISTIO_META_*, ISTIO_KUBE_APP_PROBERS, and local mode's MESHCTL_PILOT). Writes
            the Envoy bootstrap as pilot-agent does (envoy-rev.json in the pod's folder: node id, metadata, admin on
            POD_IP:15000, xDS from the pilot over REST-JSON, listeners for 15090 and 15021), serves the agent on
            POD_IP:15020 (/healthz/ready, /app-health/..., /stats/prometheus), and runs meshctl's proxy on the
            bootstrap, or a real Envoy when MESHCTL_SIDECAR_PROXY=envoy (ENVOY names the binary, else envoy on
            PATH). Access logs go to standard output. SIGTERM stops it.
            """,
            examples: [Example("As the kubelet starts it", "POD_NAME=web-0 POD_NAMESPACE=shop INSTANCE_IP=127.10.0.7 MESHCTL_PILOT=127.0.0.1:40123 "
                                                          + "meshctl x sidecar proxy sidecar --domain shop.svc.cluster.local")],
            flags: [],
            arguments: [ArgumentSpec("ARGS", help: "The istio-proxy container's arguments: proxy sidecar|router [flags]", optional: true, repeating: true)],
            hidden: true)
    }

    let arguments: [String]

    init(_ invocation: Invocation) throws {
        arguments = invocation.arguments
    }

    func run(_ context: CommandContext) throws {
        let signals = StopSignals()
        let environment = context.environment.variables
        let settings: SidecarSettings
        do { settings = try SidecarSettings(arguments: arguments, environment: environment) } catch {
            throw InputDataError("sidecar: \(error.description)")
        }
        let proxy: LocalSidecar.Proxy
        if environment["MESHCTL_SIDECAR_PROXY"] == "envoy" {
            proxy = .envoy(try LocalMode.envoyPath(context.environment))
        } else {
            proxy = .meshctl
        }
        let output = LineOutput(context.stderr)
        let sidecar: LocalSidecar
        do {
            sidecar = try LocalSidecar(settings: settings, proxy: proxy) { line in output.write(line.hasSuffix("\n") ? String(line.dropLast()) : line) }
            // A real Envoy that ends ends the sidecar, so the kubelet restarts the container.
            try sidecar.start { status in
                output.write("\(LocalSidecar.timestamp()) error sidecar: envoy exited with status \(status)")
                kill(getpid(), SIGTERM)
            }
        } catch let error as LocalSidecar.StartError {
            throw CommandFailure("sidecar: \(error.description)")
        }
        StartupPages.releaseSoon()
        output.write(sidecar.startedLine)
        let received = signals.wait()
        let envoyExit = sidecar.envoyExit
        sidecar.stop()
        if let envoyExit { throw CommandFailure("sidecar: envoy exited with status \(envoyExit)") }
        output.write(LocalSidecar.stoppedLine(signal: received))
    }
}
