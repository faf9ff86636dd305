import XCTest
@testable import MeshNet
@testable import MeshTLS

/// The plain-Swift parts of TLS: SAN matchers, SPIFFE identities, the server-name map, ALPN lists.
final class PeerNamesTests: XCTestCase {
    func testSubjectAltNameMatchers() {
        let workload = SubjectAltNames(uris: ["spiffe://cluster.local/ns/default/sa/sleep"])
        XCTAssertTrue(SubjectAltNameMatcher.spiffe("spiffe://cluster.local/ns/default/sa/sleep").matches(workload))
        XCTAssertFalse(SubjectAltNameMatcher.spiffe("spiffe://cluster.local/ns/default/sa/sleepy").matches(workload))
        XCTAssertTrue(SubjectAltNameMatcher.spiffePrefix("spiffe://cluster.local/").matches(workload))
        XCTAssertFalse(SubjectAltNameMatcher.spiffePrefix("spiffe://other.domain/").matches(workload))
        XCTAssertFalse(SubjectAltNameMatcher(.dns, .exact("spiffe://cluster.local/ns/default/sa/sleep")).matches(workload), "types must agree")
        XCTAssertTrue(SubjectAltNameMatcher.accept(workload, by: []), "no matchers: any name")
        XCTAssertTrue(SubjectAltNameMatcher.accept(workload, by: [.spiffe("spiffe://x/ns/a/sa/b"), .spiffePrefix("spiffe://cluster.local/ns/default/")]))

        let server = SubjectAltNames(dnsNames: ["*.default.svc.cluster.local", "Mesh.Local"], ipAddresses: ["10.0.0.1"])
        XCTAssertTrue(SubjectAltNameMatcher(.dns, .exact("reviews.default.svc.cluster.local")).matches(server), "a wildcard name covers one label")
        XCTAssertFalse(SubjectAltNameMatcher(.dns, .exact("a.reviews.default.svc.cluster.local")).matches(server))
        XCTAssertTrue(SubjectAltNameMatcher(.dns, .exact("mesh.local")).matches(server), "DNS names compare without case")
        XCTAssertTrue(SubjectAltNameMatcher(.dns, .suffix(".cluster.local")).matches(server))
        XCTAssertTrue(SubjectAltNameMatcher(.ipAddress, .exact("10.0.0.1")).matches(server))
        XCTAssertEqual(SubjectAltNameMatcher.spiffePrefix("spiffe://cluster.local/").description, "URI:spiffe://cluster.local/*")
    }

    func testSPIFFEIdentities() {
        let identity = SPIFFEIdentity(uri: "spiffe://cluster.local/ns/default/sa/sleep")
        XCTAssertEqual(identity, SPIFFEIdentity(namespace: "default", serviceAccount: "sleep"))
        XCTAssertEqual(identity?.uri, "spiffe://cluster.local/ns/default/sa/sleep")
        for wrong in ["https://cluster.local/ns/a/sa/b", "spiffe://cluster.local/ns/a", "spiffe://cluster.local/ns//sa/b", "spiffe:///ns/a/sa/b",
                      "spiffe://cluster.local/sa/a/ns/b", "spiffe://cluster.local/ns/a/sa/b/c"] {
            XCTAssertNil(SPIFFEIdentity(uri: wrong), wrong)
        }
    }

    func testServerNameMap() {
        var map = ServerNameMap(default: "default")
        map["api.mesh.local"] = "api"
        map["*.mesh.local"] = "wildcard"
        map["*.svc.mesh.local"] = "svc wildcard"
        XCTAssertEqual(map.lookup("api.mesh.local"), "api", "an exact name wins over a wildcard")
        XCTAssertEqual(map.lookup("API.MESH.LOCAL"), "api")
        XCTAssertEqual(map.lookup("web.mesh.local"), "wildcard")
        XCTAssertEqual(map.lookup("x.svc.mesh.local"), "svc wildcard", "the longest wildcard domain wins")
        XCTAssertEqual(map.lookup("a.b.c.mesh.local"), "default", "a wildcard covers one label")
        XCTAssertEqual(map.lookup("mesh.local"), "default")
        XCTAssertEqual(map.lookup(nil), "default")
        XCTAssertNil(map.namedValue(for: "other"))
        XCTAssertEqual(Set(map.namedValues), ["api", "wildcard", "svc wildcard"])
        map["*.mesh.local"] = nil
        XCTAssertEqual(map.lookup("web.mesh.local"), "default")
    }

    func testALPNSelection() {
        let offered = ApplicationProtocols.wireFormat(["http/1.1", "h2", "istio"])!
        XCTAssertEqual(offered.count, 1 + 8 + 1 + 2 + 1 + 5)
        let preference = ApplicationProtocols.mesh.map { Array($0.utf8) }
        offered.withUnsafeBufferPointer { offers in
            let choice = ApplicationProtocols.select(preference: preference, offered: offers)
            XCTAssertEqual(choice.map { String(decoding: offered[$0], as: UTF8.self) }, "istio")
            XCTAssertNil(ApplicationProtocols.select(preference: [Array("spdy".utf8)], offered: offers))
        }
        let malformed: [UInt8] = [5, 0x68, 0x32]
        malformed.withUnsafeBufferPointer { XCTAssertNil(ApplicationProtocols.select(preference: preference, offered: $0)) }
        XCTAssertNil(ApplicationProtocols.wireFormat([""]))
        XCTAssertNil(ApplicationProtocols.wireFormat([String(repeating: "x", count: 256)]))
    }
}
