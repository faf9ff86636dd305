import Foundation
import MeshNet

/// Looks up the host names of STRICT_DNS and LOGICAL_DNS clusters' endpoints (a ServiceEntry with `resolution: DNS`)
/// with the system resolver, off the event loop: `getaddrinfo` blocks, so it runs on a dispatch queue and the answer
/// comes back on the loop. IP literals are answered at once.
enum HostResolver {
    private static let queue = DispatchQueue(label: "meshctl.proxy.dns", attributes: .concurrent)

    /// The addresses `host` resolves to, in `family`'s choice and order, or the resolver's reason on failure;
    /// `completion` runs on `loop`.
    static func resolve(_ host: String, family: DNSLookupFamily = .v4Preferred, loop: EventLoop, completion: @escaping (Result<[String], NetworkError>) -> Void) {
        if CIDRRange.isAddress(host) { return completion(.success([host])) }
        let handoff = Handoff(loop: loop, completion: completion)
        queue.async {
            let result = lookUp(host, family: family)
            handoff.loop.execute { handoff.completion(result) }
        }
    }

    /// Runs `work` on the resolver's queue (where blocking lookups belong).
    static func onResolverQueue(_ work: @escaping @Sendable () -> Void) { queue.async(execute: work) }

    /// The system resolver as a `DNSLookup`: blocks, so call it off any event loop.
    static let system: DNSLookup = { host, family in
        CIDRRange.isAddress(host) ? .success([host]) : lookUp(host, family: family)
    }

    /// Carries the loop and the completion to the resolver's queue; the completion only ever runs on the loop.
    private final class Handoff: @unchecked Sendable {
        let loop: EventLoop
        let completion: (Result<[String], NetworkError>) -> Void
        init(loop: EventLoop, completion: @escaping (Result<[String], NetworkError>) -> Void) {
            self.loop = loop
            self.completion = completion
        }
    }

    private static func lookUp(_ host: String, family: DNSLookupFamily) -> Result<[String], NetworkError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, nil, &hints, &list)
        guard code == 0, let first = list else { return .failure(.address(host)) }
        defer { freeaddrinfo(first) }
        var v4: [String] = [], v6: [String] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let entry = node {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if entry.pointee.ai_family == AF_INET, let address = entry.pointee.ai_addr {
                var ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                if inet_ntop(AF_INET, &ip, &buffer, socklen_t(buffer.count)) != nil { v4.append(String(cString: buffer)) }
            } else if entry.pointee.ai_family == AF_INET6, let address = entry.pointee.ai_addr {
                var ip = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                if inet_ntop(AF_INET6, &ip, &buffer, socklen_t(buffer.count)) != nil { v6.append(String(cString: buffer)) }
            }
            node = entry.pointee.ai_next
        }
        var seen = Set<String>()
        let all = family.choose(v4: v4, v6: v6).filter { seen.insert($0).inserted }
        return all.isEmpty ? .failure(.address(host)) : .success(all)
    }
}

/// A blocking name lookup: the addresses a host name has for a lookup family. The system resolver in a proxy; a
/// table in tests.
typealias DNSLookup = @Sendable (String, DNSLookupFamily) -> Result<[String], NetworkError>

/// A cluster's `dns_lookup_family`: which address families a lookup keeps.
public enum DNSLookupFamily: String, Sendable, Equatable {
    /// Envoy's default: IPv6 addresses when the name has any, else IPv4.
    case auto = "AUTO"
    case v4Only = "V4_ONLY", v6Only = "V6_ONLY"
    /// IPv4 addresses when the name has any, else IPv6.
    case v4Preferred = "V4_PREFERRED"
    /// Both families (IPv4 first).
    case all = "ALL"

    func choose(v4: [String], v6: [String]) -> [String] {
        switch self {
        case .auto: return v6.isEmpty ? v4 : v6
        case .v4Only: return v4
        case .v6Only: return v6
        case .v4Preferred: return v4.isEmpty ? v6 : v4
        case .all: return v4 + v6
        }
    }
}
