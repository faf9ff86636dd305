import Foundation
@testable import MeshProxy
import MeshTestSupport
import XCTest

/// What the policy differential tests share: one bootstrap run by real Envoy, then by meshctl's proxy, each handing
/// the test a reader of the named counters (those above 0).
enum DifferentialRun {
    /// What a client saw: the status, the body (`(upstream)` for the upstream's own answer), and chosen headers.
    struct Outcome: Equatable {
        var status: Int
        var body: String
        var headers: [String?]

        init(_ response: TestResponse, headers names: [String]) {
            status = response.status
            body = response.header("x-upstream") == nil ? response.body : "(upstream)"
            headers = names.map { response.header($0) }
        }
    }

    /// A scratch folder with `envoy` and `meshctl` folders inside (the caller removes it).
    static func scratch(_ name: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        for side in ["envoy", "meshctl"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(side), withIntermediateDirectories: true)
        }
        return directory
    }

    /// Starts Envoy on the bootstrap, waits until it is ready, runs `body`, and stops Envoy.
    static func inEnvoy<T>(_ envoy: String, _ bootstrap: PolicyBootstrap, statNames: [String], _ body: (_ stats: () throws -> [String: Int]) throws -> T) throws -> T {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: envoy)
        process.arguments = ["-c", try bootstrap.write(), "--disable-hot-restart", "--concurrency", "1", "--log-level", "error",
                             "--file-flush-interval-msec", "50", "--base-id", String(Int.random(in: 1000..<60000))]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        XCTAssertTrue(eventually(timeout: 30) { (try? TestClient.get(port: bootstrap.adminPort, path: "/ready", host: "admin").body) == "LIVE\n" },
                      "Envoy did not become ready")
        return try body {
            let text = try TestClient.get(port: bootstrap.adminPort, path: "/stats", host: "admin").body
            var values: [String: Int] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, statNames.contains(parts[0]), let value = Int(parts[1]), value > 0 { values[parts[0]] = value }
            }
            return values
        }
    }

    /// Runs the bootstrap in meshctl's proxy for `body`.
    static func inMeshctl<T>(_ bootstrap: PolicyBootstrap, statNames: [String], _ body: (_ stats: () throws -> [String: Int]) throws -> T) throws -> T {
        let proxy = try ProxyServer(configuration: try ProxyConfiguration.load(file: try bootstrap.write()), concurrency: 1,
                                    log: ProxyLog(level: .error) { FileHandle.standardError.write(Data($0.utf8)) })
        proxy.start()
        defer { proxy.stop() }
        return try body {
            Dictionary(uniqueKeysWithValues: statNames.compactMap { name in proxy.stats.value(name) > 0 ? (name, proxy.stats.value(name)) : nil })
        }
    }
}
