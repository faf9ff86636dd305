import ConfigValues
import Foundation
import MeshNet
import MeshTLS
import MeshPilot
import MeshTestSupport
import XCTest

/// The discovery server on a real socket, spoken to as a proxy would: answers, long-poll holds, pushes, ACK/NACK
/// records, and the debug endpoints.
final class DiscoveryServerTests: XCTestCase {
    static let node = DiscoveryRequest.Node(id: "sidecar~127.10.0.5~web-1.shop~shop.svc.cluster.local", metadata: .object([("ISTIO_VERSION", .string("1.28.0"))]))

    final class Source: @unchecked Sendable {
        private let lock = NSLock()
        private var value: ProxyResources
        init(_ value: ProxyResources) { self.value = value }
        var resources: ProxyResources {
            get { lock.lock(); defer { lock.unlock() }; return value }
            set { lock.lock(); value = newValue; lock.unlock() }
        }
    }

    static func listener(_ name: String) -> JSONValue { .object([("name", .string(name))]) }

    private func start(holdLimit: Double = 1) throws -> (DiscoveryServer, Source) {
        let source = Source(ProxyResources(listeners: [Self.listener("virtualInbound")],
                                           secrets: [.object([("name", .string("default")),
                                                              ("tls_certificate", .object([("certificate_chain", .object([("inline_string", .string("CERT"))])),
                                                                                           ("private_key", .object([("inline_string", .string("SECRET-KEY"))]))]))])]))
        let server = try DiscoveryServer(holdLimit: holdLimit) { node in node.proxyID == "web-1.shop" ? source.resources : nil }
        server.start()
        return (server, source)
    }

    struct Answer {
        let status: Int
        let body: String
        var response: DiscoveryResponse? { try? DiscoveryResponse.read(Array(body.utf8)) }
    }

    /// One request with `Connection: close`, the whole answer read (blocking).
    static func exchange(_ port: Int, method: String = "POST", path: String, body: String = "") throws -> Answer {
        let client = try LoopbackClient(address: "127.0.0.1", port: port)
        try client.send("\(method) \(path) HTTP/1.1\r\nhost: pilot\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)")
        let text = client.readUntilClosed(timeout: 20)
        guard let split = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
            throw NoAnswer(text: text)
        }
        return Answer(status: status, body: String(text[split.upperBound...]))
    }

    struct NoAnswer: Error { let text: String }

    static func ask(_ port: Int, type: String = "listeners", version: String = "", nonce: String = "", names: [String] = [], error: String? = nil,
                    node: DiscoveryRequest.Node = node) throws -> Answer {
        let typeURL = type == "listeners" ? ProxyResources.listenerType : ProxyResources.secretType
        let request = DiscoveryRequest(versionInfo: version, node: node, resourceNames: names, typeURL: typeURL, responseNonce: nonce,
                                       errorDetail: error.map { DiscoveryRequest.ErrorDetail(message: $0) })
        return try exchange(port, path: "/v3/discovery:\(type)", body: request.json.serialized)
    }

    /// An exchange on its own thread.
    final class Pending: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: Answer?
        init(_ work: @escaping @Sendable () throws -> Answer) {
            Thread.detachNewThread { [self] in
                result = try? work()
                done.signal()
            }
        }
        func wait() -> Answer? {
            _ = done.wait(timeout: .now() + 20)
            return result
        }
    }

    func testAnswersHoldsAndWakesOnlyForChanges() throws {
        let (server, source) = try start()
        defer { server.stop() }
        let first = try Self.ask(server.port)
        XCTAssertEqual(first.status, 200)
        let response = try XCTUnwrap(first.response)
        XCTAssertEqual(response.resources.first?["@type"]?.string, ProxyResources.listenerType)
        XCTAssertEqual(response.resources.first?["name"]?.string, "virtualInbound")
        XCTAssertEqual(server.syncState(proxyID: "web-1.shop")?[ProxyResources.listenerType]?.status, "STALE")

        // The ACK is held; a push that changes nothing leaves it held until the hold limit (304).
        let port = server.port
        let held = Pending { try Self.ask(port, version: response.versionInfo, nonce: response.nonce) }
        XCTAssertTrue(eventually { server.syncState(proxyID: "web-1.shop")?[ProxyResources.listenerType]?.status == "SYNCED" })
        server.push()
        XCTAssertEqual(held.wait()?.status, 304)
        XCTAssertEqual(server.syncState(proxyID: "web-1.shop")?[ProxyResources.listenerType]?.versionAcked, response.versionInfo)

        // A change wakes the held request with the new version.
        let next = Pending { try Self.ask(port, version: response.versionInfo, nonce: response.nonce) }
        var changed = source.resources
        changed.listeners.append(Self.listener("virtualOutbound"))
        source.resources = changed
        XCTAssertTrue(eventually { server.connectedProxies == ["web-1.shop"] })
        server.push()
        let woken = try XCTUnwrap(next.wait()?.response)
        XCTAssertNotEqual(woken.versionInfo, response.versionInfo)
        XCTAssertEqual(woken.resources.compactMap { $0["name"]?.string }, ["virtualInbound", "virtualOutbound"])
        XCTAssertEqual(server.syncState(proxyID: "web-1.shop")?[ProxyResources.listenerType]?.status, "STALE")
    }

    func testARejectionIsRecordedAndNotSentAgain() throws {
        let (server, _) = try start()
        defer { server.stop() }
        let response = try XCTUnwrap(try Self.ask(server.port).response)
        let nack = try Self.ask(server.port, version: "", nonce: response.nonce, error: "resources[0].name: bad")
        XCTAssertEqual(nack.status, 304, "a rejected version is not sent again until it changes")
        let state = try XCTUnwrap(server.syncState(proxyID: "web-1.shop")?[ProxyResources.listenerType])
        XCTAssertEqual(state.status, "STALE")
        XCTAssertEqual(state.lastError, "resources[0].name: bad")
        let syncz = try JSONValue.parse(try Self.exchange(server.port, method: "GET", path: "/debug/syncz").body)
        let entry = try XCTUnwrap(syncz.array?.first)
        XCTAssertEqual(entry["proxy"]?.string, "web-1.shop")
        XCTAssertEqual(entry["istio_version"]?.string, "1.28.0")
        XCTAssertEqual(entry["listener_sent"]?.string, response.nonce)
        XCTAssertNil(entry["listener_acked"])
        XCTAssertEqual(entry["resources"]?[ProxyResources.listenerType]?["lastError"]?.string, "resources[0].name: bad")
        XCTAssertEqual(try JSONValue.parse(try Self.exchange(server.port, method: "GET", path: "/debug/syncz?namespace=other").body), .array([]))
    }

    func testNamedSubscriptionsAndTheConfigDumpRedactsKeys() throws {
        let (server, _) = try start()
        defer { server.stop() }
        let secrets = try XCTUnwrap(try Self.ask(server.port, type: "secrets", names: ["default"]).response)
        XCTAssertEqual(secrets.resources.count, 1)
        XCTAssertEqual(try Self.ask(server.port, type: "secrets", names: ["ROOTCA"]).response?.resources.count, 0)
        let dump = try Self.exchange(server.port, method: "GET", path: "/debug/config_dump?proxyID=web-1.shop")
        XCTAssertEqual(dump.status, 200)
        XCTAssertFalse(dump.body.contains("SECRET-KEY"), "the private key reached the config dump")
        XCTAssertTrue(dump.body.contains("[redacted]"))
        XCTAssertTrue(dump.body.contains("CERT"))
        XCTAssertEqual(try Self.exchange(server.port, method: "GET", path: "/debug/config_dump?proxyID=nobody.shop").status, 404)
    }

    /// meshctl's proxy keeps one subscription per type and asks with a new name list when its clusters change,
    /// dropping the request it had out: the old list's subscription is superseded, not left STALE for ever.
    func testASubscriptionWhoseNamesChangedReplacesTheOldOne() throws {
        let (server, source) = try start()
        defer { server.stop() }
        source.resources.secrets.append(.object([("name", .string("ROOTCA"))]))
        let first = try XCTUnwrap(try Self.ask(server.port, type: "secrets", names: ["default"]).response)
        XCTAssertEqual(server.syncState(proxyID: "web-1.shop")?[ProxyResources.secretType]?.status, "STALE")
        // Asked again with one more name and without acknowledging the first answer.
        let second = try XCTUnwrap(try Self.ask(server.port, type: "secrets", names: ["ROOTCA", "default"]).response)
        _ = first
        let acknowledged = Pending { try Self.ask(server.port, type: "secrets", version: second.versionInfo, nonce: second.nonce, names: ["ROOTCA", "default"]) }
        XCTAssertTrue(eventually { server.syncState(proxyID: "web-1.shop")?[ProxyResources.secretType]?.status == "SYNCED" })
        // An unrelated name list (Envoy's per-resource subscriptions) stays a subscription of its own.
        _ = try Self.ask(server.port, type: "secrets", names: ["other"])
        server.stop()
        _ = acknowledged.wait()
    }

    func testBadRequestsAreRefusedWithTheReason() throws {
        let (server, _) = try start()
        defer { server.stop() }
        XCTAssertEqual(try Self.exchange(server.port, method: "GET", path: "/ready").status, 200)
        XCTAssertEqual(try Self.exchange(server.port, method: "GET", path: "/v3/discovery:listeners").status, 405)
        let notJSON = try Self.exchange(server.port, path: "/v3/discovery:listeners", body: "{")
        XCTAssertEqual(notJSON.status, 400)
        XCTAssertTrue(notJSON.body.contains("not a DiscoveryRequest"), notJSON.body)
        let badNode = try Self.ask(server.port, node: DiscoveryRequest.Node(id: "envoy-1"))
        XCTAssertEqual(badNode.status, 400)
        XCTAssertTrue(badNode.body.contains("not an Istio node id"), badNode.body)
        let request = DiscoveryRequest(node: Self.node, typeURL: ProxyResources.clusterType)
        let mismatch = try Self.exchange(server.port, path: "/v3/discovery:listeners", body: request.json.serialized)
        XCTAssertEqual(mismatch.status, 400)
        // A proxy the source does not know waits (here until the hold limit).
        let unknown = try Self.ask(server.port, node: DiscoveryRequest.Node(id: "sidecar~127.10.0.9~other-1.shop~shop.svc.cluster.local"))
        XCTAssertEqual(unknown.status, 304)
    }

    func testHostileBodiesAreRefusedAndTheServerKeepsServing() throws {
        let (server, _) = try start()
        defer { server.stop() }
        for body in [#"{"node": "sidecar~1~a.b~b"}"#, #"{"resource_names": "virtualInbound"}"#, #"{"version_info": 7}"#, "[]", "null",
                     String(repeating: "[", count: 100_000), "\u{0}\u{ff}"] {
            XCTAssertEqual(try Self.exchange(server.port, path: "/v3/discovery:listeners", body: body).status, 400, String(body.prefix(40)))
        }
        let huge = #"{"version_info": ""# + String(repeating: "x", count: 2 << 20) + #""}"#
        let refused = try? Self.exchange(server.port, path: "/v3/discovery:listeners", body: huge)
        XCTAssertNotEqual(refused?.status, 200, "a 2 MiB body is over the 1 MiB limit")
        XCTAssertEqual(try Self.exchange(server.port, path: "/v3/discovery:nonsense", body: "{}").status, 405)
        XCTAssertEqual(try Self.exchange(server.port, method: "GET", path: "/v3/discovery:nonsense").status, 404)
        for id in ["", "~~~", "sidecar~127.10.0.5~nodot~x", String(repeating: "~", count: 10_000)] {
            XCTAssertEqual(try Self.ask(server.port, node: DiscoveryRequest.Node(id: id)).status, 400, id)
        }
        // Istio-shaped but odd: refused, or held like any proxy the source does not know; never a crash.
        for id in ["sidecar~127.10.0.5~.~x", "router~~☃.ns~ns", "sidecar~::1~a.b~b.svc.cluster.local"] {
            XCTAssertTrue([304, 400].contains(try Self.ask(server.port, node: DiscoveryRequest.Node(id: id)).status), id)
        }
        XCTAssertEqual(try Self.ask(server.port).status, 200)
    }

    func testANodeIdClaimingAnotherPodsNameAtAnotherAddressGetsNoSecrets() throws {
        let pilot = Pilot(authority: try CertificateAuthority())
        let snapshot = try PilotFixtures.snapshot(fixture: "bookinfo.yaml")
        let server = try DiscoveryServer(holdLimit: 0.5) { node in pilot.resources(for: node, in: snapshot) }
        server.start()
        defer { server.stop() }
        let owner = PilotFixtures.productpage
        let genuine = try Self.ask(server.port, type: "secrets", node: DiscoveryRequest.Node(id: owner.id)).response
        XCTAssertEqual(genuine?.resources.compactMap { $0["name"]?.string }, ["default", "ROOTCA"])
        let impostor = ProxyNode(kind: .sidecar, ip: "127.10.0.77", podName: owner.podName, namespace: owner.namespace)
        let answer = try Self.ask(server.port, type: "secrets", node: DiscoveryRequest.Node(id: impostor.id))
        XCTAssertEqual(answer.response?.resources ?? [], [], "the pod's certificate went to a node id at another address")
    }
}
