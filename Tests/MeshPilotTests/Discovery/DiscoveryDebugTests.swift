import ConfigValues
import Foundation
import XCTest
@testable import MeshPilot

/// proxy-status's view of a proxy: a type is SYNCED when every subscription the proxy still has is acknowledged.
final class DiscoveryDebugTests: XCTestCase {
    /// Envoy's REST transport polls EDS per cluster; when an update removes a cluster, its poll stops without
    /// acknowledging the last answer. That abandoned subscription does not hold the type STALE forever.
    func testASubscriptionToARemovedClusterDoesNotKeepTheTypeStale() {
        let node = ProxyNode(kind: .sidecar, ip: "127.10.0.5", podName: "web-1", namespace: "shop")
        let assignment: JSONValue = .object([("cluster_name", .string("outbound|80||kept.shop.svc.cluster.local")), ("endpoints", .array([]))])
        var record = ProxyRecord(node: node, metadata: .object([]), resources: ProxyResources(endpoints: [assignment]))
        var acked = Subscription()
        acked.versionSent = "2"; acked.nonceSent = "n2"; acked.versionAcked = "2"; acked.nonceAcked = "n2"; acked.sentAt = Date()
        var abandoned = Subscription()
        abandoned.versionSent = "3"; abandoned.nonceSent = "n3"; abandoned.versionAcked = "1"; abandoned.nonceAcked = "n1"; abandoned.sentAt = Date()
        record.subscriptions[SubscriptionKey(typeURL: ProxyResources.endpointType, names: ["outbound|80||kept.shop.svc.cluster.local"])] = acked
        record.subscriptions[SubscriptionKey(typeURL: ProxyResources.endpointType, names: ["outbound|80|v2|gone.shop.svc.cluster.local"])] = abandoned
        XCTAssertEqual(DiscoveryDebug.typeStates(record)[ProxyResources.endpointType]?.status, "SYNCED")
        // While the cluster is still part of the configuration, its unacknowledged answer makes the type STALE.
        record.resources = ProxyResources(endpoints: [assignment, .object([("cluster_name", .string("outbound|80|v2|gone.shop.svc.cluster.local"))])])
        XCTAssertEqual(DiscoveryDebug.typeStates(record)[ProxyResources.endpointType]?.status, "STALE")
    }
}
