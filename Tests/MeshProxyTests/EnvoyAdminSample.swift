import Foundation
import MeshTestSupport

/// The Envoy 1.40 samples in ../shared/conformance/envoy-admin, copied into a temporary folder with the
/// `/etc/istio/proxy` paths pointed there (and, for tests that run traffic, the ports moved to free ones).
struct EnvoyAdminSample {
    static let folder: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/conformance/envoy-admin")

    let directory: URL
    var bootstrap: URL { directory.appendingPathComponent("envoy.yaml") }
    var accessLog: URL { directory.appendingPathComponent("access.log") }

    /// `ports` maps the sample's ports (15000, 9080, 19081, ...) to others; `edit` changes the bootstrap text last.
    init(ports: [Int: Int] = [:], edit: (String) -> String = { $0 }) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshproxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func copy(_ name: String, _ change: (String) -> String = { $0 }) throws {
            let text = try String(contentsOf: Self.folder.appendingPathComponent(name), encoding: .utf8)
            try change(text).write(to: directory.appendingPathComponent((name as NSString).lastPathComponent), atomically: true, encoding: .utf8)
        }
        let root = directory.path
        func remap(_ text: String) -> String {
            var text = text.replacingOccurrences(of: "/etc/istio/proxy", with: root)
            for (from, to) in ports { text = text.replacingOccurrences(of: "port_value: \(from)}", with: "port_value: \(to)}") }
            return text
        }
        try copy("envoy.yaml") { edit(remap($0)) }
        try copy("rds-9080.yaml", remap)
        try copy("sds/sds-default.yaml")
        try copy("sds/sds-rootca.yaml")
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// A port nothing listens on right now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
