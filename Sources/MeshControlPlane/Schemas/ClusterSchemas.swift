/// Schemas of the core, networking, policy, RBAC and Gateway API kinds the local control plane serves.
enum ClusterSchemas {
    typealias S = FieldSchema
    static func kind(_ description: String, _ fields: [(String, S)], required: [String] = []) -> S {
        WorkloadSchemas.kind(description, fields, required: required)
    }
    static func status(_ what: String) -> S { WorkloadSchemas.status(what) }

    static let namespace = kind("A namespace: a scope for names, and the unit of many policies.", [
        ("spec", .object("Desired state of the namespace.", [("finalizers", .array("Finalizers that must finish before the namespace goes.", .string("")))])),
        ("status", .open("Observed state of the namespace.", [("phase", .string("Active or Terminating."))])),
    ])

    static let servicePort = S.object("A port the Service exposes.", [
        ("name", .string("Name of the port; required when there is more than one.")),
        ("protocol", .string("Protocol of the port; TCP when not set.", allowed: ["TCP", "UDP", "SCTP"])),
        ("appProtocol", .string("Application protocol (e.g. http, grpc, kubernetes.io/h2c); Istio uses it to pick a protocol.")),
        ("port", .integer("Port the Service listens on.")),
        ("targetPort", .intOrString("Port number or name on the pods; the same as port when not set.")),
        ("nodePort", .integer("Port on every node, for NodePort and LoadBalancer Services.")),
    ], required: ["port"])

    static let service = kind("A service: a stable name and virtual IP for a set of pods chosen by labels.", [
        ("spec", .object("Desired state of the Service.", [
            ("ports", .array("Ports the Service exposes.", servicePort)),
            ("selector", .map("Labels of the pods that receive the traffic.")),
            ("clusterIP", .string("Virtual IP of the Service; assigned by the server, or \"None\" for a headless Service.")),
            ("clusterIPs", .array("Virtual IPs of the Service, one per IP family.", .string(""))),
            ("type", .string("How the Service is exposed; ClusterIP when not set.", allowed: ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"])),
            ("externalIPs", .array("IPs outside the cluster that also reach the Service.", .string(""))),
            ("sessionAffinity", .string("ClientIP keeps a client on one pod; None when not set.", allowed: ["ClientIP", "None"])),
            ("sessionAffinityConfig", .open("Settings of session affinity.")),
            ("loadBalancerIP", .string("Deprecated: requested load balancer IP.")),
            ("loadBalancerSourceRanges", .array("Client ranges a load balancer accepts.", .string(""))),
            ("loadBalancerClass", .string("Load balancer implementation.")),
            ("externalName", .string("DNS name an ExternalName Service aliases.")),
            ("externalTrafficPolicy", .string("Whether external traffic stays on the receiving node.", allowed: ["Cluster", "Local"])),
            ("internalTrafficPolicy", .string("Whether in-cluster traffic stays on the sending node.", allowed: ["Cluster", "Local"])),
            ("healthCheckNodePort", .integer("Node port for load balancer health checks.")),
            ("publishNotReadyAddresses", .boolean("Publish endpoints of pods that are not ready.")),
            ("ipFamilies", .array("IP families of the Service.", .string("", allowed: ["IPv4", "IPv6"]))),
            ("ipFamilyPolicy", .string("Single or dual stack.", allowed: ["SingleStack", "PreferDualStack", "RequireDualStack"])),
            ("allocateLoadBalancerNodePorts", .boolean("Whether LoadBalancer Services get node ports.")),
            ("trafficDistribution", .string("Preference for how traffic is spread over endpoints.")),
        ])),
        ("status", status("Service")),
    ])

    static let configMap = kind("A config map: configuration data as key/value pairs for pods to use.", [
        ("data", .map("Text values by key.")),
        ("binaryData", .map("Binary values by key, base64-encoded.")),
        ("immutable", .boolean("When true, data cannot be changed.")),
    ])

    static let secret = kind("A secret: sensitive data such as passwords, tokens and keys.", [
        ("data", .map("Values by key, base64-encoded.")),
        ("stringData", .map("Plain-text values by key; write-only: the server folds them into data.")),
        ("type", .string("Type of the secret, e.g. Opaque or kubernetes.io/tls.")),
        ("immutable", .boolean("When true, data cannot be changed.")),
    ])

    static let serviceAccount = kind("A service account: an identity for processes in pods.", [
        ("secrets", .array("Secrets the service account may use.", .open("A reference to a Secret."))),
        ("imagePullSecrets", .array("Secrets for pulling images.", .object("A Secret by name.", [("name", .string("Name of the Secret."))]))),
        ("automountServiceAccountToken", .boolean("Whether pods get the token mounted.")),
    ])

    static let endpoints = kind("Endpoints: the addresses behind a Service.", [
        ("subsets", .array("Groups of addresses with the same ports.", .open("Addresses and ports."))),
    ])

    static let node = kind("A node: a machine that runs pods.", [("spec", .open("Desired state of the node.")), ("status", status("node"))])

    static let event = S.object("An event: something that happened to an object, reported by a component.", [
        ("apiVersion", .string("Versioned schema of this representation of the object.")), ("kind", .string("The type of object.")),
        ("metadata", WorkloadSchemas.objectMeta),
        ("involvedObject", .open("The object the event is about.", [
            ("kind", .string("Kind of the object.")), ("namespace", .string("Namespace of the object.")), ("name", .string("Name of the object.")),
            ("uid", .string("UID of the object.")), ("apiVersion", .string("API version of the object.")),
            ("resourceVersion", .string("Version of the object.")), ("fieldPath", .string("Part of the object, e.g. a container.")),
        ])),
        ("reason", .string("Short machine-readable cause.")), ("message", .string("What happened, for humans.")),
        ("type", .string("Normal or Warning.")), ("count", .integer("How many times it happened.")),
        ("firstTimestamp", .string("When it first happened.")), ("lastTimestamp", .string("When it last happened.")),
    ], preserveUnknown: true)

    static let webhookConfiguration = S.object("Admission webhooks the API server calls for matching requests.", [
        ("apiVersion", .string("Versioned schema of this representation of the object.")), ("kind", .string("The type of object.")),
        ("metadata", WorkloadSchemas.objectMeta),
        ("webhooks", .array("The webhooks, each with its rules, selectors and endpoint.", .open("One webhook."))),
    ])

    static let customResourceDefinition = kind("A custom resource definition: a new kind served by the API server.", [
        ("spec", .open("The kind's names, scope, versions and their schemas.", [
            ("group", .string("API group of the kind.")),
            ("names", .open("Plural, singular, kind, short names and categories.")),
            ("scope", .string("Whether objects live in namespaces.", allowed: ["Namespaced", "Cluster"])),
            ("versions", .array("Versions served, each with its schema and printer columns.", .open("One version."))),
        ])),
        ("status", status("definition")),
    ])

    static let validatingAdmissionPolicy = specKind("A validating admission policy: CEL rules requests must pass (stored, not enforced, "
                                                    + "by meshctl's local control plane).", "Match constraints, validations and failure policy.", [
        ("matchConstraints", .open("Which requests the policy applies to.")),
        ("validations", .array("CEL expressions that must hold.", .open("One validation."))),
        ("failurePolicy", .string("What happens when the policy cannot be evaluated.", allowed: ["Ignore", "Fail"])),
    ])
    static let validatingAdmissionPolicyBinding = specKind("Binds a validating admission policy to resources and parameters.",
                                                           "The policy, its parameters and the actions taken.", [
        ("policyName", .string("Name of the ValidatingAdmissionPolicy.")),
        ("validationActions", .array("Deny, Warn or Audit.", .string(""))),
        ("matchResources", .open("Which resources the binding applies to.")),
    ])

    // MARK: - More kinds

    static let policyRule = S.object("What a role allows: verbs on resources of API groups (or non-resource URLs).", [
        ("apiGroups", .array("API groups; \"\" is the core group, \"*\" all.", .string(""))),
        ("resources", .array("Resources, e.g. pods or pods/log; \"*\" all.", .string(""))),
        ("resourceNames", .array("Names the rule is limited to.", .string(""))),
        ("verbs", .array("Verbs allowed, e.g. get, list, watch; \"*\" all.", .string(""))),
        ("nonResourceURLs", .array("URL paths allowed (cluster roles only).", .string(""))),
    ], required: ["verbs"])

    static let subject = S.object("Who a binding grants the role to.", [
        ("kind", .string("User, Group or ServiceAccount.")), ("apiGroup", .string("API group of the subject.")),
        ("name", .string("Name of the subject.")), ("namespace", .string("Namespace of a ServiceAccount subject.")),
    ], required: ["kind", "name"])

    static let roleRef = S.object("The role a binding grants.", [
        ("apiGroup", .string("API group of the role: rbac.authorization.k8s.io.")), ("kind", .string("Role or ClusterRole.")),
        ("name", .string("Name of the role.")),
    ], required: ["apiGroup", "kind", "name"])

    static let role = kind("A role: permissions within one namespace.", [("rules", .array("What the role allows.", policyRule))])
    static let clusterRole = kind("A cluster role: permissions across the cluster or reusable in namespaces.", [
        ("rules", .array("What the role allows.", policyRule)),
        ("aggregationRule", .open("Cluster roles whose rules this one gathers.")),
    ])
    static let roleBinding = kind("A role binding: grants a role to subjects within a namespace.", [
        ("subjects", .array("Who gets the role.", subject)), ("roleRef", roleRef),
    ], required: ["roleRef"])
    static let clusterRoleBinding = kind("A cluster role binding: grants a cluster role to subjects everywhere.", [
        ("subjects", .array("Who gets the role.", subject)), ("roleRef", roleRef),
    ], required: ["roleRef"])

    static func specKind(_ description: String, _ spec: String, _ fields: [(String, S)] = []) -> S {
        kind(description, [("spec", .open(spec, fields)), ("status", status("object"))])
    }

    static let ingress = specKind("An ingress: HTTP routes from outside the cluster to Services.", "Rules, TLS and default backend of the ingress.", [
        ("ingressClassName", .string("Ingress class that implements it.")),
        ("rules", .array("Host and path rules.", .open("One host's rules."))), ("tls", .array("TLS settings.", .open("Hosts and their Secret."))),
        ("defaultBackend", .open("Backend for requests no rule matches.")),
    ])
    static let networkPolicy = specKind("A network policy: which traffic may reach or leave selected pods.", "Pods selected and the traffic allowed.", [
        ("podSelector", WorkloadSchemas.labelSelector), ("policyTypes", .array("Ingress, Egress or both.", .string("", allowed: ["Ingress", "Egress"]))),
        ("ingress", .array("Allowed incoming traffic.", .open("An ingress rule."))), ("egress", .array("Allowed outgoing traffic.", .open("An egress rule."))),
    ])
    static let persistentVolumeClaim = specKind("A persistent volume claim: a request for storage.", "The storage asked for.", [
        ("accessModes", .array("How the volume may be mounted.", .string(""))), ("resources", .open("Storage size asked for.")),
        ("storageClassName", .string("Storage class to provision from.")), ("volumeName", .string("Volume to bind to.")),
        ("volumeMode", .string("Filesystem or Block.", allowed: ["Filesystem", "Block"])), ("selector", WorkloadSchemas.labelSelector),
    ])
    static let horizontalPodAutoscaler = specKind("A horizontal pod autoscaler: scales a workload by observed metrics.", "What is scaled and by which metrics.", [
        ("scaleTargetRef", .open("The workload scaled.", [("kind", .string("Kind of the workload.")), ("name", .string("Name of the workload.")),
                                                          ("apiVersion", .string("API version of the workload."))])),
        ("minReplicas", .integer("Fewest replicas.")), ("maxReplicas", .integer("Most replicas.")),
        ("metrics", .array("Metrics that drive scaling.", .open("One metric."))), ("behavior", .open("Scaling speed limits.")),
    ])
    static let podDisruptionBudget = specKind("A pod disruption budget: how many pods voluntary disruptions may take down.", "The pods and the budget.", [
        ("selector", WorkloadSchemas.labelSelector), ("minAvailable", .intOrString("Pods that must stay available.")),
        ("maxUnavailable", .intOrString("Pods that may be unavailable.")), ("unhealthyPodEvictionPolicy", .string("When unhealthy pods may be evicted.")),
    ])
    static let endpointSlice = kind("An endpoint slice: a part of the endpoints of a Service.", [
        ("addressType", .string("IPv4, IPv6 or FQDN.", allowed: ["IPv4", "IPv6", "FQDN"])),
        ("endpoints", .array("The endpoints.", .open("Addresses of one endpoint and its conditions."))),
        ("ports", .array("Ports of every endpoint.", .open("A port."))),
    ], required: ["addressType"])
    static let lease = specKind("A lease: a lock with a holder and a duration, for leader election.", "Holder and timing of the lease.", [
        ("holderIdentity", .string("Who holds the lease.")), ("leaseDurationSeconds", .integer("Seconds the holder may keep it without renewing.")),
        ("acquireTime", .string("When it was acquired.")), ("renewTime", .string("When it was last renewed.")),
        ("leaseTransitions", .integer("How often the holder changed.")),
    ])

    static func gatewayAPI(_ description: String, _ spec: String, _ fields: [(String, S)]) -> S { specKind(description, spec, fields) }

    static let gatewayClass = gatewayAPI("A gateway class: a kind of Gateway and the controller that implements it.", "Controller and parameters.", [
        ("controllerName", .string("Controller that manages Gateways of this class, e.g. istio.io/gateway-controller.")),
        ("parametersRef", .open("Controller-specific settings.")), ("description", .string("What the class is for.")),
    ])
    static let gateway = gatewayAPI("A Gateway API gateway: listeners where traffic enters and the routes they accept.", "Class, listeners and addresses.", [
        ("gatewayClassName", .string("Gateway class that implements the gateway.")),
        ("listeners", .array("Where the gateway accepts traffic: port, protocol, host name, TLS and which routes may attach.", .open("A listener."))),
        ("addresses", .array("Addresses asked for.", .open("An address."))), ("infrastructure", .open("Labels and annotations for generated resources.")),
    ])
    static let httpRoute = gatewayAPI("An HTTP route: matches HTTP requests and sends them to backends.", "Parents, host names and rules.", [
        ("parentRefs", .array("Gateways (or Services) the route attaches to.", .open("A parent reference."))),
        ("hostnames", .array("Host names the route serves.", .string(""))),
        ("rules", .array("Matches, filters and backends.", .open("A rule."))),
    ])
    static let grpcRoute = gatewayAPI("A gRPC route: matches gRPC calls and sends them to backends.", "Parents, host names and rules.", [
        ("parentRefs", .array("Gateways (or Services) the route attaches to.", .open("A parent reference."))),
        ("hostnames", .array("Host names the route serves.", .string(""))),
        ("rules", .array("Matches, filters and backends.", .open("A rule."))),
    ])
    static let referenceGrant = gatewayAPI("A reference grant: lets objects in other namespaces refer to objects in this one.", "Who may refer to what.", [
        ("from", .array("Kinds and namespaces allowed to refer.", .open("A source."))),
        ("to", .array("Kinds (and names) that may be referred to.", .open("A target."))),
    ])
}
