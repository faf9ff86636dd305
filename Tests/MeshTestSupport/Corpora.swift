import Foundation

/// Istio's corpora: `MESHCTL_CONFORMANCE_DIR`, else `../shared/conformance/istio` beside the package.
public func istioConformanceFolder(packageRoot: URL) -> URL {
    if let override = ProcessInfo.processInfo.environment["MESHCTL_CONFORMANCE_DIR"], !override.isEmpty {
        return URL(fileURLWithPath: override)
    }
    return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance/istio")
}
