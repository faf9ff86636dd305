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

/// The real kubectl against a local control plane: a kubeconfig for it in a test's folder, and runs with that
/// folder as HOME and cache.
enum KubectlRunner {
    static let path = "/usr/bin/kubectl"

    static func writeKubeconfig(for plane: LocalControlPlane, in directory: URL) throws {
        let kubeconfig = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: local
              cluster: {server: "\(plane.url)", certificate-authority-data: \(Data(plane.authorityPEM).base64EncodedString())}
            users:
            - name: local
              user: {token: \(plane.token)}
            contexts:
            - name: local
              context: {cluster: local, user: local}
            current-context: local

            """
        try kubeconfig.write(to: directory.appendingPathComponent("kubeconfig"), atomically: true, encoding: .utf8)
    }

    /// Runs kubectl with the folder's kubeconfig and its own cache; returns exit status and merged output.
    static func run(_ arguments: [String], in directory: URL, input: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--kubeconfig", directory.appendingPathComponent("kubeconfig").path,
                             "--cache-dir", directory.appendingPathComponent("cache").path, "--request-timeout", "20s"] + arguments
        process.environment = ["HOME": directory.path, "PATH": "/usr/bin:/bin"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
