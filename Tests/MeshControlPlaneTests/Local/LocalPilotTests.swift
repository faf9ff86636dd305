import ConfigValues
import Foundation
import MeshControlPlane
import MeshPilot
import MeshTestSupport
import XCTest

/// Local mode's pilot over a real SQLite store and a real socket: a sidecar's certificate is issued again before it
/// expires even when nothing in the store changes.
final class LocalPilotTests: XCTestCase {
    final class Clock: @unchecked Sendable {
        private let lock = NSLock()
        private var offset: Double = 0
        func advance(_ seconds: Double) { lock.lock(); offset += seconds; lock.unlock() }
        var now: Date { lock.lock(); defer { lock.unlock() }; return Date().addingTimeInterval(offset) }
    }

    func testCertificatesAreIssuedAgainBeforeTheyExpireWithoutAnyChange() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-localpilot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let paths = LocalStatePaths(directory: directory)
        let store = try ObjectStore(path: paths.database.path)
        _ = try store.create("pods", namespace: "shop", name: "web-1") { _ in
            try! JSONValue.parse(#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}}, "spec": {"serviceAccountName": "web", "containers": [{"name": "web", "ports": [{"containerPort": 8080}]}, {"name": "istio-proxy"}]}, "status": {"podIP": "127.10.0.5"}}"#)
        }
        let clock = Clock()
        let pilot = try LocalPilot(store: store, paths: paths, refreshInterval: 0.2, now: { clock.now }, log: { _ in })
        try pilot.start()
        defer { pilot.stop() }
        let port = try XCTUnwrap(Int(pilot.address.split(separator: ":").last ?? ""))
        let node = #"{"id": "sidecar~127.10.0.5~web-1.shop~shop.svc.cluster.local"}"#

        func askSecrets(version: String, nonce: String) throws -> (version: String, nonce: String, certificate: String) {
            let body = #"{"version_info": "\#(version)", "response_nonce": "\#(nonce)", "node": \#(node), "resource_names": ["default"], "type_url": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"}"#
            let client = try LoopbackClient(address: "127.0.0.1", port: port)
            try client.send("POST /v3/discovery:secrets HTTP/1.1\r\nhost: pilot\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)")
            let text = client.readUntilClosed(timeout: 30)
            let json = try JSONValue.parse(String(text[try XCTUnwrap(text.range(of: "\r\n\r\n")).upperBound...]))
            let certificate = json["resources"]?.array?.first?.value(atPath: "tls_certificate.certificate_chain.inline_string")?.string
            return (json["version_info"]?.string ?? "", json["nonce"]?.string ?? "", try XCTUnwrap(certificate, text))
        }

        let first = try askSecrets(version: "", nonce: "")
        // Seventeen hours later (more than two thirds of a day's certificate), the held request gets a new one.
        clock.advance(17 * 3_600)
        let second = try askSecrets(version: first.version, nonce: first.nonce)
        XCTAssertNotEqual(second.version, first.version)
        XCTAssertNotEqual(second.certificate, first.certificate, "a certificate two thirds through its life is issued again")
    }
}
