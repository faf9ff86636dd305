import ConfigValues
import Foundation

/// What the discovery server knows of one proxy: its node, the configuration last computed for it, and each of its
/// subscriptions (a type URL with the resource names asked for; Envoy's REST transport polls one per RDS route
/// configuration, EDS cluster and SDS secret, meshctl's proxy one per type).
struct ProxyRecord {
    let node: ProxyNode
    var metadata: JSONValue
    /// nil while the source does not know the proxy (its pod is not in the store yet).
    var resources: ProxyResources?
    var subscriptions: [SubscriptionKey: Subscription] = [:]
}

struct SubscriptionKey: Hashable {
    let typeURL: String
    /// Sorted; empty for a wildcard subscription.
    let names: [String]
}

/// One subscription's exchange state, as istiod keeps it per watched resource type.
struct Subscription {
    /// The version and resources of the last response sent.
    var versionSent = ""
    var nonceSent = ""
    var sentResources: [JSONValue] = []
    var sentAt: Date?
    /// The nonce and version of the last response the proxy accepted.
    var nonceAcked = ""
    var versionAcked = ""
    /// The message of the last rejection, cleared by the next acceptance.
    var lastError = ""
    var lastErrorAt: Date?
}

/// The resources of one subscription at the current configuration, and the version that set has: a digest of their
/// JSON, so recomputing an unchanged configuration gives the same version and wakes no held request.
struct SubscriptionAnswer: Equatable {
    let version: String
    let resources: [JSONValue]

    init(resources all: [JSONValue], key: SubscriptionKey) {
        let wildcard = key.names.isEmpty
        let wanted = Set(key.names)
        resources = wildcard ? all : all.filter { wanted.contains(ProxyResources.name(of: $0)) }
        version = Self.digest(resources)
    }

    /// FNV-1a over the serialized resources, 16 hex digits.
    static func digest(_ resources: [JSONValue]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for resource in resources {
            for byte in resource.serializedBytes {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
            hash ^= 0x0a
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension Subscription {
    /// Records what a request says of the last response: an acceptance (ACK) or a rejection (NACK, `error_detail`).
    /// A request naming an older nonce says nothing about the latest response. Envoy's REST transport sends no
    /// nonce: its request then answers the latest response, accepted when it holds that response's version.
    mutating func record(_ request: DiscoveryRequest, at now: Date) {
        guard !nonceSent.isEmpty, answersLatest(request) else { return }
        if let error = request.errorDetail {
            lastError = error.message
            lastErrorAt = now
        } else if request.versionInfo == versionSent {
            nonceAcked = nonceSent
            versionAcked = request.versionInfo
            lastError = ""
            lastErrorAt = nil
        } else if request.responseNonce.isEmpty {
            // Envoy's REST transport reports no rejection: a proxy that asks again still holding an older
            // version did not take the last response.
            lastError = "the proxy still holds version \"\(request.versionInfo)\" after \"\(versionSent)\" was sent: it rejected that response (see its log and update_rejected stats)"
            lastErrorAt = now
        }
    }

    private func answersLatest(_ request: DiscoveryRequest) -> Bool {
        request.responseNonce.isEmpty ? true : request.responseNonce == nonceSent
    }

    /// Whether the request is up to date with `answer`: it holds that version, or it rejected exactly that version
    /// (sending the same resources again would only be rejected again).
    func isCurrent(_ request: DiscoveryRequest, answer: SubscriptionAnswer) -> Bool {
        if request.versionInfo == answer.version && !request.versionInfo.isEmpty { return true }
        return request.errorDetail != nil && answersLatest(request) && versionSent == answer.version
    }
}
