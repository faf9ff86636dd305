/// `meshctl kube-inject`: adds the Istio sidecar to Kubernetes manifests.
/// The flags are istioctl's; the injection itself arrives with its own change.
struct KubeInjectCommand: MeshCommand {
    static var spec: CommandSpec {
        CommandSpec(
            name: "kube-inject",
            abstract: "Add the Istio sidecar to Kubernetes manifests, offline",
            discussion: """
            Reads Kubernetes manifests and writes them back with the Istio sidecar added to every
            workload (Pod, Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet,
            ReplicationController, DeploymentConfig), as Istio's own injector would. Other documents
            pass through unchanged.
            """,
            examples: [
                Example("Inject the sidecar into a Deployment and apply it",
                        "meshctl kube-inject -f deployment.yaml | kubectl apply -f -"),
                Example("Inject with the configuration files istioctl takes",
                        "meshctl kube-inject -f app.yaml --injectConfigFile inject-config.yaml --meshConfigFile mesh.yaml --valuesFile values.json"),
            ],
            aliases: ["ki"],
            flags: [
                FlagSpec("filename", short: "f", kind: .repeatedValue, valueName: "FILE",
                         help: "Manifest file, directory, or - for standard input", completion: .files),
                FlagSpec("output", short: "o", valueName: "FILE", help: "Write the result to this file instead of standard output",
                         completion: .files),
                FlagSpec("meshConfigFile", valueName: "FILE", help: "Mesh configuration file (the istio ConfigMap's data.mesh)",
                         completion: .files),
                FlagSpec("injectConfigFile", valueName: "FILE",
                         help: "Injection template file (the istio-sidecar-injector ConfigMap's data.config)", completion: .files),
                FlagSpec("valuesFile", valueName: "FILE",
                         help: "Injection values file (the istio-sidecar-injector ConfigMap's data.values)", completion: .files),
                FlagSpec("operatorFileName", valueName: "FILE", help: "IstioOperator file to take values from",
                         completion: .files),
                FlagSpec("revision", short: "r", help: "Control plane revision whose configuration to use"),
                FlagSpec("meshConfigMapName", help: "ConfigMap holding the mesh configuration", default: "istio"),
                FlagSpec("injectConfigMapName", help: "ConfigMap holding the injection configuration",
                         default: "istio-sidecar-injector"),
                FlagSpec("set", kind: .repeatedValue, valueName: "key=value",
                         help: "Override an injection value, as with istioctl install (values.global.proxy.image=...)"),
            ])
    }

    init(_ invocation: Invocation) throws {}

    func run(_ context: CommandContext) throws {
        throw CommandFailure.notImplemented("kube-inject")
    }
}
