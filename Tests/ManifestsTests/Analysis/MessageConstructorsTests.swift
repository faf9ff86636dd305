import XCTest
@testable import Manifests

/// The message constructors: each gives its code's type, and names resources from their fields.
final class MessageConstructorsTests: XCTestCase {
    private func resource(_ kind: String, _ name: String, namespace: String?) throws -> AnalyzedResource {
        let metadata = "{name: \(name)" + (namespace.map { ", namespace: \($0)" } ?? "") + "}"
        let node = try YAMLParser.parse("apiVersion: networking.istio.io/v1\nkind: \(kind)\nmetadata: \(metadata)\n")[0].root
        return try XCTUnwrap(AnalyzedResource(node))
    }

    func testResourcesAreNamedFromTheirFields() throws {
        let web = try resource("Gateway", "web", namespace: "shop"), edge = try resource("Gateway", "edge", namespace: nil)
        let duplicate = AnalysisMessage.gatewayDuplicateCertificate(web, gateways: [web, edge])
        XCTAssertEqual(duplicate.type, Messages.gatewayDuplicateCertificate)
        XCTAssertEqual([duplicate.resource.kind, duplicate.resource.namespace, duplicate.resource.name], ["Gateway", "shop", "web"])
        XCTAssertTrue(duplicate.text.hasPrefix("Gateways shop/web, edge serve the same certificate"), duplicate.text)

        let conflict = AnalysisMessage.conflictingGateways(edge, others: [web], selector: "istio=ingressgateway", port: 443, hosts: ["*"], at: nil)
        XCTAssertEqual(conflict.type.code, "IST0145")
        XCTAssertTrue(conflict.text.hasPrefix("conflicts with Gateway shop/web (workload selector istio=ingressgateway, port 443"), conflict.text)
    }

    func testReferenceKindsAndCodes() throws {
        let service = try resource("VirtualService", "cart", namespace: "shop")
        let cases: [(AnalysisMessage.MissingReference, String)] = [
            (.gateway("shop/web"), "Referenced gateway not found: \"shop/web\""),
            (.hostPort(host: "cart", port: 8080), "Referenced host:port not found: \"cart:8080\""),
            (.subset(host: "cart", subset: "v2"), "Referenced host+subset in destinationrule not found: \"cart+v2\""),
            (.mirrorSubset(host: "cart", subset: "shadow"), "Referenced mirror+subset in destinationrule not found: \"cart+shadow\""),
            (.credential(namespace: "istio-system", name: "tls"), "Referenced credentialName not found: \"istio-system/tls\""),
        ]
        for (reference, text) in cases {
            let message = AnalysisMessage.referencedResourceNotFound(service, reference, at: nil)
            XCTAssertEqual(message.type, Messages.referencedResourceNotFound)
            XCTAssertEqual(message.text, text)
        }
        let rule = AnalysisMessage.RouteRule(section: "http", index: 2, name: nil)
        XCTAssertEqual(AnalysisMessage.virtualServiceUnreachableRule(service, rule: rule, .matchesTakenEarlier, at: nil).text,
                       "rule http[2] is never used: earlier rules already have all of its matches")
        XCTAssertEqual("\(AnalysisMessage.RouteRule(section: "tcp", index: 0, name: "first"))", "\"first\"")
    }
}
