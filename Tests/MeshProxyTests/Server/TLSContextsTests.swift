import Foundation
import MeshNet
import MeshTLS
@testable import MeshProxy
import XCTest

/// TLS contexts come from the secrets the store holds when a connection starts: kept while the secrets are the same,
/// rebuilt when a secret is replaced, refused with the secret's name when it is missing or unreadable.
final class TLSContextsTests: XCTestCase {
    func testASecretReplacedInTheStoreAppliesToTheNextContext() throws {
        let setup = try MeshTLSBootstrap(appPort: 1, handOffUpstreamPort: 2)
        defer { setup.remove() }
        var configuration = try ProxyConfiguration.load(file: setup.file.path)
        let store = ProxyConfigStore(configuration)
        let contexts = TLSContexts(store: store)
        let chainTLS = try XCTUnwrap(configuration.listeners[0].filterChains[0].tls)
        XCTAssertEqual(chainTLS.subjectAltNames, [.spiffePrefix("spiffe://cluster.local/")])
        let first = try contexts.server(for: chainTLS)
        XCTAssertTrue(first === (try contexts.server(for: chainTLS)))
        XCTAssertEqual(first.configuration.identities.defaultValue.chain.first?.subjectAltNames.uris, [MeshTLSBootstrap.identity])

        let rotated = try setup.authority.issueWorkload(namespace: "default", serviceAccount: "productpage-rotated")
        configuration.tlsSecrets["default"] = TLSSecret(name: "default", identity: rotated)
        store.replace(with: configuration)
        let second = try contexts.server(for: chainTLS)
        XCTAssertFalse(first === second)
        XCTAssertEqual(second.configuration.identities.defaultValue.chain.first?.subjectAltNames.uris, ["spiffe://cluster.local/ns/default/sa/productpage-rotated"])

        configuration.tlsSecrets["ROOTCA"] = nil
        store.replace(with: configuration)
        XCTAssertThrowsError(try contexts.server(for: chainTLS)) { XCTAssertEqual("\($0)", "secret ROOTCA is not available") }
        configuration.tlsSecrets["ROOTCA"] = TLSSecret(name: "ROOTCA", problem: "secret ROOTCA: cannot read /missing.pem")
        store.replace(with: configuration)
        XCTAssertThrowsError(try contexts.server(for: chainTLS)) { XCTAssertEqual("\($0)", "secret ROOTCA: cannot read /missing.pem") }
    }

    func testSecretMaterialNeverShowsInTheConfigurationsDescription() throws {
        let setup = try MeshTLSBootstrap(appPort: 1, handOffUpstreamPort: 2)
        defer { setup.remove() }
        let configuration = try ProxyConfiguration.load(file: setup.file.path)
        let key = String(decoding: try XCTUnwrap(configuration.tlsSecrets["default"]?.identity?.key).pem(), as: UTF8.self)
        let body = key.split(separator: "\n").dropFirst().first.map(String.init) ?? key
        XCTAssertFalse("\(configuration.tlsSecrets)".contains(body))
        XCTAssertFalse("\(configuration.secrets)".contains(body))
    }
}
