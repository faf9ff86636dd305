import Foundation
import Manifests
import MeshNet
import MeshHTTP1

extension KubernetesAPI {
    func watch(_ request: HTTPRequest, _ responder: HTTPResponder, _ target: Target) throws {
        let matches = try selected(request, target)
        let query = request.query
        let asTable = Tables.wanted(request.header("Accept"))
        let namespace = target.type.namespaced ? target.namespace : nil
        let key = target.type.key
        let stream = responder.startStream(status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-cache")])
        let sentColumns = Mutex(false)
        func line(_ type: String, _ object: JSONValue) -> [UInt8] {
            var shown = object
            if type != "BOOKMARK" && type != "ERROR" {
                shown = presented(object, target)
                if asTable {
                    let first = sentColumns.withLock { sent in defer { sent = true }; return !sent }
                    shown = Tables.table(target.type, [shown], resourceVersion: object["metadata"]?["resourceVersion"]?.string ?? "", withColumns: first)
                }
            }
            return JSONValue.object([("type", .string(type)), ("object", shown)]).serializedBytes + [10]
        }
        let requested = query["resourceVersion"].flatMap { Int64($0) }
        var from: Int64? = requested
        if requested == nil || requested == 0 {
            // From "now", with the current objects first as ADDED events.
            let (items, version) = try store.list(key, namespace: namespace)
            for item in items where matches(item) { stream.send(line("ADDED", item)) }
            from = version
        }
        let backlogLimit = watchBacklogLimit
        let started = Result { () throws -> Int in
            try self.store.watch(from: from, filter: { event in
                event.resource == key && (namespace == nil || event.namespace == namespace) && matches(event.object)
            }, deliver: { event in
                // Under the store's lock: only hand the event to the stream's loop. Writing here could end the stream
                // (a gone client), whose end stops the watch, which takes that same lock.
                stream.loop.execute {
                    // A watcher that has stopped reading is let go once its backlog passes the limit, as kube-apiserver
                    // ends unresponsive watchers: the client lists and watches again when it comes back.
                    guard stream.pendingOutput <= backlogLimit else { stream.finish(); return }
                    stream.send(asTable ? line(event.kind.rawValue, event.object)
                                        : event.encodings.form(target.type.apiVersion(target.version)) { line(event.kind.rawValue, event.object) })
                }
            })
        }
        guard case .success(let token) = started else {
            var oldest: Int64 = 0
            if case .failure(let error) = started, case .expired(let floor) = error as? StoreError { oldest = floor }
            let gone = APIError(410, "Expired", "too old resource version: \(requested ?? 0) (\(oldest))")
            stream.send(line("ERROR", gone.status))
            stream.finish()
            return
        }
        let loop = stream.loop
        let bookmarks = ["true", "1", "True"].contains(query["allowWatchBookmarks"] ?? "")
        let watchedStore = self.store
        var timers: [EventLoop.TimerID] = []
        loop.execute {
            if let seconds = query["timeoutSeconds"].flatMap(Double.init), seconds > 0 {
                timers.append(loop.schedule(after: seconds) { stream.finish() })
            }
            if bookmarks {
                func schedule() {
                    timers.append(loop.schedule(after: 30) {
                        stream.send(line("BOOKMARK", .object([("kind", .string(target.type.kind)), ("apiVersion", .string(target.type.apiVersion(target.version))),
                                                             ("metadata", .object([("resourceVersion", .string(String(watchedStore.resourceVersion)))]))])))
                        schedule()
                    })
                }
                schedule()
            }
            stream.onEnd = {
                watchedStore.stopWatching(token)
                for timer in timers { loop.cancel(timer) }
            }
        }
    }
}
