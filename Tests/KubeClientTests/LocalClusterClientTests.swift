import Foundation
import XCTest
@testable import KubeClient
import Manifests
import MeshControlPlane

/// The client against meshctl's local control plane over real HTTPS: watches that resume, tls-server-name.
final class LocalClusterClientTests: XCTestCase {
    var plane: LocalControlPlane!
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-client-\(UUID().uuidString)")
        plane = try LocalControlPlane(stateDirectory: directory, port: 0)
        try plane.start()
    }

    override func tearDown() {
        plane?.stop()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    func access(tlsServerName: String? = nil) -> ClusterAccess {
        ClusterAccess(contextName: "local", server: plane.url, namespace: "default", certificateAuthority: plane.authorityPEM,
                      insecureSkipTLSVerify: false, tlsServerName: tlsServerName, proxyURL: nil, credentials: .token(plane.token), source: "test")
    }

    func configMap(_ name: String) -> JSONValue {
        .object([("metadata", .object([("name", .string(name))])), ("data", .object([("k", .string("v"))]))])
    }

    func testWatchResumesFromTheLastVersionAfterTheServerEndsIt() throws {
        let client = try KubernetesClient(access: access())
        let start = try client.get("/api/v1/namespaces/default/configmaps")["metadata"]?["resourceVersion"]?.string
        try client.send("POST", "/api/v1/namespaces/default/configmaps", body: configMap("a"))
        let writer = try KubernetesClient(access: access())
        // b is created once the server has ended the first stream (after its 1 s timeout), just before the watch resumes.
        let transport = StreamObservingTransport(try CurlClient(certificateAuthorities: plane.authorityPEM)) { stream in
            if stream == 2 { _ = try? writer.send("POST", "/api/v1/namespaces/default/configmaps", body: self.configMap("b")) }
        }
        let watcher = KubernetesClient(access: access(), transport: transport)
        var seen: [String] = []
        try watcher.watch("/api/v1/namespaces/default/configmaps", resourceVersion: start, timeoutSeconds: 1) { event in
            seen.append("\(event.type) \(event.object["metadata"]?["name"]?.string ?? "")")
            return seen.count < 2
        }
        XCTAssertEqual(seen, ["ADDED a", "ADDED b"], "b came after the first stream ended and the watch resumed")
        XCTAssertEqual(transport.streams, 2, "one stream until the server's timeout, then one resumed from a's version")
        XCTAssertThrowsError(try client.watch("/api/v1/namespaces/default/configmaps", resourceVersion: "3") { _ in true }) {
            XCTAssertEqual(($0 as? APIStatusError)?.code, 410)
        }
    }

    /// One client shared by many threads: requests take turns on libcurl's handle and discovery is asked once.
    func testOneClientServesManyThreads() throws {
        let client = try KubernetesClient(access: access())
        let failures = Locked<[String]>([])
        let bodies = (0..<8).map { configMap("from-\($0)") }
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for round in 0..<20 {
                do {
                    _ = try client.get("/api/v1/namespaces/default")
                    guard try client.locate(apiVersion: "v1", kind: "ConfigMap") != nil else {
                        throw TransportError(reason: "ConfigMap not discovered")
                    }
                    if round == 0 { try client.send("POST", "/api/v1/namespaces/default/configmaps", body: bodies[thread]) }
                } catch {
                    failures.withLock { $0.append("thread \(thread) round \(round): \(error)") }
                }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(try client.list("/api/v1/namespaces/default/configmaps").filter {
            $0["metadata"]?["name"]?.string?.hasPrefix("from-") == true }.count, 8)
    }

    func testTLSServerNameIsWhatTheCertificateMustName() throws {
        XCTAssertEqual(try KubernetesClient(access: access(tlsServerName: "localhost")).get("/version")["gitVersion"]?.string, "v1.32.0")
        XCTAssertThrowsError(try KubernetesClient(access: access(tlsServerName: "wrong.example")).get("/version")) { error in
            XCTAssertTrue("\(error)".contains("cannot reach the Kubernetes API") && "\(error)".lowercased().contains("certificate"), "\(error)")
        }
        var untrusted = access()
        untrusted.certificateAuthority = nil  // the system's authorities do not know meshctl's local CA
        XCTAssertThrowsError(try KubernetesClient(access: untrusted).get("/version")) { error in
            XCTAssertTrue("\(error)".contains("(the server's certificate: CN = 127.0.0.1)") || "\(error)".contains("(the server's certificate: CN=127.0.0.1)"),
                          "the certificate's subject is named: \(error)")
        }
        XCTAssertThrowsError(try KubernetesClient(access: access()).proxyGet(pod: "web", namespace: "default", port: 15000, path: "/stats")) {
            XCTAssertEqual(($0 as? APIStatusError)?.code, 404, "the local control plane has no pod proxy yet")
        }
    }
}

/// libcurl, as the client uses it, with a step run before each streamed request (a watch's streams).
private final class StreamObservingTransport: HTTPTransport {
    private let curl: CurlClient
    private let beforeStream: (Int) -> Void
    /// Streamed requests started so far.
    private(set) var streams = 0

    init(_ curl: CurlClient, beforeStream: @escaping (Int) -> Void) {
        self.curl = curl
        self.beforeStream = beforeStream
    }

    func perform(_ request: HTTPClientRequest) throws -> HTTPClientResponse { try curl.perform(request) }

    func performStreaming(_ request: HTTPClientRequest, onData: @escaping ([UInt8]) -> Bool) throws -> HTTPClientResponse {
        streams += 1
        beforeStream(streams)
        return try curl.performStreaming(request, onData: onData)
    }
}
