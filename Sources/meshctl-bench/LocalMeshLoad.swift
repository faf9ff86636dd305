import Foundation
import KubeClient
import Manifests
#if canImport(Glibc)
import Glibc
#endif

/// Local mode as a mesh (`meshctl local serve` in its own process): 100 echo pods with sidecars in an
/// injection-enabled namespace, then the time from applying a VirtualService to every sidecar holding it (each
/// sidecar's own `/config_dump` shows the VirtualService's header match), as istiod's push latency is measured.
enum LocalMeshLoad {
    static let pods = 100

    static func run(meshctl: String, workdir: String) throws -> [Row] {
        let name = "local mesh: VirtualService apply to all \(pods) sidecars holding it"
        let state = URL(fileURLWithPath: workdir).appendingPathComponent("mesh-\(getpid())")
        try? FileManager.default.removeItem(at: state)
        defer { try? FileManager.default.removeItem(at: state) }
        let (server, url) = try LocalAPILoad.startServer(meshctl: meshctl, state: state)
        defer { server.terminate(); server.waitUntilExit() }
        let token = try String(contentsOf: state.appendingPathComponent("token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let client = try CurlClient(certificateAuthorities: Array(try Data(contentsOf: state.appendingPathComponent("ca.crt"))), timeoutSeconds: 10)
        let headers = [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")]
        func post(_ path: String, _ body: String) throws {
            _ = try client.perform(HTTPClientRequest(method: "POST", url: url + path, headers: headers, body: Array(body.utf8)))
        }
        try post("/api/v1/namespaces", #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench","labels":{"istio-injection":"enabled"}}}"#)
        try post("/api/v1/namespaces/bench/services",
                 #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"bench"},"spec":{"selector":{"app":"bench"},"ports":[{"name":"http","port":80,"targetPort":8080}]}}"#)
        let echo = #"{"name":"echo","image":"meshctl/echo","ports":[{"containerPort":8080}],"readinessProbe":{"tcpSocket":{"port":8080},"periodSeconds":1}}"#
        try post("/apis/apps/v1/namespaces/bench/deployments",
                 #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"bench"},"spec":{"replicas":\#(pods),"#
                    + #""strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"100%"}},"selector":{"matchLabels":{"app":"bench"}},"#
                    + #""template":{"metadata":{"labels":{"app":"bench"}},"spec":{"containers":[\#(echo)]}}}}"#)
        var ready = 0
        let readyLimit = Date().addingTimeInterval(300)
        while ready < pods && Date() < readyLimit {
            let answer = try client.perform(HTTPClientRequest(url: url + "/apis/apps/v1/namespaces/bench/deployments/bench", headers: headers))
            ready = (try? JSONValue.parse(answer.body))?["status"]?["readyReplicas"]?.int ?? 0
            if ready < pods { usleep(200_000) }
        }
        guard ready == pods else {
            return [Row(benchmark: name, result: "-", reference: "\(ready) of \(pods) ready in 300 s",
                        note: "the sidecars did not all become ready (they must take the pilot's configuration first)")]
        }
        let list = try client.perform(HTTPClientRequest(url: url + "/api/v1/namespaces/bench/pods", headers: headers))
        var waiting = Set(((try? JSONValue.parse(list.body))?["items"]?.array ?? []).compactMap { $0["status"]?["podIP"]?.string })
        let marker = "bench-\(UUID().uuidString.lowercased())"
        let started = Date()
        try post("/apis/networking.istio.io/v1/namespaces/bench/virtualservices",
                 #"{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"bench"},"spec":{"hosts":["bench"],"http":["#
                    + #"{"match":[{"headers":{"x-bench":{"exact":"\#(marker)"}}}],"route":[{"destination":{"host":"bench"}}]},{"route":[{"destination":{"host":"bench"}}]}]}}"#)
        var arrivals: [Double] = []
        let limit = started.addingTimeInterval(120)
        while !waiting.isEmpty && Date() < limit {
            for address in waiting {
                guard let dump = try? client.perform(HTTPClientRequest(url: "http://\(address):15000/config_dump")),
                      String(decoding: dump.body, as: UTF8.self).contains(marker) else { continue }
                waiting.remove(address)
                arrivals.append(Date().timeIntervalSince(started))
            }
            if !waiting.isEmpty { usleep(20_000) }
        }
        guard waiting.isEmpty else {
            return [Row(benchmark: name, result: "-", reference: "\(arrivals.count) of \(pods) within 120 s", note: "some sidecars never showed the VirtualService")]
        }
        return [Row(benchmark: name, result: String(format: "%.2f s", arrivals.max() ?? .nan),
                    reference: String(format: "median %.2f s", LocalAPILoad.percentile(arrivals, 0.5)),
                    note: "pilot debounce 50 ms, REST-JSON xDS held requests; polled each sidecar's /config_dump")]
    }
}
