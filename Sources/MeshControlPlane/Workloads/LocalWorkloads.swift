import Foundation
import Manifests

/// Local mode's workloads: the controllers (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
/// garbage collection, Endpoints and EndpointSlices), the scheduler and node, and the kubelet that runs pods as
/// local processes, all driven by one `ControllerRuntime` over the store.
final class LocalWorkloads: @unchecked Sendable {
    let runtime: ControllerRuntime
    let kubelet: Kubelet

    init(api: KubernetesAPI, settings: WorkloadSettings, stateDirectory: URL) {
        let writer = ObjectWriter(api: api, clock: settings.clock)
        let log = api.log
        kubelet = Kubelet(writer: writer, settings: settings, stateDirectory: stateDirectory, log: { line in log(line) })
        let reconcilers: [Reconciler] = [
            GarbageCollector(writer: writer), NodeScheduler(writer: writer),
            DeploymentController(writer: writer), ReplicaSetController(writer: writer), StatefulSetController(writer: writer),
            DaemonSetController(writer: writer), CronJobController(writer: writer), JobController(writer: writer),
            kubelet, EndpointsController(writer: writer),
        ]
        runtime = ControllerRuntime(store: api.store, reconcilers: reconcilers, resyncInterval: settings.resyncInterval, log: { line in log(line) })
        api.containerLogs = kubelet.logs
        api.runsWorkloads = true
    }

    /// Ends what a killed earlier run left, then runs a first pass before returning: the node exists and the
    /// stored workloads are being brought back once the server answers.
    func start() throws {
        kubelet.start()
        try runtime.start()
        runtime.reconcileNow()
    }

    /// Stops the controllers, then every pod process; returns when none is left.
    func stop() {
        runtime.stop()
        kubelet.shutdown()
    }
}
