import Foundation
import KubeClient
import Manifests
@testable import MeshControlPlane

/// What a running process has written to a pipe so far, collected as it arrives.
final class PipeCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let pipe: Pipe

    init(_ pipe: Pipe) {
        self.pipe = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self else { return }
            lock.lock()
            data.append(chunk)
            lock.unlock()
        }
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    /// Stops collecting (once the process has ended).
    func stop() { pipe.fileHandleForReading.readabilityHandler = nil }
}

/// A started control plane in a state directory of its own, and an HTTPS client that trusts it: for tests that
/// speak to the API over the wire.
final class RunningControlPlane {
    let directory: URL
    let plane: LocalControlPlane
    let client: CurlClient

    init(name: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-\(name)-\(UUID().uuidString)")
        plane = try LocalControlPlane(stateDirectory: directory, port: 0)
        try plane.start()
        client = try CurlClient(certificateAuthorities: plane.authorityPEM, timeoutSeconds: 10)
    }

    /// Stops the plane and removes its state.
    func stop() {
        plane.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// One request with the plane's token (or `token`); the status and the body as JSON (or as a string).
    func call(_ method: String, _ path: String, _ body: String? = nil, contentType: String = "application/json",
              token: String? = nil) throws -> (status: Int, json: JSONValue) {
        var headers = [("Authorization", "Bearer \(token ?? plane.token)")]
        if body != nil { headers.append(("Content-Type", contentType)) }
        let response = try client.perform(HTTPClientRequest(method: method, url: plane.url + path, headers: headers, body: Array((body ?? "").utf8)))
        return (response.status, (try? JSONValue.parse(response.body)) ?? .string(String(decoding: response.body, as: UTF8.self)))
    }
}
