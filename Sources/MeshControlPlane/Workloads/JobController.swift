import Foundation
import Manifests

/// Jobs: up to `parallelism` pods at a time until `completions` have succeeded (condition Complete), or more than
/// `backoffLimit` have failed (condition Failed, reason BackoffLimitExceeded).
final class JobController: Reconciler {
    let writer: ObjectWriter
    init(writer: ObjectWriter) { self.writer = writer }

    func reconcile(_ view: ClusterView) throws {
        var wrote = false
        for job in try view.all("jobs.batch") where !job.isBeingDeleted {
            wrote = try reconcile(job, view) || wrote
        }
        if wrote { view.forget("pods") }
    }

    static func finished(_ job: JSONValue) -> String? {
        for type in ["Complete", "Failed"] where Conditions.isTrue(job, type) { return type }
        return nil
    }

    private func reconcile(_ job: JSONValue, _ view: ClusterView) throws -> Bool {
        let spec = job["spec"] ?? .object([])
        let completions = max(1, spec["completions"]?.int ?? 1)
        let parallelism = max(0, spec["parallelism"]?.int ?? 1)
        let backoffLimit = max(0, spec["backoffLimit"]?.int ?? 6)
        let pods = try view.owned("pods", by: job.uid).filter { !$0.isBeingDeleted }
        let succeeded = pods.filter { $0["status"]?["phase"]?.string == "Succeeded" }.count
        let failed = pods.filter { $0["status"]?["phase"]?.string == "Failed" }.count
        let active = pods.filter(PodTemplates.isActive)
        let previous = job["status"]
        let now = Timestamps.format(writer.clock.now)
        var wrote = false
        var outcome = Self.finished(job)
        if outcome == nil && succeeded >= completions { outcome = "Complete" }
        if outcome == nil && failed > backoffLimit { outcome = "Failed" }
        if outcome == nil && spec["suspend"]?.bool != true {
            let wanted = min(parallelism, completions - succeeded) - active.count
            for _ in 0..<min(ReplicaSetController.burst, max(0, wanted)) {
                let uid = job.uid
                let pod = PodTemplates.pod(from: spec["template"] ?? .object([]), owner: job, extraLabels: [
                    ("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", job.name),
                    ("controller-uid", uid), ("job-name", job.name),
                ])
                let created = try writer.create("pods", pod)
                writer.event(job, reason: "SuccessfulCreate", message: "Created pod: \(created.name)", component: "job-controller")
                wrote = true
            }
        } else if outcome != nil {
            for pod in active {
                try writer.delete("pods", namespace: pod.namespace, name: pod.name)
                wrote = true
            }
        }
        var pairs: [(key: String, value: JSONValue)] = []
        pairs.append(("startTime", previous?["startTime"] ?? .string(now)))
        var conditions: [JSONValue] = []
        if outcome == "Complete" {
            pairs.append(("completionTime", previous?["completionTime"] ?? .string(now)))
            conditions.append(Conditions.make("SuccessCriteriaMet", true, reason: "CompletionsReached", message: "Reached expected number of succeeded pods",
                                              previous: previous, now: now))
            conditions.append(Conditions.make("Complete", true, reason: "CompletionsReached", message: "Reached expected number of succeeded pods",
                                              previous: previous, now: now))
            if Self.finished(job) == nil { writer.event(job, reason: "Completed", message: "Job completed", component: "job-controller") }
        } else if outcome == "Failed" {
            conditions.append(Conditions.make("FailureTarget", true, reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit",
                                              previous: previous, now: now))
            conditions.append(Conditions.make("Failed", true, reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit",
                                              previous: previous, now: now))
            if Self.finished(job) == nil {
                writer.event(job, type: "Warning", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit", component: "job-controller")
            }
        }
        let stillActive = outcome == nil ? active.count : 0
        if stillActive > 0 { pairs.append(("active", .int(stillActive))) }
        if succeeded > 0 { pairs.append(("succeeded", .int(succeeded))) }
        if failed > 0 { pairs.append(("failed", .int(failed))) }
        pairs.append(("ready", .int(outcome == nil ? active.filter(PodTemplates.isReady).count : 0)))
        if !conditions.isEmpty { pairs.append(("conditions", .array(conditions))) }
        try writer.writeStatus("jobs.batch", of: job, .object(pairs))
        return wrote
    }
}

/// CronJobs: a Job `NAME-MINUTES` for each time the schedule names (the latest one missed while local mode was
/// down is run once), within the concurrency policy, keeping the configured number of finished Jobs.
final class CronJobController: Reconciler {
    let writer: ObjectWriter
    init(writer: ObjectWriter) { self.writer = writer }

    func reconcile(_ view: ClusterView) throws {
        let now = writer.clock.now
        for cron in try view.all("cronjobs.batch") where !cron.isBeingDeleted {
            let spec = cron["spec"] ?? .object([])
            guard let text = spec["schedule"]?.string, let schedule = try? CronSchedule(text, timeZone: spec["timeZone"]?.string) else { continue }
            var jobs = try view.owned("jobs.batch", by: cron.uid)
            let previous = cron["status"]
            var status = previous?.object != nil ? previous! : .object([])
            let since = (previous?["lastScheduleTime"]?.string ?? cron["metadata"]?["creationTimestamp"]?.string).flatMap(Timestamps.parse) ?? now
            if spec["suspend"]?.bool != true, let due = schedule.latest(after: since, notAfter: now) {
                let late = now.timeIntervalSince(due)
                let deadline = spec["startingDeadlineSeconds"]?.int.map(Double.init)
                let active = jobs.filter { JobController.finished($0) == nil }
                let policy = spec["concurrencyPolicy"]?.string ?? "Allow"
                if deadline.map({ late <= $0 }) ?? true, !(policy == "Forbid" && !active.isEmpty) {
                    if policy == "Replace" {
                        for job in active { try writer.delete("jobs.batch", namespace: job.namespace, name: job.name) }
                        jobs.removeAll { job in active.contains { $0.uid == job.uid } }
                    }
                    let job = try createJob(cron, scheduled: due)
                    if let job { jobs.append(job) }
                }
                status["lastScheduleTime"] = .string(Timestamps.format(due))
            }
            // Finished Jobs beyond the history limits go, oldest first.
            for (outcome, key, fallback) in [("Complete", "successfulJobsHistoryLimit", 3), ("Failed", "failedJobsHistoryLimit", 1)] {
                let done = jobs.filter { JobController.finished($0) == outcome }.sorted { $0.name < $1.name }
                let limit = max(0, spec[key]?.int ?? fallback)
                for job in done.dropLast(limit) {
                    try writer.delete("jobs.batch", namespace: job.namespace, name: job.name)
                    jobs.removeAll { $0.uid == job.uid }
                }
            }
            let active = jobs.filter { JobController.finished($0) == nil }
            status["active"] = active.isEmpty ? nil : .array(active.map { job in
                .object([("apiVersion", .string("batch/v1")), ("kind", .string("Job")), ("name", .string(job.name)),
                         ("namespace", .string(job.namespace)), ("uid", .string(job.uid))])
            })
            if let success = jobs.filter({ JobController.finished($0) == "Complete" }).compactMap({ $0["status"]?["completionTime"]?.string }).max() {
                status["lastSuccessfulTime"] = .string(success)
            }
            try writer.writeStatus("cronjobs.batch", of: cron, status)
        }
    }

    private func createJob(_ cron: JSONValue, scheduled: Date) throws -> JSONValue? {
        let template = cron["spec"]?["jobTemplate"] ?? .object([])
        var labels = template["metadata"]?["labels"] ?? .object([])
        if labels.isNull { labels = .object([]) }
        var annotations = template["metadata"]?["annotations"] ?? .object([])
        if annotations.isNull { annotations = .object([]) }
        annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = .string(Timestamps.format(scheduled))
        let job: JSONValue = .object([
            ("apiVersion", .string("batch/v1")), ("kind", .string("Job")),
            ("metadata", .object([("name", .string("\(cron.name)-\(Int(scheduled.timeIntervalSince1970) / 60)")), ("namespace", .string(cron.namespace)),
                                  ("labels", labels), ("annotations", annotations),
                                  ("ownerReferences", .array([OwnerReferences.controllerReference(to: cron)]))])),
            ("spec", template["spec"] ?? .object([])),
        ])
        do {
            let created = try writer.create("jobs.batch", job)
            writer.event(cron, reason: "SuccessfulCreate", message: "Created job \(created.name)", component: "cronjob-controller")
            return created
        } catch let error as APIError where error.code == 409 {
            return nil
        }
    }
}
