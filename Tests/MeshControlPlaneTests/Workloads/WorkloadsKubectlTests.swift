import Foundation
import MeshTestSupport
import XCTest
@testable import MeshControlPlane
import Manifests

/// Local mode running workloads, driven by the real kubectl: Deployments of `meshctl/exec` pods (python's HTTP
/// server on the pod's own address), their status, logs, endpoints, scaling, deletion and crash loops.
final class WorkloadsKubectlTests: XCTestCase {
    var plane: LocalControlPlane?
    var directory: URL!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: KubectlRunner.path) else { throw XCTSkip("no kubectl at \(KubectlRunner.path) on this machine") }
        guard Self.which("python3") != nil else { throw XCTSkip("no python3 on PATH: the test pods run python3 -m http.server") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-workloads-\(UUID().uuidString)")
        try start()
    }

    override func tearDown() {
        plane?.stop()
        plane = nil
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    static func which(_ program: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/\(program)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func start() throws {
        // Stands in for meshctl in `meshctl/echo` containers: shows the arguments and environment it was given.
        let stand = directory.appendingPathComponent("meshctl-stand-in")
        if !FileManager.default.fileExists(atPath: stand.path) {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try "#!/bin/sh\necho \"args: $*\"\nenv | sort\nexec sleep 600\n".write(to: stand, atomically: true, encoding: .utf8)
            chmod(stand.path, 0o755)
        }
        var settings = WorkloadSettings(executable: stand.path)
        settings.backoffInitial = 0.3
        settings.backoffMaximum = 2
        settings.resyncInterval = 0.2
        let plane = try LocalControlPlane(stateDirectory: directory.appendingPathComponent("state"), port: 0, workloads: settings)
        try plane.start()
        self.plane = plane
        try KubectlRunner.writeKubeconfig(for: plane, in: directory)
    }

    @discardableResult
    func kubectl(_ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
        try KubectlRunner.run(arguments, in: directory, input: input)
    }

    func pods(_ selector: String) throws -> [JSONValue] {
        try plane!.api.store.list("pods", namespace: "default").items.filter { pod in
            selector.split(separator: ",").allSatisfy { pair in
                let parts = pair.split(separator: "=")
                return pod.labelMap[String(parts[0])] == String(parts[1])
            }
        }
    }

    static func web(replicas: Int, version: String = "v1") -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: \(replicas)
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web, version: \(version)}}
            spec:
              terminationGracePeriodSeconds: 2
              containers:
              - name: web
                image: meshctl/exec
                command: [python3, -u, -m, http.server, --bind, $(POD_IP), $(PORT)]
                ports: [{name: http, containerPort: 8080}]
                readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: http}]

        """
    }

    func testDeploymentRollsOutRunsPodsOnTheirOwnAddressesAndFollowsScaleAndDelete() throws {
        var result = try kubectl(["apply", "-f", "-"], input: Self.web(replicas: 2))
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["rollout", "status", "deployment/web", "--timeout=60s"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("successfully rolled out"), result.output)

        // Pods named DEPLOYMENT-HASH-XXXXX, each on its own loopback address, answering there.
        result = try kubectl(["get", "pods", "-o", "wide"])
        XCTAssertEqual(result.status, 0, result.output)
        let rows = result.output.split(separator: "\n").dropFirst()
        XCTAssertEqual(rows.count, 2, result.output)
        for row in rows {
            let columns = row.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 7 else { return XCTFail("a row of kubectl get pods -o wide with fewer columns than it has: \(row)") }
            XCTAssertNotNil(String(columns[0]).range(of: #"^web-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$"#, options: .regularExpression), result.output)
            XCTAssertEqual(columns[1], "1/1", result.output)
            XCTAssertEqual(columns[2], "Running", result.output)
            XCTAssertTrue(columns[5].hasPrefix("127."), result.output)
            XCTAssertEqual(columns[6], "meshctl-local", result.output)
            XCTAssertNil(Probe.http(host: String(columns[5]), port: 8080, path: "/", headers: [], https: false, timeout: 5))
        }
        let deployment = try plane!.api.store.get("deployments.apps", namespace: "default", name: "web")
        XCTAssertEqual(deployment?["status"]?["availableReplicas"]?.int, 2)
        let conditions = deployment?["status"]?["conditions"]?.array ?? []
        XCTAssertTrue(conditions.contains { $0["type"]?.string == "Available" && $0["reason"]?.string == "MinimumReplicasAvailable" }, "\(conditions)")
        XCTAssertTrue(conditions.contains { $0["type"]?.string == "Progressing" && $0["reason"]?.string == "NewReplicaSetAvailable" }, "\(conditions)")

        // The process output is the pod's log; the request above shows in it.
        let name = String(try XCTUnwrap(rows.first?.split(separator: " ").first))
        XCTAssertTrue(eventually(timeout: 10) { (try? self.kubectl(["logs", name]).output.contains("GET / HTTP/1.1")) ?? false })
        result = try kubectl(["logs", name, "--tail=1"])
        XCTAssertEqual(result.output.split(separator: "\n").count, 1, result.output)

        // Endpoints and EndpointSlices follow the ready pods, with the named port resolved.
        func endpointAddresses() throws -> [String] {
            let slices = try plane!.api.store.list("endpointslices.discovery.k8s.io", namespace: "default").items
                .filter { $0.labelMap["kubernetes.io/service-name"] == "web" }
            return slices.flatMap { ($0["endpoints"]?.array ?? []).filter { $0["conditions"]?["ready"]?.bool == true }.compactMap { $0["addresses"]?.array?.first?.string } }
        }
        XCTAssertTrue(eventually(timeout: 10) { ((try? endpointAddresses()) ?? []).count == 2 })
        let slice = try plane!.api.store.list("endpointslices.discovery.k8s.io", namespace: "default").items.first { $0.labelMap["kubernetes.io/service-name"] == "web" }
        XCTAssertEqual(slice?["ports"]?.array?.first?["port"]?.int, 8080)
        result = try kubectl(["get", "endpoints", "web", "-o", "jsonpath={.subsets[0].addresses[*].ip}"])
        XCTAssertEqual(result.output.split(separator: " ").count, 2, result.output)

        result = try kubectl(["scale", "deployment/web", "--replicas=3"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(eventually(timeout: 30) { ((try? endpointAddresses()) ?? []).count == 3 })
        result = try kubectl(["scale", "deployment/web", "--replicas=1"])
        XCTAssertTrue(eventually(timeout: 30) { ((try? endpointAddresses()) ?? []).count == 1 })
        XCTAssertTrue(eventually(timeout: 10) { self.plane!.podProcessIDs.count == 1 })

        // Deleting the Deployment deletes its ReplicaSet and pods, and stops their processes.
        let running = plane!.podProcessIDs
        result = try kubectl(["delete", "deployment", "web"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(eventually(timeout: 20) { ((try? self.pods("app=web")) ?? [nil as JSONValue?].compactMap { $0 }).isEmpty && self.plane!.podProcessIDs.isEmpty })
        for pid in running { XCTAssertNotEqual(kill(pid, 0), 0, "process \(pid) of a deleted pod still runs") }
        XCTAssertTrue(try plane!.api.store.list("replicasets.apps", namespace: "default").items.isEmpty)
    }

    func testRollingUpdateUndoAndHistory() throws {
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: Self.web(replicas: 2)).status, 0)
        XCTAssertEqual(try kubectl(["rollout", "status", "deployment/web", "--timeout=60s"]).status, 0)
        var result = try kubectl(["apply", "-f", "-"], input: Self.web(replicas: 2, version: "v2"))
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["rollout", "status", "deployment/web", "--timeout=60s"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(eventually(timeout: 20) { ((try? self.pods("app=web")) ?? []).allSatisfy { $0.labelMap["version"] == "v2" } })
        result = try kubectl(["rollout", "history", "deployment/web"])
        XCTAssertTrue(result.output.contains("1 ") && result.output.contains("2 "), result.output)
        result = try kubectl(["rollout", "undo", "deployment/web"])
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["rollout", "status", "deployment/web", "--timeout=60s"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(eventually(timeout: 20) { ((try? self.pods("app=web")) ?? []).allSatisfy { $0.labelMap["version"] == "v1" } })
        let sets = try plane!.api.store.list("replicasets.apps", namespace: "default").items
        XCTAssertEqual(sets.count, 2)
        XCTAssertEqual(Set(sets.map { DeploymentController.revision($0) }), [2, 3])
        result = try kubectl(["rollout", "restart", "deployment/web"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(try kubectl(["rollout", "status", "deployment/web", "--timeout=60s"]).status, 0)
        XCTAssertEqual(try plane!.api.store.list("replicasets.apps", namespace: "default").items.count, 3)
    }

    func testCrashLoopingPodShowsBackOffAndRestarts() throws {
        let pod = """
            apiVersion: v1
            kind: Pod
            metadata: {name: crash}
            spec:
              containers:
              - name: main
                image: meshctl/exec:latest
                command: [sh, -c, "echo starting $POD_NAME; exit 3"]

            """
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: pod).status, 0)
        var output = ""
        XCTAssertTrue(eventually(timeout: 20) {
            output = (try? self.kubectl(["get", "pod", "crash", "--no-headers"]).output) ?? ""
            return output.contains("CrashLoopBackOff") && !output.contains(" 0 ")
        }, output)
        let stored = try plane!.api.store.get("pods", namespace: "default", name: "crash")
        let status = stored?["status"]?["containerStatuses"]?.array?.first
        XCTAssertGreaterThanOrEqual(status?["restartCount"]?.int ?? 0, 1)
        XCTAssertEqual(status?["lastState"]?["terminated"]?["exitCode"]?.int, 3)
        XCTAssertEqual(status?["lastState"]?["terminated"]?["reason"]?.string, "Error")
        let result = try kubectl(["logs", "crash", "--previous"])
        XCTAssertEqual(result.output, "starting crash\n")
    }

    func testOtherImagesStayPendingWithAnEvent() throws {
        let pod = """
            apiVersion: v1
            kind: Pod
            metadata: {name: nginx}
            spec:
              containers: [{name: nginx, image: "nginx:1.27"}]

            """
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: pod).status, 0)
        var output = ""
        XCTAssertTrue(eventually(timeout: 10) {
            output = (try? self.kubectl(["get", "events", "--field-selector", "involvedObject.name=nginx"]).output) ?? ""
            return output.contains("meshctl/exec")
        }, output)
        let stored = try plane!.api.store.get("pods", namespace: "default", name: "nginx")
        XCTAssertEqual(stored?["status"]?["phase"]?.string, "Pending")
        let result = try kubectl(["exec", "nginx", "--", "true"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("meshctl local curl"), result.output)
    }

    func testJobRunsToCompletionAndRestartBringsWorkloadsBack() throws {
        let job = """
            apiVersion: batch/v1
            kind: Job
            metadata: {name: once}
            spec:
              completions: 2
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: main, image: meshctl/exec, command: [sh, -c, "echo done"]}]

            """
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: job).status, 0)
        var result = try kubectl(["wait", "--for=condition=complete", "job/once", "--timeout=30s"])
        XCTAssertEqual(result.status, 0, result.output)
        let stored = try plane!.api.store.get("jobs.batch", namespace: "default", name: "once")
        XCTAssertEqual(stored?["status"]?["succeeded"]?.int, 2)

        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: Self.web(replicas: 1)).status, 0)
        XCTAssertEqual(try kubectl(["rollout", "status", "deployment/web", "--timeout=60s"]).status, 0)
        let before = plane!.podProcessIDs
        XCTAssertEqual(before.count, 1)
        plane!.stop()
        for pid in before { XCTAssertNotEqual(kill(pid, 0), 0, "process \(pid) survived the stop") }
        plane = nil
        try start()
        result = try kubectl(["rollout", "status", "deployment/web", "--timeout=60s"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(eventually(timeout: 20) { self.plane!.podProcessIDs.count == 1 })
        // A finished Job is not run again.
        XCTAssertEqual(try pods("job-name=once").filter { $0["status"]?["phase"]?.string == "Succeeded" }.count, 2)
    }

    func testLogsFollowUntilTheContainerEndsAndFilterByTime() throws {
        let pod = """
            apiVersion: v1
            kind: Pod
            metadata: {name: talker}
            spec:
              restartPolicy: Never
              containers:
              - name: main
                image: meshctl/exec
                command: [sh, -c, "echo one; sleep 1; echo two >&2; sleep 1; echo three"]

            """
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: pod).status, 0)
        XCTAssertTrue(eventually(timeout: 20) {
            (try? self.plane!.api.store.get("pods", namespace: "default", name: "talker"))??["status"]?["phase"]?.string == "Running"
        })
        // -f streams what comes and ends with the container.
        var result = try kubectl(["logs", "-f", "talker"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "one\ntwo\nthree\n")
        XCTAssertTrue(eventually(timeout: 10) {
            (try? self.plane!.api.store.get("pods", namespace: "default", name: "talker"))??["status"]?["phase"]?.string == "Succeeded"
        })
        result = try kubectl(["logs", "talker", "--timestamps", "--tail=1"])
        XCTAssertNotNil(result.output.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$"#, options: .regularExpression), result.output)
        XCTAssertEqual(try kubectl(["logs", "talker", "--since=1h"]).output, "one\ntwo\nthree\n")
        XCTAssertEqual(try kubectl(["logs", "talker", "--since-time=2999-01-01T00:00:00Z"]).output, "")
        result = try kubectl(["logs", "talker", "--previous"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("previous terminated container \"main\" in pod \"talker\" not found"), result.output)
    }

    func testEchoContainersRunMeshctlXEchoWithThePodsSettings() throws {
        let pod = """
            apiVersion: v1
            kind: Pod
            metadata: {name: echo, labels: {app: echo, version: v2}}
            spec:
              containers:
              - name: echo
                image: meshctl/echo:1.0
                env: [{name: ECHO_DELAY, value: 10ms}]
                ports: [{containerPort: 8080}, {containerPort: 9090}]

            """
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: pod).status, 0)
        var output = ""
        XCTAssertTrue(eventually(timeout: 20) {
            output = (try? self.kubectl(["logs", "echo"]).output) ?? ""
            return output.contains("POD_VERSION=")
        }, output)
        let address = try XCTUnwrap(plane!.api.store.get("pods", namespace: "default", name: "echo")?["status"]?["podIP"]?.string)
        for line in ["args: x echo", "PORT=8080", "PORTS=8080,9090", "POD_IP=\(address)", "POD_NAME=echo", "POD_NAMESPACE=default",
                     "SERVICE_ACCOUNT=default", "POD_VERSION=v2", "ECHO_DELAY=10ms", "HOSTNAME=echo"] {
            XCTAssertTrue(output.split(separator: "\n").contains(Substring(line)), "\(line) in:\n\(output)")
        }
    }

    /// A pod with Istio's sidecar (as kube-inject writes it): istio-init completes at once, istio-proxy runs
    /// `meshctl x sidecar` with the injected args on the pod IP, and the application gets its own address and the
    /// sidecar to send through.
    func testIstioProxyContainersRunMeshctlsSidecarAndTheAppMovesToItsOwnAddress() throws {
        let pod = """
            apiVersion: v1
            kind: Pod
            metadata: {name: shop, labels: {app: shop, version: v1}}
            spec:
              initContainers:
              - name: istio-init
                image: docker.io/istio/proxyv2:1.24.0
                args: [istio-iptables, -p, "15001", -z, "15006", -u, "1337", -m, REDIRECT]
              containers:
              - name: shop
                image: meshctl/echo:1.0
                env: [{name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
                ports: [{containerPort: 8080}]
              - name: istio-proxy
                image: docker.io/istio/proxyv2:1.24.0
                args: [proxy, sidecar, --domain, $(POD_NAMESPACE).svc.cluster.local]
                env:
                - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
                - {name: INSTANCE_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}

            """
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: pod).status, 0)
        var app = "", sidecar = ""
        XCTAssertTrue(eventually(timeout: 20) {
            app = (try? self.kubectl(["logs", "shop", "-c", "shop"]).output) ?? ""
            sidecar = (try? self.kubectl(["logs", "shop", "-c", "istio-proxy"]).output) ?? ""
            return app.contains("POD_VERSION=") && sidecar.contains("POD_VERSION=")
        }, app + sidecar)
        let stored = try XCTUnwrap(plane!.api.store.get("pods", namespace: "default", name: "shop"))
        let address = try XCTUnwrap(stored["status"]?["podIP"]?.string)
        XCTAssertTrue(address.hasPrefix("127.10."), address)
        let application = "127.11." + address.split(separator: ".").suffix(2).joined(separator: ".")
        let appLines = app.split(separator: "\n").map(String.init), sidecarLines = sidecar.split(separator: "\n").map(String.init)
        for line in ["args: x echo", "POD_IP=\(application)", "MY_IP=\(application)", "MESHCTL_OUTBOUND_PROXY=\(address):15001"] {
            XCTAssertTrue(appLines.contains(line), "\(line) in:\n\(app)")
        }
        for line in ["args: x sidecar -- proxy sidecar --domain default.svc.cluster.local", "POD_IP=\(address)", "INSTANCE_IP=\(address)",
                     #"ISTIO_METAJSON_LABELS={"app":"shop","version":"v1"}"#, "MESHCTL_SIDECAR_PROXY=meshctl"] {
            XCTAssertTrue(sidecarLines.contains(line), "\(line) in:\n\(sidecar)")
        }
        XCTAssertFalse(sidecarLines.contains { $0.hasPrefix("MESHCTL_OUTBOUND_PROXY=") }, sidecar)
        let initStatus = stored["status"]?["initContainerStatuses"]?.array?.first
        XCTAssertEqual(initStatus?["state"]?["terminated"]?["exitCode"]?.int, 0, "\(initStatus ?? .null)")
        XCTAssertTrue(try kubectl(["logs", "shop", "-c", "istio-init"]).output.contains("traffic capture is emulated"))
    }
}
