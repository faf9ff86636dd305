import Foundation

/// Why a name did not resolve to an address local mode may reach.
public struct NameError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The names processes in local mode resolve as they would in a cluster: Services as `NAME`, `NAME.NS`,
/// `NAME.NS.svc` and `NAME.NS.svc.cluster.local` (tried under the caller's namespace first, as a pod's resolv.conf
/// search list does), and pods as `A-B-C-D.NS.pod.cluster.local`. Only addresses in 127.0.0.0/8 (and ::1) resolve:
/// nothing local mode starts sends traffic off this machine.
public struct ClusterNames: Sendable, Equatable {
    public static let domain = "cluster.local"

    /// Fully qualified names (`web.shop.svc.cluster.local`), lowercase, to their addresses.
    public private(set) var table: [String: [String]]

    public init(table: [String: [String]] = [:]) {
        self.table = Dictionary(table.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// The fully qualified name of a Service.
    public static func serviceName(_ name: String, namespace: String) -> String { "\(name).\(namespace).svc.\(domain)".lowercased() }

    /// Adds (or replaces) the addresses of a fully qualified name.
    public mutating func set(_ name: String, _ addresses: [String]) { table[name.lowercased()] = addresses }

    /// The addresses `host` stands for, seen from a process in `namespace`; the first is the one to use.
    public func resolve(_ host: String, namespace: String) throws(NameError) -> [String] {
        var name = host.lowercased()
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name.hasSuffix(".") { name.removeLast() }
        if name == "localhost" { return ["127.0.0.1"] }
        if IPAddress.isLiteral(name) {
            guard IPAddress.isLoopback(name) else {
                throw NameError("\(host) is outside 127.0.0.0/8: local mode reaches only addresses on this machine's loopback (pods and Services)")
            }
            return [name]
        }
        if let pod = Self.podAddress(name) { return [pod] }
        let candidates = name.hasSuffix("." + Self.domain) ? [name]
            : ["\(name).\(namespace).svc.\(Self.domain)", "\(name).svc.\(Self.domain)", "\(name).\(Self.domain)"]
        for candidate in candidates {
            guard let addresses = table[candidate], !addresses.isEmpty else { continue }
            // A Service variable in the pod's own env (`X_SERVICE_HOST`) or an edited names file can name any
            // address; only loopback ones are used.
            let local = addresses.filter(IPAddress.isLoopback)
            guard !local.isEmpty else {
                throw NameError("\(host) stands for \(addresses.joined(separator: ", ")), outside 127.0.0.0/8: local mode reaches only addresses "
                                + "on this machine's loopback (pods and Services)")
            }
            return local
        }
        let dots = name.split(separator: ".").count
        let service = dots == 1 ? "no Service \(name) in namespace \(namespace)" : "no Service by that name"
        throw NameError("cannot resolve \(host): \(service) (local mode resolves Services as NAME, NAME.NAMESPACE, NAME.NAMESPACE.svc "
                        + "and NAME.NAMESPACE.svc.cluster.local, pods as A-B-C-D.NAMESPACE.pod.cluster.local; other names never resolve)")
    }

    /// `127-10-0-3.shop.pod.cluster.local` is 127.10.0.3, as Kubernetes' DNS answers pod names.
    private static func podAddress(_ name: String) -> String? {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count == 5, labels[2] == "pod", "\(labels[3]).\(labels[4])" == domain else { return nil }
        let address = labels[0].replacingOccurrences(of: "-", with: ".")
        return IPAddress.isLiteral(address) && IPAddress.isLoopback(address) ? address : nil
    }

    // MARK: - The names file

    /// The file local mode keeps in its state directory: one line per name, `NAME ADDRESS...`, sorted.
    public var fileText: String {
        "# names of local mode's Services: NAME ADDRESS... (written by meshctl local; do not edit)\n"
            + table.keys.sorted().map { "\($0) \(table[$0]!.joined(separator: " "))\n" }.joined()
    }

    /// Reads the names file's text; lines that are not `NAME ADDRESS...` are skipped.
    public init(fileText: String) {
        var table: [String: [String]] = [:]
        for line in fileText.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count >= 2 else { continue }
            table[fields[0].lowercased()] = Array(fields.dropFirst())
        }
        self.table = table
    }

    /// The names a process in `namespace` knows: the names file when there is one, plus the Services of its
    /// environment's service links (`WEB_SERVICE_HOST`), which is all a process started without the file knows.
    public static func known(environment: [String: String], namespace: String) -> ClusterNames {
        var names = environment[ServiceLinks.namesFileVariable].flatMap { path in
            (try? String(contentsOfFile: path, encoding: .utf8)).map(ClusterNames.init(fileText:))
        } ?? ClusterNames()
        for (key, value) in environment where key.hasSuffix("_SERVICE_HOST") {
            let service = key.dropLast("_SERVICE_HOST".count).lowercased().replacingOccurrences(of: "_", with: "-")
            let fullName = serviceName(service, namespace: namespace)
            if names.table[fullName] == nil { names.set(fullName, [value]) }
        }
        return names
    }
}

/// IP address text.
public enum IPAddress {
    /// Whether `text` is an IPv4 or IPv6 literal.
    public static func isLiteral(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// Whether `text` is in 127.0.0.0/8 or is ::1.
    public static func isLoopback(_ text: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: v4.s_addr) { $0[0] } == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return false }
        return withUnsafeBytes(of: v6) { bytes in bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }
    }
}
