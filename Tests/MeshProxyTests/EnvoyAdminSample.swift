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
    static func freePort() -> Int { freeLocalPort() }
}

extension EnvoyAdminSample {
    /// Makes throw-away certificates with the sample's gen-certs.sh and writes the SDS files with them, as run.sh
    /// does, so a real Envoy can load the TLS parts of the bootstrap.
    func writeFreshCertificates() throws {
        let certs = directory.appendingPathComponent("certs")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [Self.folder.appendingPathComponent("gen-certs.sh").path, certs.path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestClientError(message: "gen-certs.sh failed (is openssl installed?)") }
        try Self.writeSDSFiles(in: directory, chain: try Data(contentsOf: certs.appendingPathComponent("cert-chain.pem")),
                               keyFile: certs.appendingPathComponent("key.pem").path,
                               root: try Data(contentsOf: certs.appendingPathComponent("root-cert.pem")))
    }

    /// Writes `sds-default.yaml` (the secret `default`: `chain` inline, the key by file name) and `sds-rootca.yaml`
    /// (the secret `ROOTCA`: `root` inline) into `directory`, as istiod's SDS server sends them.
    static func writeSDSFiles(in directory: URL, chain: Data, keyFile: String, root: Data) throws {
        let type = "\"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
        try """
        version_info: "1"
        resources:
        - \(type)
          name: default
          tls_certificate:
            certificate_chain: {inline_bytes: \(chain.base64EncodedString())}
            private_key: {filename: \(keyFile)}
        """.write(to: directory.appendingPathComponent("sds-default.yaml"), atomically: true, encoding: .utf8)
        try """
        version_info: "1"
        resources:
        - \(type)
          name: ROOTCA
          validation_context:
            trusted_ca: {inline_bytes: \(root.base64EncodedString())}
        """.write(to: directory.appendingPathComponent("sds-rootca.yaml"), atomically: true, encoding: .utf8)
    }
}
