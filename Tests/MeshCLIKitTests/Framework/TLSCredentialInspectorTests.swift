import XCTest
import Manifests
import MeshNet
import MeshTLS
@testable import MeshCLIKit

final class TLSCredentialInspectorTests: XCTestCase {
    func testCertificateMustBeReadableAndCurrentAndKeyReadable() throws {
        let key = try PrivateKey.generateP256()
        let certificate = try Certificate.issue(CertificateRequest(commonName: "shop.example.com", lifetimeSeconds: 3600), for: key)
        let window = try certificate.summary()
        let certificatePEM = try certificate.pem(), keyPEM = try key.pem()
        func inspector(at time: Int64) -> TLSCredentialInspector { TLSCredentialInspector(now: { time }) }

        XCTAssertNil(inspector(at: window.notBefore + 10).problem(certificatePEM: certificatePEM, keyPEM: keyPEM))
        XCTAssertEqual(inspector(at: window.notAfter + 1).problem(certificatePEM: certificatePEM, keyPEM: keyPEM),
                       "the certificate (subject CN=shop.example.com) expired on \(TLSCredentialInspector.text(window.notAfter))")
        XCTAssertEqual(inspector(at: window.notBefore - 1).problem(certificatePEM: certificatePEM, keyPEM: keyPEM),
                       "the certificate (subject CN=shop.example.com) is not valid before \(TLSCredentialInspector.text(window.notBefore))")
        XCTAssertEqual(inspector(at: window.notBefore).problem(certificatePEM: Array("secret secret\n".utf8), keyPEM: keyPEM),
                       "the certificate cannot be read (not a PEM certificate: no start line)")
        XCTAssertEqual(inspector(at: window.notBefore).problem(certificatePEM: certificatePEM, keyPEM: certificatePEM)?
            .hasPrefix("the private key cannot be read"), true)
    }

    func testGatewaySecretAnalyzerReportsAnExpiredCredential() throws {
        let key = try PrivateKey.generateP256()
        let certificate = try Certificate.issue(CertificateRequest(commonName: "shop.example.com", lifetimeSeconds: 60), for: key)
        func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
        let text = """
            apiVersion: v1
            kind: Secret
            metadata: {name: shop-tls, namespace: istio-system}
            type: kubernetes.io/tls
            data: {tls.crt: \(base64(try certificate.pem())), tls.key: \(base64(try key.pem()))}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: shop, namespace: shop}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: 443, name: https, protocol: HTTPS}
                hosts: [shop.example.com]
                tls: {mode: SIMPLE, credentialName: shop-tls}
            """
        let resources = try YAMLParser.parse(text, file: "gw.yaml").compactMap { AnalyzedResource($0.root, file: "gw.yaml") }
        let analyzer = try XCTUnwrap(Analyzers.named("gateway.SecretAnalyzer"))
        let later = try certificate.summary().notAfter + 86_400
        let messages = Analyzers.run([analyzer], on: AnalysisInput(resources: resources, credentials: TLSCredentialInspector(now: { later })))
        XCTAssertEqual(messages.map(\.type.code), ["IST0161"])
        XCTAssertTrue(messages[0].logLine.hasPrefix("Error [IST0161] (Gateway shop/shop gw.yaml:15) TLS credential istio-system/shop-tls "
                                                    + "cannot be served"), messages[0].logLine)
        XCTAssertTrue(messages[0].text.contains("expired on"), messages[0].text)
        XCTAssertEqual(Analyzers.run([analyzer], on: AnalysisInput(resources: resources, credentials: TLSCredentialInspector())).count, 0)
    }
}
