import ConfigValues
import Foundation
import MeshNet
import MeshTLS
@testable import MeshPilot
import XCTest

final class WorkloadSecretsTests: XCTestCase {
    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 1_800_000_000)
    }

    func testIssuesSPIFFECertificatesAndReissuesWhenAThirdIsLeft() throws {
        let clock = Clock()
        let authority = try CertificateAuthority()
        let secrets = WorkloadSecrets(authority: authority, lifetimeSeconds: 3_000, now: { clock.now })
        let first = secrets.secrets(namespace: "default", serviceAccount: "bookinfo-productpage")
        XCTAssertEqual(first.names, ["default", "ROOTCA"])
        let chain = try XCTUnwrap(first[0][path: "tls_certificate", "certificate_chain", "inline_string"]?.string)
        let certificate = try Certificate(pem: Array(chain.utf8))
        XCTAssertTrue(certificate.subjectAltNames.uris.contains("spiffe://cluster.local/ns/default/sa/bookinfo-productpage"))
        XCTAssertEqual(first[1][path: "validation_context", "trusted_ca", "inline_string"]?.string,
                       String(decoding: try authority.certificate.pem(), as: UTF8.self))
        XCTAssertEqual(secrets.issuedCount, 1)

        clock.now += 1_900 // under two thirds of the lifetime: cached
        XCTAssertEqual(secrets.secrets(namespace: "default", serviceAccount: "bookinfo-productpage"), first)
        XCTAssertEqual(secrets.issuedCount, 1)
        clock.now += 200 // past two thirds: issued again
        XCTAssertNotEqual(secrets.secrets(namespace: "default", serviceAccount: "bookinfo-productpage")[0], first[0])
        XCTAssertEqual(secrets.issuedCount, 2)
        _ = secrets.secrets(namespace: "default", serviceAccount: "bookinfo-reviews")
        XCTAssertEqual(secrets.issuedCount, 3, "one certificate per identity")
    }

    func testThePilotServesSecretsOnlyWithAnAuthority() throws {
        let snapshot = try PilotFixtures.snapshot(fixture: "bookinfo.yaml")
        XCTAssertEqual(Pilot(authority: nil).resources(for: PilotFixtures.productpage, in: snapshot).secrets.count, 0)
        XCTAssertEqual(Pilot(authority: try CertificateAuthority()).resources(for: PilotFixtures.productpage, in: snapshot).secrets.names, ["default", "ROOTCA"])
    }
}
