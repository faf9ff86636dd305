import Foundation
import KubeClient
import MeshNet
import MeshTLS
#if canImport(Glibc)
import Glibc
#endif

/// The local API server under load, in its own process (`meshctl local serve`), so its memory is its own:
/// RSS with 5,000 idle TLS connections (and after they close), and the latency of a GET while 1,000 watchers
/// receive a burst of writes (the store's SQLite work runs on the event-loop threads: does it stall other clients?).
enum LocalAPILoad {
    /// The server's resident set, from /proc.
    static func residentMB(_ pid: Int32) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
        return kilobytes / 1024
    }

    /// `meshctl local serve` on `state` in its own process, and its URL once it answers (within 30 s).
    static func startServer(meshctl: String, state: URL) throws -> (process: Process, url: String) {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: meshctl)
        server.arguments = ["local", "serve", "--state-dir", state.path, "--port", "0"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        let endpointFile = state.appendingPathComponent("endpoint")
        let deadline = Date().addingTimeInterval(30)
        var url = ""
        while url.isEmpty && Date() < deadline {
            url = (try? String(contentsOf: endpointFile, encoding: .utf8))?.split(separator: "\n").first.map(String.init) ?? ""
            if url.isEmpty { usleep(20_000) }
        }
        guard !url.isEmpty else {
            server.terminate()
            server.waitUntilExit()
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: endpointFile.path])
        }
        return (server, url)
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }

    static func run(meshctl: String, workdir: String) throws -> [Row] {
        // MESHCTL_BENCH_BURST: fewer writes for a quick look (debug builds are slow).
        let burst = ProcessInfo.processInfo.environment["MESHCTL_BENCH_BURST"].flatMap(Int.init) ?? 1000
        let state = URL(fileURLWithPath: workdir).appendingPathComponent("load-\(getpid())")
        try? FileManager.default.removeItem(at: state)
        defer { try? FileManager.default.removeItem(at: state) }
        let (server, url) = try startServer(meshctl: meshctl, state: state)
        defer { server.terminate(); server.waitUntilExit() }
        guard let port = Int(url.split(separator: ":").last ?? "") else { throw CocoaError(.fileReadNoSuchFile) }
        let token = try String(contentsOf: state.appendingPathComponent("token"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let authority = Array(try Data(contentsOf: state.appendingPathComponent("ca.crt")))
        let trust = try TLSClientContext(trusting: [try Certificate(pem: authority)])
        let pid = server.processIdentifier
        var rows: [Row] = []

        // 1. Memory: 5,000 idle TLS connections (handshake done, no request), then gone.
        let before = residentMB(pid)
        var idle: [LoopbackTLSClient] = []
        for _ in 0..<5000 { idle.append(try LoopbackTLSClient(port: port, trust: trust)) }
        usleep(300_000)
        let loaded = residentMB(pid)
        idle.removeAll()
        usleep(1_000_000)
        let after = residentMB(pid)
        rows.append(Row(benchmark: "local API: RSS with 5,000 idle TLS connections", result: String(format: "%.0f MB", loaded),
                        reference: String(format: "%.0f MB before, %.0f MB after they close", before, after),
                        note: String(format: "%.1f KB per connection", (loaded - before) * 1024 / 5000)))

        // 2. A GET's latency while 1,000 watchers get a burst of 1,000 writes (each write: 1,000 events to send).
        let client = try CurlClient(certificateAuthorities: authority)
        let headers = [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")]
        let base = url
        @Sendable func post(_ path: String, _ body: String, _ curl: CurlClient) throws {
            _ = try curl.perform(HTTPClientRequest(method: "POST", url: base + path, headers: headers, body: Array(body.utf8)))
        }
        try post("/api/v1/namespaces", #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"load"}}"#, client)
        try post("/api/v1/namespaces/load/configmaps", #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"probe"},"data":{"a":"b"}}"#, client)
        func getLatencies(while busy: () -> Bool, atLeast: Int) throws -> [Double] {
            let reader = try CurlClient(certificateAuthorities: authority)
            var latencies: [Double] = []
            while busy() || latencies.count < atLeast {
                latencies.append(try seconds { _ = try reader.perform(HTTPClientRequest(url: url + "/api/v1/namespaces/load/configmaps/probe", headers: headers)) } * 1000)
            }
            return latencies
        }
        let quiet = try getLatencies(while: { false }, atLeast: 500)
        var watchers: [LoopbackTLSClient] = []
        for _ in 0..<1000 {
            let watcher = try LoopbackTLSClient(port: port, trust: trust)
            try watcher.send("GET /api/v1/namespaces/load/configmaps?watch=true&resourceVersion=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n")
            watchers.append(watcher)
        }
        // Watchers that never read: their events wait in the server's queues and the kernel's buffers (the worst case).
        let writing = Mutex(true)
        let writer = Thread {
            let curl = try? CurlClient(certificateAuthorities: authority)
            for index in 0..<burst {
                try? post("/api/v1/namespaces/load/configmaps", #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"burst-\#(index)"},"data":{"k":"v"}}"#, curl!)
            }
            writing.set(false)
        }
        var burstTime = 0.0
        var loadedLatencies: [Double] = []
        burstTime = try seconds {
            writer.start()
            loadedLatencies = try getLatencies(while: { writing.get() }, atLeast: 1)
        }
        rows.append(Row(benchmark: "local API: GET one object, idle server (500 GETs)", result: String(format: "p99 %.1f ms", percentile(quiet, 0.99)),
                        reference: String(format: "p50 %.1f ms", percentile(quiet, 0.5)), note: String(format: "max %.1f ms", quiet.max() ?? .nan)))
        rows.append(Row(benchmark: "local API: GET during \(burst) writes to 1,000 watchers", result: String(format: "p99 %.1f ms", percentile(loadedLatencies, 0.99)),
                        reference: String(format: "p50 %.1f ms", percentile(loadedLatencies, 0.5)),
                        note: String(format: "max %.1f ms, %d GETs; burst %.1f s (%.0f writes/s, %.0f events/s)", loadedLatencies.max() ?? .nan,
                                     loadedLatencies.count, burstTime, Double(burst) / burstTime, Double(burst * 1000) / burstTime)))
        rows.append(Row(benchmark: "local API: server RSS after the burst, 1,000 watchers", result: String(format: "%.0f MB", residentMB(pid)),
                        reference: "", note: "unread events queued for watchers that never read"))
        watchers.removeAll()
        return rows
    }

    /// A flag shared by two threads.
    final class Mutex: @unchecked Sendable {
        private var value: Bool
        private let lock = NSLock()
        init(_ value: Bool) { self.value = value }
        func get() -> Bool { lock.lock(); defer { lock.unlock() }; return value }
        func set(_ new: Bool) { lock.lock(); value = new; lock.unlock() }
    }
}
