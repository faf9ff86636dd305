import XCTest
@testable import MeshNet
@testable import MeshTLS

final class OpenSSLTests: XCTestCase {
    func testIssuesAuthorityAndLeafAndReadsThemBack() throws {
        let authorityKey = try PrivateKey.generateP256()
        let authority = try Certificate.issue(CertificateRequest(commonName: "meshctl local CA", organization: "meshctl", isAuthority: true,
                                                                 lifetimeSeconds: 3600), for: authorityKey)
        let leafKey = try PrivateKey.generateP256()
        let leaf = try Certificate.issue(CertificateRequest(commonName: "127.0.0.1", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"],
                                                            lifetimeSeconds: 600), for: leafKey, signedBy: (authority, authorityKey))

        // Through PEM and back, as the state directory keeps them.
        let readLeaf = try Certificate(pem: try leaf.pem())
        let readKey = try PrivateKey(pem: try leafKey.pem())
        let summary = try readLeaf.summary()
        XCTAssertEqual(summary.subject, "CN=127.0.0.1")
        XCTAssertEqual(summary.issuer, "CN=meshctl local CA,O=meshctl")
        XCTAssertEqual(summary.notAfter - summary.notBefore, 660, "valid from a minute ago for the lifetime")
        XCTAssertTrue(readLeaf.isKey(readKey))
        XCTAssertFalse(readLeaf.isKey(authorityKey))
        XCTAssertEqual(String(decoding: try leafKey.pem().prefix(27), as: UTF8.self), "-----BEGIN PRIVATE KEY-----")
    }

    func testWorkloadCertificatesCarryOnlyTheirSPIFFEName() throws {
        let authority = try CertificateAuthority(trustDomain: "mesh.example")
        let workload = try authority.issueWorkload(namespace: "shop", serviceAccount: "cart", lifetimeSeconds: 300)
        let leaf = workload.chain[0]
        let summary = try leaf.summary()
        XCTAssertEqual(summary.subject, "", "as Istio's workload certificates, the name is in the SAN alone")
        XCTAssertEqual(summary.issuer, "CN=meshctl root CA,O=mesh.example")
        XCTAssertEqual(summary.notAfter - summary.notBefore, 360, "a short lifetime, from a minute ago")
        XCTAssertEqual(leaf.subjectAltNames, SubjectAltNames(uris: ["spiffe://mesh.example/ns/shop/sa/cart"]))
        XCTAssertTrue(leaf.isKey(workload.key))
        let server = try authority.issueServer(dnsNames: ["a.local", "*.b.local"], ipAddresses: ["127.0.0.1", "::1"])
        XCTAssertEqual(server.chain[0].subjectAltNames, SubjectAltNames(dnsNames: ["a.local", "*.b.local"], ipAddresses: ["127.0.0.1", "::1"]))
        XCTAssertEqual(authority.certificate.subjectAltNames, SubjectAltNames(), "no SAN extension at all")
    }

    func testUnreadableInputNamesTheReason() {
        XCTAssertThrowsError(try Certificate(pem: Array("hush hush\n".utf8))) { error in
            XCTAssertEqual((error as? CryptoError)?.description, "not a PEM certificate: no start line")
        }
        XCTAssertThrowsError(try PrivateKey(pem: [])) { error in
            XCTAssertTrue((error as? CryptoError)?.description.hasPrefix("not a PEM private key") == true, "\(error)")
        }
        XCTAssertTrue(OpenSSL.version.hasPrefix("OpenSSL "), OpenSSL.version)
    }
}
