import Foundation
import Manifests

/// The node agent of local mode: runs the pods bound to `meshctl-local` as local processes (one PodWorker each),
/// gives each an address of its own in 127.0.0.0/8, writes their status, and stops them when they are deleted or
/// local mode stops. Pods left by a control plane that was killed are found by their marker and ended on start.
final class Kubelet: Reconciler, @unchecked Sendable {
    private let context: KubeletContext
    private let queue: DispatchQueue
    private var workers: [String: PodWorker] = [:]
    /// Deleted pods whose processes are still stopping (they keep their address meanwhile).
    private var stopping: [PodWorker] = []
    private var pool = PodAddressPool()
    private var timer: DispatchSourceTimer?
    private var shutDown = false
    private let log: @Sendable (String) -> Void

    init(writer: ObjectWriter, settings: WorkloadSettings, stateDirectory: URL, log: @escaping @Sendable (String) -> Void) {
        queue = DispatchQueue(label: "meshctl.kubelet")
        var base: [String: String] = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        let own = ProcessInfo.processInfo.environment
        for key in ["PATH", "HOME", "LANG", "TZ"] { if let value = own[key] { base[key] = value } }
        context = KubeletContext(settings: settings, logs: ContainerLogFiles(root: stateDirectory.appendingPathComponent("pods")), writer: writer,
                                 marker: ("MESHCTL_LOCAL_STATE", stateDirectory.standardizedFileURL.path), queue: queue,
                                 logQueue: DispatchQueue(label: "meshctl.kubelet.logs"), baseEnvironment: base,
                                 pilotAddress: { StateFiles.read(LocalStatePaths(directory: stateDirectory).pilot).map { String(decoding: $0, as: UTF8.self).trimmed } })
        self.log = log
    }

    var logs: ContainerLogFiles { context.logs }

    /// Ends what an earlier run left (its processes carry this state directory's marker), then starts the sync timer.
    func start() {
        Self.endLeftovers(marker: context.marker)
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + 0.05, repeating: 0.1)
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        self.timer = timer
    }

    /// SIGKILLs every process carrying `marker`, and its group when that is a group of its own: getpgid fails (-1)
    /// for a process that just ended, and kill(-(-1)) would signal pid 1; this process's own group is never signalled.
    static func endLeftovers(marker: (String, String)) {
        for pid in ChildProcess.processes(carrying: "\(marker.0)=\(marker.1)") {
            let group = getpgid(pid)
            if group > 1 && group != getpgrp() { kill(-group, SIGKILL) }
            kill(pid, SIGKILL)
        }
    }

    func reconcile(_ view: ClusterView) throws {
        // Mirror pods stand for what the control plane runs itself (the pilot's istiod pod): no process of theirs runs here.
        let pods = try view.all("pods").filter { $0["spec"]?["nodeName"]?.string == LocalNode.name && !IstiodPod.isMirror($0) }
        queue.async { self.sync(pods) }
    }

    private func sync(_ pods: [JSONValue]) {
        guard !shutDown else { return }
        let now = Date()
        var seen = Set<String>()
        var taken = Set(workers.values.map(\.address) + stopping.map(\.address))
        for pod in pods { if let address = pod["status"]?["podIP"]?.string, !address.isEmpty, workers[pod.uid] == nil { taken.insert(address) } }
        for pod in pods where !pod.isBeingDeleted {
            seen.insert(pod.uid)
            if let worker = workers[pod.uid] { worker.update(pod); continue }
            let phase = pod["status"]?["phase"]?.string
            // A finished pod stays finished (a restart of local mode does not run it again).
            if phase == "Succeeded" || phase == "Failed" { continue }
            var address = pod["status"]?["podIP"]?.string ?? ""
            let heldByOther = workers.values.contains { $0.address == address } || stopping.contains { $0.address == address }
            if address.isEmpty || heldByOther {
                guard let fresh = pool.allocate(taken: taken) else { log("\(Timestamps.now()) no pod address left for \(pod.namespace)/\(pod.name)"); continue }
                address = fresh
            }
            taken.insert(address)
            workers[pod.uid] = PodWorker(pod: pod, address: address, context: context)
        }
        for (uid, worker) in workers where !seen.contains(uid) {
            workers[uid] = nil
            worker.stop(grace: worker.gracePeriod, now: now)
            stopping.append(worker)
        }
    }

    private func tick() {
        guard !shutDown else { return }
        let now = Date()
        for worker in workers.values {
            guard let status = worker.tick(now: now) else { continue }
            do {
                try context.writer.writeStatus("pods", of: worker.pod, status)
            } catch {
                log("\(Timestamps.now()) writing the status of pod \(worker.pod.namespace)/\(worker.pod.name) failed: \(error)")
            }
        }
        for worker in stopping { _ = worker.tick(now: now) }
        let finished = stopping.filter { !$0.hasProcesses }
        stopping.removeAll { !$0.hasProcesses }
        for worker in finished {
            try? FileManager.default.removeItem(at: context.logs.podDirectory(namespace: worker.pod.namespace, name: worker.pod.name, uid: worker.uid))
        }
    }

    /// Process ids of the running containers (tests).
    var processIDs: [pid_t] { queue.sync { (Array(workers.values) + stopping).flatMap { $0.all.compactMap { $0.process?.pid } } } }

    /// Stops every pod (SIGTERM, at most `shutdownGraceLimit` seconds, SIGKILL) and returns once none runs.
    func shutdown() {
        timer?.cancel()
        let limit = context.settings.shutdownGraceLimit
        let deadline = Date().addingTimeInterval(limit + 2)
        queue.sync {
            shutDown = true
            for worker in workers.values { worker.stop(grace: min(worker.gracePeriod, limit), now: Date()) }
            stopping += workers.values
            workers = [:]
        }
        while Date() < deadline {
            let left = queue.sync { () -> Int in
                for worker in stopping { _ = worker.tick(now: Date()) }
                stopping.removeAll { !$0.hasProcesses }
                return stopping.count
            }
            if left == 0 { break }
            usleep(20_000)
        }
        Self.endLeftovers(marker: context.marker)
    }
}
