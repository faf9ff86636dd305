import Foundation

/// A real Envoy for differential tests: $ENVOY, else the one `make test` installs into .build/tools (scripts/envoy.sh),
/// else envoy on PATH; nil when there is none.
public func envoyBinaryPath() -> String? {
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let environment = ProcessInfo.processInfo.environment
    var candidates: [String] = environment["ENVOY"].map { [$0] } ?? []
    candidates.append(packageRoot.appendingPathComponent(".build/tools/envoy/envoy/_bin/envoy").path)
    candidates += (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/envoy" }
    candidates.append("/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/envoy/_bin/envoy")
    return candidates.first { !$0.isEmpty && FileManager.default.isExecutableFile(atPath: $0) }
}
