import Foundation
import MeshTestSupport
import XCTest
@testable import MeshControlPlane
import Manifests

/// StatefulSets, DaemonSets, CronJobs (on a clock the test moves), probes and cascading deletes, with the real kubectl.
final class WorkloadControllersTests: XCTestCase {
    var plane: LocalControlPlane?
    var directory: URL!
    /// Made in setUp: XCTest makes every test's instance when the suite starts, long before a late test runs.
    var clock: SettableWorkloadClock!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: KubectlRunner.path) else { throw XCTSkip("no kubectl at \(KubectlRunner.path) on this machine") }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-controllers-\(UUID().uuidString)")
        clock = SettableWorkloadClock(Date())
        var settings = WorkloadSettings(executable: "/bin/false")
        settings.backoffInitial = 0.3
        settings.backoffMaximum = 2
        settings.resyncInterval = 0.2
        settings.clock = clock
        let plane = try LocalControlPlane(stateDirectory: directory.appendingPathComponent("state"), port: 0, workloads: settings)
        try plane.start()
        self.plane = plane
        try KubectlRunner.writeKubeconfig(for: plane, in: directory)
    }

    override func tearDown() {
        plane?.stop()
        plane = nil
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    @discardableResult
    func kubectl(_ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
        try KubectlRunner.run(arguments, in: directory, input: input)
    }

    func names(_ resource: String) -> [String] {
        ((try? plane!.api.store.list(resource, namespace: "default").items) ?? []).map(\.name).sorted()
    }

    func testStatefulSetMakesOrderedPodsOneAtATimeAndRemovesFromTheTop() throws {
        let set = """
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: db}
            spec:
              serviceName: db
              replicas: 3
              selector: {matchLabels: {app: db}}
              template:
                metadata: {labels: {app: db}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: db
                    image: meshctl/exec
                    command: [sh, -c, "echo $HOSTNAME; exec sleep 600"]
                    readinessProbe: {exec: {command: [test, -n, "$(POD_IP)"]}, periodSeconds: 1}

            """
        // Each pod is created only once the one before it is ready.
        var seen: [[String]] = []
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: set).status, 0)
        XCTAssertTrue(eventually(timeout: 30) {
            let now = self.names("pods")
            if seen.last != now { seen.append(now) }
            let set = try? self.plane!.api.store.get("statefulsets.apps", namespace: "default", name: "db")
            return now.count == 3 && set?["status"]?["readyReplicas"]?.int == 3
        })
        XCTAssertEqual(seen.filter { !$0.isEmpty }.first, ["db-0"], "\(seen)")
        XCTAssertTrue(seen.allSatisfy { $0 == Array(["db-0", "db-1", "db-2"].prefix($0.count)) }, "\(seen)")
        let result = try kubectl(["rollout", "status", "statefulset/db", "--timeout=30s"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(try kubectl(["logs", "db-1"]).output, "db-1\n")
        XCTAssertEqual(try kubectl(["scale", "statefulset/db", "--replicas=1"]).status, 0)
        XCTAssertTrue(eventually(timeout: 20) { self.names("pods") == ["db-0"] })
    }

    func testDaemonSetRunsOnePodOnTheNode() throws {
        let set = """
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: agent}
            spec:
              selector: {matchLabels: {app: agent}}
              template:
                metadata: {labels: {app: agent}}
                spec:
                  containers: [{name: agent, image: meshctl/exec, command: [sleep, "600"]}]

            """
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: set).status, 0)
        let result = try kubectl(["rollout", "status", "daemonset/agent", "--timeout=30s"])
        XCTAssertEqual(result.status, 0, result.output)
        let pods = try plane!.api.store.list("pods", namespace: "default").items
        XCTAssertEqual(pods.count, 1)
        XCTAssertEqual(pods.first?["spec"]?["nodeName"]?.string, "meshctl-local")
        // The container's process holds its stdin, stdout and stderr, nothing of the control plane's (a kubectl pipe
        // of this test once leaked into a pod and kept the test waiting for its end).
        let pids = plane!.podProcessIDs
        XCTAssertEqual(pids.count, 1)
        for pid in pids { XCTAssertEqual(openFileDescriptorCount(pid: pid), 3, "file descriptors of pod process \(pid)") }
        let node = try kubectl(["get", "nodes", "--no-headers"])
        XCTAssertTrue(node.output.hasPrefix("meshctl-local"), node.output)
    }

    /// A CronJob every 5 minutes whose Job echoes once; `extra` lines go into its spec.
    static func cronJob(_ name: String, extra: [String] = []) -> String {
        """
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: \(name)}
        spec:
          schedule: "*/5 * * * *"
        \(extra.map { "  \($0)\n" }.joined())  jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: OnFailure
                  containers: [{name: tick, image: meshctl/exec, command: [sh, -c, "echo tick"]}]

        """
    }

    func testCronJobRunsAJobWhenTheScheduleComes() throws {
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: Self.cronJob("tick")).status, 0)
        plane!.workloads!.runtime.reconcileNow()
        XCTAssertTrue(names("jobs.batch").isEmpty)
        clock.advance(by: 5 * 60)
        XCTAssertTrue(eventually(timeout: 10) { self.names("jobs.batch").count == 1 })
        let job = try XCTUnwrap(names("jobs.batch").first)
        XCTAssertTrue(job.hasPrefix("tick-"), job)
        let result = try kubectl(["wait", "--for=condition=complete", "job/\(job)", "--timeout=30s"])
        XCTAssertEqual(result.status, 0, result.output)
        let stored = try plane!.api.store.get("cronjobs.batch", namespace: "default", name: "tick")
        XCTAssertNotNil(stored?["status"]?["lastScheduleTime"]?.string)
    }

    /// A negative history limit (kube-apiserver refuses one; this API stores it) used to trap the control plane in
    /// `dropLast` on the CronJob controller's first pass; it now counts as 0.
    func testCronJobWithANegativeHistoryLimitKeepsTheControlPlaneUp() throws {
        let cron = Self.cronJob("negative", extra: ["successfulJobsHistoryLimit: -1", "failedJobsHistoryLimit: -3"])
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: cron).status, 0)
        plane!.workloads!.runtime.reconcileNow()
        clock.advance(by: 5 * 60)
        XCTAssertTrue(eventually(timeout: 10) {
            (try? self.plane!.api.store.get("cronjobs.batch", namespace: "default", name: "negative"))??["status"]?["lastScheduleTime"]?.string != nil
        })
        XCTAssertEqual(try kubectl(["get", "cronjob", "negative"]).status, 0)
    }

    /// Huge user numbers: replicas and maxSurge near Int.max used to trap the control plane in `replicas + surge`
    /// on the Deployment controller's first pass; counts now stop at Int32.max, the int32 range of the fields.
    /// (An image local mode does not run: no process starts.)
    func testHugeReplicaCountsDoNotTrapTheDeploymentController() throws {
        let deployment = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: huge}
            spec:
              replicas: 9223372036854775807
              strategy: {rollingUpdate: {maxSurge: 9223372036854775807, maxUnavailable: "nan%"}}
              selector: {matchLabels: {app: huge}}
              template:
                metadata: {labels: {app: huge}}
                spec: {containers: [{name: c, image: example.invalid/none}]}

            """
        let applied = try kubectl(["apply", "--validate=false", "-f", "-"], input: deployment)
        XCTAssertEqual(applied.status, 0, applied.output)
        plane!.workloads!.runtime.reconcileNow()
        let sets = try plane!.api.store.list("replicasets.apps", namespace: "default").items
        XCTAssertEqual(sets.first?["metadata"]?["annotations"]?["deployment.kubernetes.io/desired-replicas"]?.string, String(Int32.max))
        XCTAssertEqual(try kubectl(["delete", "deployment/huge", "--wait=false"]).status, 0)
    }

    func testLivenessFailureRestartsTheContainer() throws {
        let pod = """
            apiVersion: v1
            kind: Pod
            metadata: {name: sick}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: main
                image: meshctl/exec
                command: [sleep, "600"]
                livenessProbe: {tcpSocket: {port: 9}, periodSeconds: 1, failureThreshold: 2}

            """
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: pod).status, 0)
        XCTAssertTrue(eventually(timeout: 20) {
            let status = try? self.plane!.api.store.get("pods", namespace: "default", name: "sick")?["status"]?["containerStatuses"]?.array?.first
            return (status?["restartCount"]?.int ?? 0) >= 1
        })
        let events = try kubectl(["get", "events", "--field-selector", "involvedObject.name=sick"])
        XCTAssertTrue(events.output.contains("Unhealthy") && events.output.contains("Liveness probe failed"), events.output)
    }

    func testOrphanDeleteKeepsThePodsAndForegroundDeletesThem() throws {
        let set = """
            apiVersion: apps/v1
            kind: ReplicaSet
            metadata: {name: keep}
            spec:
              replicas: 2
              selector: {matchLabels: {app: keep}}
              template:
                metadata: {labels: {app: keep}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers: [{name: main, image: meshctl/exec, command: [sleep, "600"]}]

            """
        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: set).status, 0)
        XCTAssertTrue(eventually(timeout: 10) { self.names("pods").count == 2 })
        var result = try kubectl(["delete", "replicaset", "keep", "--cascade=orphan"])
        XCTAssertEqual(result.status, 0, result.output)
        plane!.workloads!.runtime.reconcileNow()
        plane!.workloads!.runtime.reconcileNow()
        XCTAssertEqual(names("pods").count, 2)
        XCTAssertTrue(try plane!.api.store.list("pods", namespace: "default").items.allSatisfy { $0["metadata"]?["ownerReferences"] == nil })

        XCTAssertEqual(try kubectl(["apply", "-f", "-"], input: set.replacingOccurrences(of: "keep", with: "gone")).status, 0)
        XCTAssertTrue(eventually(timeout: 10) { self.names("pods").filter { $0.hasPrefix("gone-") }.count == 2 })
        result = try kubectl(["delete", "replicaset", "gone", "--cascade=foreground"])
        XCTAssertEqual(result.status, 0, result.output)
        // A ReplicaSet pass that read the set just before the delete may still create a pod for it; the garbage
        // collector removes such a pod on a later pass, as Kubernetes' does.
        XCTAssertTrue(eventually(timeout: 10) { self.names("pods").filter { $0.hasPrefix("gone-") }.isEmpty }, "\(names("pods"))")
    }
}
