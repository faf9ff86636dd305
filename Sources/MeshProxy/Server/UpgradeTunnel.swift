import Foundation
import MeshNet
import MeshHTTP1

/// HTTP Upgrade (`upgrade_configs`, Istio's websocket): which requests ask for it.
enum UpgradeTunnel {
    /// The protocol a request asks to switch to: its `Upgrade` header when a `Connection` header lists `upgrade`.
    static func requestedProtocol(_ request: HTTPRequest) -> String? {
        guard let upgrade = request.header("upgrade"), !upgrade.isEmpty else { return nil }
        let tokens = request.headers.filter { $0.name.lowercased() == "connection" }.flatMap { $0.value.split(separator: ",") }
        return tokens.contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "upgrade" } ? upgrade : nil
    }
}
