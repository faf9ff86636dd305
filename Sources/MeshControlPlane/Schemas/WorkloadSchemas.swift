/// Schemas of the objects every kind shares (metadata, label selectors) and of pods and the workloads that run them.
/// Descriptions are meshctl's own short wording; deep parts that meshctl does not check in detail (affinity,
/// probes, volume sources, security contexts) are open objects: their listed fields are checked, others kept.
enum WorkloadSchemas {
    typealias S = FieldSchema

    static let objectMeta = S.object("Standard object metadata: name, namespace, labels, annotations and what the server records.", [
        ("name", .string("Name of the object, unique within its namespace (or the cluster, for cluster-scoped kinds).")),
        ("generateName", .string("Prefix the server completes with random characters when no name is given.")),
        ("namespace", .string("Namespace the object lives in; empty for cluster-scoped kinds.")),
        ("selfLink", .string("Deprecated; not set.")),
        ("uid", .string("Unique identifier the server assigns at creation.")),
        ("resourceVersion", .string("Opaque version of this object, changed by every write; used for optimistic concurrency and watches.")),
        ("generation", .integer("Sequence number of the desired state (spec), increased by the server when it changes.")),
        ("creationTimestamp", .string("Time the server created the object (RFC 3339).")),
        ("deletionTimestamp", .string("Time after which the object is deleted; set when deletion was requested.")),
        ("deletionGracePeriodSeconds", .integer("Seconds the object has to terminate gracefully once deletion was requested.")),
        ("labels", .map("Key/value pairs used to organise and select objects.")),
        ("annotations", .map("Key/value pairs for tools and humans; not used to select objects.")),
        ("ownerReferences", .array("Objects this one depends on; it is collected when they are all gone.", .object("A reference to an owning object.", [
            ("apiVersion", .string("API version of the owner.")), ("kind", .string("Kind of the owner.")), ("name", .string("Name of the owner.")),
            ("uid", .string("UID of the owner.")), ("controller", .boolean("Whether the owner is the managing controller.")),
            ("blockOwnerDeletion", .boolean("Whether the owner waits for this object before it is deleted.")),
        ], required: ["apiVersion", "kind", "name", "uid"]))),
        ("finalizers", .array("Names that must be removed before the object is deleted.", .string(""))),
        ("managedFields", .array("Which field manager set which fields, for server-side apply.", .any("One manager's fields."))),
    ])

    static let labelSelector = S.object("A query over labels: all of its terms must hold.", [
        ("matchLabels", .map("Labels that must be present with these exact values.")),
        ("matchExpressions", .array("Label requirements with operators.", .object("One label requirement.", [
            ("key", .string("The label key.")),
            ("operator", .string("How the key relates to the values.", allowed: ["In", "NotIn", "Exists", "DoesNotExist"])),
            ("values", .array("Values for In and NotIn; empty for Exists and DoesNotExist.", .string(""))),
        ], required: ["key", "operator"]))),
    ])

    /// The top of every object: apiVersion, kind and metadata, then the kind's own fields.
    static func kind(_ description: String, _ fields: [(String, S)], required: [String] = []) -> S {
        .object(description, [
            ("apiVersion", .string("Versioned schema of this representation of the object (group/version).")),
            ("kind", .string("The type of object this is, in CamelCase.")),
            ("metadata", objectMeta),
        ] + fields, required: required)
    }

    static func status(_ what: String) -> S { .any("Most recently observed state of the \(what); written by the system, not by users.") }

    // MARK: - Pods

    static let containerPort = S.object("A port the container listens on.", [
        ("name", .string("Name of the port, unique in the pod; Services can refer to it.")),
        ("containerPort", .integer("Port number on the pod's IP address.")),
        ("hostPort", .integer("Port number to expose on the node.")),
        ("hostIP", .string("Node IP to bind the host port to.")),
        ("protocol", .string("Protocol of the port; TCP when not set.", allowed: ["TCP", "UDP", "SCTP"])),
    ], required: ["containerPort"])

    static let envVar = S.object("An environment variable.", [
        ("name", .string("Name of the variable.")),
        ("value", .string("Literal value; $(VAR) refers to earlier variables.")),
        ("valueFrom", .open("Where the value comes from: a ConfigMap or Secret key, a pod field or a resource figure.")),
    ], required: ["name"])

    static let resources = S.object("Compute resources the container asks for and may use.", [
        ("limits", .map("Most of each resource the container may use.", .intOrString(""))),
        ("requests", .map("Resources the container is guaranteed; used for scheduling.", .intOrString(""))),
        ("claims", .array("Dynamically allocated resources the container uses.", .open("A resource claim by name."))),
    ])

    static let container = S.object("A container in a pod.", [
        ("name", .string("Name of the container, unique in the pod (DNS label).")),
        ("image", .string("Container image reference.")),
        ("command", .array("Entrypoint; replaces the image's ENTRYPOINT.", .string(""))),
        ("args", .array("Arguments to the entrypoint; replace the image's CMD.", .string(""))),
        ("workingDir", .string("Working directory of the container.")),
        ("ports", .array("Ports the container exposes (informational).", containerPort)),
        ("envFrom", .array("Sources of many environment variables at once.", .open("A ConfigMap or Secret whose keys become variables."))),
        ("env", .array("Environment variables.", envVar)),
        ("resources", resources),
        ("resizePolicy", .array("How each resource may be resized in place.", .open("Resize policy of one resource."))),
        ("restartPolicy", .string("Per-container restart policy; only Always (sidecar init containers).")),
        ("volumeMounts", .array("Volumes mounted into the container's filesystem.", .object("A volume mount.", [
            ("name", .string("Name of the pod volume.")), ("mountPath", .string("Path in the container.")),
            ("subPath", .string("Path inside the volume to mount instead of its root.")),
            ("subPathExpr", .string("Like subPath, with $(VAR) expansion.")),
            ("readOnly", .boolean("Mount read-only.")), ("mountPropagation", .string("How mounts propagate between host and container.")),
            ("recursiveReadOnly", .string("Whether read-only applies recursively.")),
        ], required: ["name", "mountPath"]))),
        ("volumeDevices", .array("Block devices used by the container.", .open("A block device mapping."))),
        ("livenessProbe", .open("Check that restarts the container when it fails.")),
        ("readinessProbe", .open("Check that removes the pod from Service endpoints when it fails.")),
        ("startupProbe", .open("Check that must pass before the other probes start.")),
        ("lifecycle", .open("Actions run after start and before stop.")),
        ("terminationMessagePath", .string("File whose content becomes the termination message.")),
        ("terminationMessagePolicy", .string("Where the termination message comes from.", allowed: ["File", "FallbackToLogsOnError"])),
        ("imagePullPolicy", .string("When the image is pulled.", allowed: ["Always", "Never", "IfNotPresent"])),
        ("securityContext", .open("Security options of the container.")),
        ("stdin", .boolean("Allocate a buffer for stdin.")),
        ("stdinOnce", .boolean("Close stdin after the first attach ends.")),
        ("tty", .boolean("Allocate a TTY.")),
    ], required: ["name"])

    static let podSpec = S.object("Desired state of a pod: its containers, volumes and scheduling.", [
        ("volumes", .array("Volumes the containers can mount.", .open("A named volume and its source.", [("name", .string("Name of the volume."))]))),
        ("initContainers", .array("Containers that run to completion, in order, before the others start.", container)),
        ("containers", .array("Containers of the pod; at least one.", container)),
        ("ephemeralContainers", .array("Debugging containers added to a running pod.", .open("An ephemeral container."))),
        ("restartPolicy", .string("Restart policy of all containers.", allowed: ["Always", "OnFailure", "Never"])),
        ("terminationGracePeriodSeconds", .integer("Seconds the pod has to stop after a termination signal.")),
        ("activeDeadlineSeconds", .integer("Seconds the pod may run before it is stopped.")),
        ("dnsPolicy", .string("How the pod resolves names.", allowed: ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"])),
        ("nodeSelector", .map("Labels a node must have to run the pod.")),
        ("serviceAccountName", .string("Service account the pod runs as.")),
        ("serviceAccount", .string("Deprecated alias of serviceAccountName.")),
        ("automountServiceAccountToken", .boolean("Whether the service account token is mounted.")),
        ("nodeName", .string("Node the pod is bound to.")),
        ("hostNetwork", .boolean("Use the node's network namespace.")),
        ("hostPID", .boolean("Use the node's PID namespace.")),
        ("hostIPC", .boolean("Use the node's IPC namespace.")),
        ("shareProcessNamespace", .boolean("Containers share one PID namespace.")),
        ("securityContext", .open("Security options for the whole pod.")),
        ("imagePullSecrets", .array("Secrets for pulling images.", .object("A Secret by name.", [("name", .string("Name of the Secret."))]))),
        ("hostname", .string("Host name of the pod.")),
        ("subdomain", .string("Subdomain of the pod's host name.")),
        ("affinity", .open("Scheduling constraints relative to nodes and other pods.")),
        ("schedulerName", .string("Scheduler that places the pod.")),
        ("tolerations", .array("Node taints the pod tolerates.", .open("A toleration."))),
        ("hostAliases", .array("Entries added to the pod's /etc/hosts.", .open("IP address and host names."))),
        ("priorityClassName", .string("Priority class of the pod.")),
        ("priority", .integer("Priority value, from the priority class.")),
        ("dnsConfig", .open("DNS settings merged with those of dnsPolicy.")),
        ("readinessGates", .array("Extra conditions for readiness.", .open("A readiness gate."))),
        ("runtimeClassName", .string("Runtime class to run the pod with.")),
        ("enableServiceLinks", .boolean("Whether Service information is injected as environment variables.")),
        ("preemptionPolicy", .string("Whether the pod may preempt lower-priority pods.")),
        ("overhead", .map("Resources the pod's sandbox uses.", .intOrString(""))),
        ("topologySpreadConstraints", .array("How pods spread across topology domains.", .open("A spread constraint."))),
        ("setHostnameAsFQDN", .boolean("Set the host name to the fully qualified domain name.")),
        ("os", .open("Operating system the pod needs.")),
        ("hostUsers", .boolean("Use the node's user namespace.")),
        ("schedulingGates", .array("Gates that hold the pod back from scheduling.", .open("A scheduling gate."))),
        ("resourceClaims", .array("Resource claims of the pod.", .open("A resource claim."))),
        ("resources", .open("Resources for the whole pod.")),
    ], required: ["containers"])

    static let podTemplate = S.object("Template of the pods the workload creates.", [
        ("metadata", objectMeta),
        ("spec", podSpec),
    ])

    static let pod = kind("A pod: one or more containers that share network and storage and run together on one node.", [
        ("spec", podSpec), ("status", status("pod")),
    ])

    // MARK: - Workloads

    static let deploymentSpec = S.object("Desired state of a deployment.", [
        ("replicas", .integer("Number of pods wanted; 1 when not set.")),
        ("selector", labelSelector.described("Which pods belong to the deployment; must match the template's labels and cannot change.")),
        ("template", podTemplate),
        ("strategy", .object("How old pods are replaced by new ones.", [
            ("type", .string("Recreate or RollingUpdate (the default).", allowed: ["Recreate", "RollingUpdate"])),
            ("rollingUpdate", .object("Rolling update settings.", [
                ("maxUnavailable", .intOrString("Most pods that may be unavailable during the update (number or percentage).")),
                ("maxSurge", .intOrString("Most pods above the wanted number during the update (number or percentage).")),
            ])),
        ])),
        ("minReadySeconds", .integer("Seconds a new pod must be ready before it counts as available.")),
        ("revisionHistoryLimit", .integer("Old ReplicaSets kept for rollback; 10 when not set.")),
        ("paused", .boolean("Whether the deployment is paused.")),
        ("progressDeadlineSeconds", .integer("Seconds before a stalled rollout is reported as failed; 600 when not set.")),
    ], required: ["selector", "template"])

    static let deployment = kind("A deployment: declarative updates for a set of identical pods, through ReplicaSets.", [
        ("spec", deploymentSpec), ("status", status("deployment")),
    ])

    static let replicaSet = kind("A replica set: keeps a number of identical pods running.", [
        ("spec", .object("Desired state of a replica set.", [
            ("replicas", .integer("Number of pods wanted.")), ("minReadySeconds", .integer("Seconds a new pod must be ready to count as available.")),
            ("selector", labelSelector), ("template", podTemplate),
        ], required: ["selector"])),
        ("status", status("replica set")),
    ])

    static let statefulSet = kind("A stateful set: pods with stable names and storage, created and updated in order.", [
        ("spec", .open("Desired state of a stateful set.", [
            ("replicas", .integer("Number of pods wanted.")), ("selector", labelSelector), ("template", podTemplate),
            ("serviceName", .string("Headless Service that gives the pods their names.")),
            ("volumeClaimTemplates", .array("Claims each pod gets its own copy of.", .any("A PersistentVolumeClaim template."))),
            ("podManagementPolicy", .string("Order of pod creation.", allowed: ["OrderedReady", "Parallel"])),
            ("updateStrategy", .open("How pods are updated.")),
            ("revisionHistoryLimit", .integer("Revisions kept.")), ("minReadySeconds", .integer("Seconds a pod must be ready to count as available.")),
        ])),
        ("status", status("stateful set")),
    ])

    static let daemonSet = kind("A daemon set: one pod on every (selected) node.", [
        ("spec", .open("Desired state of a daemon set.", [
            ("selector", labelSelector), ("template", podTemplate), ("updateStrategy", .open("How pods are updated.")),
            ("minReadySeconds", .integer("Seconds a pod must be ready to count as available.")), ("revisionHistoryLimit", .integer("Revisions kept.")),
        ])),
        ("status", status("daemon set")),
    ])

    static let jobSpec = S.open("Desired state of a job.", [
        ("template", podTemplate), ("parallelism", .integer("Pods running at once.")), ("completions", .integer("Successful pods needed.")),
        ("backoffLimit", .integer("Retries before the job fails.")), ("activeDeadlineSeconds", .integer("Seconds the job may run.")),
        ("ttlSecondsAfterFinished", .integer("Seconds a finished job is kept.")), ("selector", labelSelector),
    ])

    static let job = kind("A job: pods that run until a number of them succeed.", [("spec", jobSpec), ("status", status("job"))])

    static let cronJob = kind("A cron job: jobs created on a schedule.", [
        ("spec", .open("Desired state of a cron job.", [
            ("schedule", .string("Cron schedule, e.g. \"*/5 * * * *\".")), ("timeZone", .string("Time zone of the schedule.")),
            ("concurrencyPolicy", .string("What happens when a run is due while one is still going.", allowed: ["Allow", "Forbid", "Replace"])),
            ("suspend", .boolean("Whether new runs are held back.")),
            ("jobTemplate", .object("Template of the jobs created.", [("metadata", objectMeta), ("spec", jobSpec)])),
            ("successfulJobsHistoryLimit", .integer("Finished jobs kept.")), ("failedJobsHistoryLimit", .integer("Failed jobs kept.")),
            ("startingDeadlineSeconds", .integer("Seconds a missed run may still start.")),
        ])),
        ("status", status("cron job")),
    ])
}
