import Foundation
import MeshTestSupport

/// The traffic of the envoy-admin samples (`run.sh`, `requests.tsv`), sent to a proxy running the sample
/// bootstrap: each phase's status codes and the response of its first request, plus the access log's flags.
struct SamplePhases {
    struct Result {
        var phase: String
        var statuses: [Int]
        var first: TestResponse?
    }

    let outboundPort: Int
    let inboundPort: Int
    static let reviews = "reviews.default.svc.cluster.local:9080"

    /// The phases run.sh sends over HTTP/1.1, in its order (the h2c phase is left out). `ratings-mtls` goes out over
    /// ISTIO_MUTUAL to the proxy's own virtualInbound, so the sample needs fresh certificates (`writeFreshCertificates`).
    func run() throws -> [Result] {
        var results: [Result] = []
        func phase(_ name: String, _ count: Int, path: String, host: String = Self.reviews, headers: [(String, String)] = [], port: Int? = nil,
                   method: String = "GET", body: String = "") throws {
            var result = Result(phase: name, statuses: [], first: nil)
            for index in 0..<count {
                let response: TestResponse
                do {
                    response = try TestClient.get(port: port ?? outboundPort, path: path, host: host,
                                                  headers: [("user-agent", "meshctl-sample/\(name)")] + headers, method: method, body: body)
                } catch {
                    throw TestClientError(message: "phase \(name), request \(index + 1): \(error)")
                }
                if result.first == nil { result.first = response }
                result.statuses.append(response.status)
            }
            results.append(result)
        }
        try phase("ok-weighted", 1, path: "/")
        try phase("weighted-90-10", 40, path: "/")
        try phase("post-weighted", 2, path: "/reviews", method: "POST", body: String(repeating: "x", count: 16082))
        try phase("jason-v2", 3, path: "/reviews/0", headers: [("end-user", "jason")])
        try phase("fault-abort", 3, path: "/fault/abort")
        try phase("fault-delay", 2, path: "/fault/delay")
        try phase("timeout", 1, path: "/timeout/slow")
        try phase("upstream-503", 1, path: "/status/503")
        try phase("retry-503", 1, path: "/retry/status/503")
        try phase("dead-noretry", 1, path: "/noretry/v3")
        try phase("dead-retry", 5, path: "/v3")
        try phase("dead-after-ejection", 1, path: "/noretry/v3")
        // Six concurrent slow requests against subset v2 (1 connection, 1 pending, 1 request).
        var breaker = Result(phase: "circuit-breaker", statuses: [], first: nil)
        final class Answers: @unchecked Sendable {
            let lock = NSLock()
            var list: [TestResponse] = []
        }
        let collected = Answers()
        let port = outboundPort
        // One thread per request (concurrentPerform runs only as many at once as there are cores: two here, which
        // never overflows one connection plus one pending request).
        let done = DispatchGroup()
        for _ in 0..<6 {
            done.enter()
            Thread.detachNewThread {
                if let response = try? TestClient.get(port: port, path: "/cb/slow", host: Self.reviews, headers: [("user-agent", "meshctl-sample/circuit-breaker")]) {
                    collected.lock.lock(); collected.list.append(response); collected.lock.unlock()
                }
                done.leave()
            }
        }
        done.wait()
        let answers = collected.list
        breaker.statuses = answers.map(\.status).sorted()
        breaker.first = answers.first { $0.status == 503 }
        results.append(breaker)
        try phase("blackhole", 2, path: "/blackhole")
        try phase("no-route", 2, path: "/", host: "unknown.example.com")
        try phase("ratings-mtls", 3, path: "/ratings/0", host: "ratings.default.svc.cluster.local:9080")
        try phase("inbound-plaintext", 3, path: "/productpage", host: "productpage.default.svc.cluster.local:9080", port: inboundPort)
        // Raw bytes that are not HTTP: the TCP catch-all chain sends them to BlackHoleCluster, which closes.
        let raw = try TestClient.exchange(port: inboundPort, bytes: Array("hello, not http\r\n".utf8))
        results.append(Result(phase: "tcp-catchall", statuses: [raw.isEmpty ? 0 : -1], first: nil))
        return results
    }

    /// `%RESPONSE_FLAGS%` and `%RESPONSE_CODE_DETAILS%` of each access log line, by the phase in its user agent.
    static func flags(inAccessLog text: String) -> [String: [String]] {
        var flags: [String: [String]] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 6 else { continue }
            // `[time] "METHOD PATH PROTO" CODE FLAGS DETAILS ...`; the TCP line's first quoted part is "- - -".
            let phase = line.range(of: "\"meshctl-sample/")
                .map { String(line[$0.upperBound...].prefix { $0 != "\"" }) } ?? (line.contains("\"- - -\"") ? "tcp-catchall" : "?")
            flags[phase, default: []].append("\(fields[5]) \(fields[6])")
        }
        return flags
    }
}
