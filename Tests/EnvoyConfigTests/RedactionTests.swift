import EnvoyConfig
import ConfigValues
import XCTest

/// Key material is never printed, whatever data source holds it.
final class RedactionTests: XCTestCase {
    func testEverySecretDataSourceIsRedacted() throws {
        let dump = try JSONValue.parse(#"""
            {"tls_certificate": {"certificate_chain": {"inline_string": "CERT"},
                                 "private_key": {"inline_string": "KEY-1"},
                                 "pkcs12": {"inline_bytes": "S0VZLTI="},
                                 "password": {"inline_string": "KEY-3"}},
             "generic_secret": {"secret": {"inline_string": "KEY-4"}},
             "session_ticket_keys": {"keys": [{"inline_bytes": "S0VZLTU="}, {"filename": "/etc/keys/ticket"}]}}
            """#)
        let text = PrivateKeyRedaction.redacted(dump).serialized
        for secret in ["KEY-1", "S0VZLTI=", "KEY-3", "KEY-4", "S0VZLTU="] {
            XCTAssertFalse(text.contains(secret), "\(secret) printed: \(text)")
        }
        XCTAssertTrue(text.contains("CERT"), "certificates are no secret: \(text)")
        XCTAssertTrue(text.contains("/etc/keys/ticket"), "file names stay: \(text)")
    }
}
