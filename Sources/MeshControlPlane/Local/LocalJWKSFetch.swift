import Foundation
import LocalPods
import MeshPilot

/// How local mode's pilot fetches a RequestAuthentication's `jwksUri` (and OpenID discovery documents): plain HTTP
/// to an address on this machine's loopback, named as a pod names it (a Service name, `localhost`, 127.x.y.z),
/// resolved with local mode's names file. HTTPS URIs are not fetched (local mode's clients speak plain HTTP): give
/// such keys inline in the rule's `jwks`. A failure leaves the rule with keys no token verifies with.
enum LocalJWKSFetch {
    /// The largest key set taken (a JWKS is a few KiB).
    static let maximumBytes = 1 << 20

    static func fetcher(namesFile: URL) -> JWKSResolver.Fetch {
        { url, timeout in
            let target: CallURL
            do { target = try CallURL(url) } catch { return .failure(JWKSResolver.FetchFailure("\(error)")) }
            let names = ClusterNames(fileText: (try? String(contentsOf: namesFile, encoding: .utf8)) ?? "")
            let address: String
            do { address = try names.resolve(target.host, namespace: "default")[0] } catch {
                return .failure(JWKSResolver.FetchFailure("\(error)"))
            }
            switch HTTPCall.performWaiting(HTTPCall.Request(url: target, headers: [("Accept", "application/json")]), address: address, timeout: timeout) {
            case .failure(let failure): return .failure(JWKSResolver.FetchFailure(failure.description))
            case .success(let response):
                guard (200..<300).contains(response.head.status) else { return .failure(JWKSResolver.FetchFailure("status \(response.head.status)")) }
                guard response.body.count <= maximumBytes else { return .failure(JWKSResolver.FetchFailure("the answer is larger than 1 MiB")) }
                return .success(response.body)
            }
        }
    }
}
