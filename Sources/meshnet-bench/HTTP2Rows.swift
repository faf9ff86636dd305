import Foundation
import MeshNet
import MeshHTTP1
import MeshHTTP2
#if canImport(Glibc)
import Glibc
#endif

// The h2c rows: MeshHTTP2's server against nginx's `listen ... http2` (h2c with prior knowledge), one worker
// each, both answering `hello`, measured by h2load on loopback.

/// `meshnet-bench h2-hello-server`: serves `hello` over h2c on one loop, prints its port, runs until stdin closes.
func runHTTP2HelloServer() -> Never {
    serveUntilStdinCloses(name: "h2-hello-server") { loop in
        let server = try HTTP2Server(host: "127.0.0.1", port: 0, loops: [loop]) { _, responder in
            responder.respond(HTTPResponse(status: 200, headers: [("content-type", "text/plain")], body: hello))
        }
        server.start()
        return server.port
    }
}

/// h2load's requests/s and its failure count against `port`, or nil when h2load is missing or says nothing.
private func h2load(port: Int, requests: Int, clients: Int, streams: Int) -> (rate: Double, failed: Int)? {
    guard let text = loadToolOutput("/usr/bin/h2load", ["-n", String(requests), "-c", String(clients), "-m", String(streams), "-t", "1",
                                                        "http://127.0.0.1:\(port)/"]) else { return nil }
    let lines = text.split(separator: "\n")
    // "finished in 1.02s, 58823.53 req/s, 2.13MB/s"
    guard let finished = lines.first(where: { $0.hasPrefix("finished in") }),
          let rate = finished.split(separator: ",").dropFirst().first.flatMap({ Double($0.split(separator: " ").first ?? "") }) else { return nil }
    // "requests: 60000 total, 60000 started, 60000 done, 60000 succeeded, 0 failed, 0 errored, 0 timeout"
    let counts = lines.first { $0.hasPrefix("requests:") }?.split(separator: ",") ?? []
    let failed = counts.filter { $0.hasSuffix(" failed") || $0.hasSuffix(" errored") }
        .compactMap { Int($0.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") }.reduce(0, +)
    return (rate, failed)
}

/// The h2c rows: h2load -c 32 -m 10 for a fixed number of requests (MESHNET_BENCH_H2_REQUESTS, default 100,000),
/// three runs each in turns, medians, ratio to nginx.
func http2Rows(workdir: String) -> [Row] {
    let requests = Int(ProcessInfo.processInfo.environment["MESHNET_BENCH_H2_REQUESTS"] ?? "") ?? 100_000
    let label = "h2c hello, h2load -c32 -m10 -n\(requests), median of 3 (1 loop vs 1 nginx worker)"
    do {
        let ours = try startHelloServer(preload: nil, mode: "h2-hello-server")
        defer { ours.stop() }
        let nginx = try startNginx(workdir: workdir, http2: true)
        defer { nginx?.stop() }
        var mine: [Double] = [], theirs: [Double] = []
        var failures = 0
        for _ in 0..<3 {
            if let result = h2load(port: ours.port, requests: requests, clients: 32, streams: 10) { mine.append(result.rate); failures += result.failed }
            if let nginx, let result = h2load(port: nginx.port, requests: requests, clients: 32, streams: 10) { theirs.append(result.rate) }
        }
        guard !mine.isEmpty else { return [Row(benchmark: label, result: "skipped", reference: "", note: "no /usr/bin/h2load (apt-get install nghttp2-client)")] }
        let failedNote = failures == 0 ? "0 failed requests" : "\(failures) FAILED requests"
        guard !theirs.isEmpty else {
            return [Row(benchmark: label, result: String(format: "%.0f req/s", median(mine)), reference: "nginx: not run",
                        note: "no /usr/sbin/nginx (apt-get install nginx); \(failedNote)")]
        }
        return [Row(benchmark: label, result: String(format: "%.0f req/s", median(mine)), reference: String(format: "nginx %.0f req/s", median(theirs)),
                    note: String(format: "ratio %.2f; %@", median(mine) / median(theirs), failedNote))]
    } catch {
        return [Row(benchmark: label, result: "failed", reference: "", note: "\(error)")]
    }
}
