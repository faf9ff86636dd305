import Foundation
import MeshTestSupport
import XCTest
@testable import MeshControlPlane

/// kubectl's Go client offers h2 in its TLS handshake and the API server takes it.
extension KubectlTests {
    func testKubectlSpeaksHTTP2ForRequestsAndWatches() throws {
        let plane = try XCTUnwrap(plane)
        let store = try XCTUnwrap(api).store
        var result = try kubectl(["get", "namespaces", "default"])
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["apply", "-f", "-"], input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: over-h2, namespace: default}\ndata: {a: b}\n")
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "configmap/over-h2 created\n")

        // A watch streams over its HTTP/2 stream, and ends on the server once kubectl is gone.
        let watchersBefore = store.watcherCount
        let (process, collected) = configMapWatch()
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        XCTAssertTrue(eventually(timeout: 20) { store.watcherCount == watchersBefore + 1 }, "kubectl's watch reached the store: \(collected.text)")
        try kubectl(["label", "configmap", "over-h2", "seen=yes"])
        XCTAssertTrue(eventually(timeout: 20) { collected.text.split(separator: "\n").filter { $0.hasPrefix("over-h2") }.count >= 2 }, collected.text)
        process.terminate()
        process.waitUntilExit()
        collected.stop()
        XCTAssertTrue(eventually(timeout: 20) { store.watcherCount == watchersBefore }, "the watch ended with its connection")

        let protocols = plane.connectionsByProtocol
        XCTAssertEqual(protocols["http/1.1"], nil, "\(protocols)")
        XCTAssertEqual(protocols["none"], nil, "\(protocols)")
        XCTAssertGreaterThanOrEqual(protocols["h2"] ?? 0, 3, "one connection per kubectl run at least: \(protocols)")
    }
}
