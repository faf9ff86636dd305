import Foundation

/// Finds a real Envoy: `$ENVOY` (set by `make test` from scripts/envoy.sh), the copy scripts/envoy.sh installs under
/// .build/tools, or `envoy` on PATH.
public enum EnvoyBinary {
    public static func find(packageRoot: URL) -> String? {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = environment["ENVOY"].map { [$0] } ?? []
        candidates.append(packageRoot.appendingPathComponent(".build/tools/envoy/envoy/_bin/envoy").path)
        candidates += (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/envoy" }
        return candidates.first { !$0.isEmpty && FileManager.default.isExecutableFile(atPath: $0) }
    }
}
