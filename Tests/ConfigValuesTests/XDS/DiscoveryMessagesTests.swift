import ConfigValues
import XCTest

final class DiscoveryMessagesTests: XCTestCase {
    func testRequestRoundTripsAndReadsEitherFieldSpelling() throws {
        let request = DiscoveryRequest(versionInfo: "v1", node: .init(id: "sidecar~1.2.3.4~a.b~b.svc.cluster.local", cluster: "a.b"),
                                       resourceNames: ["default"], typeURL: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
                                       responseNonce: "7", errorDetail: .init(message: "bad"))
        XCTAssertEqual(try DiscoveryRequest.read(request.json.serializedBytes), request)
        let camel = #"{"versionInfo": "v2", "node": {"id": "n"}, "resourceNames": ["r"], "typeUrl": "t", "responseNonce": "3"}"#
        let read = try DiscoveryRequest.read(Array(camel.utf8))
        XCTAssertEqual(read.versionInfo, "v2")
        XCTAssertEqual(read.node.id, "n")
        XCTAssertEqual(read.resourceNames, ["r"])
        XCTAssertEqual(read.typeURL, "t")
        XCTAssertEqual(read.responseNonce, "3")
        XCTAssertNil(read.errorDetail)
    }

    func testResponsePutsEachResourcesTypeFirst() throws {
        let response = DiscoveryResponse(versionInfo: "v", resources: [.object([("name", .string("l")), ("@type", .string("old"))])], typeURL: "T", nonce: "1")
        XCTAssertEqual(response.json.serialized, #"{"version_info":"v","resources":[{"@type":"T","name":"l"}],"type_url":"T","nonce":"1"}"#)
        XCTAssertEqual(try DiscoveryResponse.read(response.json.serializedBytes).resources.first?["name"]?.string, "l")
    }

    func testMalformedMessagesSayWhatIsWrong() {
        XCTAssertThrowsError(try DiscoveryRequest.read(Array("[]".utf8))) { XCTAssertTrue("\($0)".contains("must be a JSON object"), "\($0)") }
        XCTAssertThrowsError(try DiscoveryRequest.read(Array(#"{"resource_names": "x"}"#.utf8))) { XCTAssertTrue("\($0)".contains("resource_names"), "\($0)") }
        XCTAssertThrowsError(try DiscoveryResponse.read(Array(#"{"version_info": 3}"#.utf8))) { XCTAssertTrue("\($0)".contains("version_info"), "\($0)") }
    }
}
