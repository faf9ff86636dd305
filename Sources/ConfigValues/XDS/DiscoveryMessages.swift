/// xDS v3 messages in their proto JSON form, for the REST-JSON transport (`POST /v3/discovery:TYPE`): the one codec
/// both the proxy's client and the pilot's server use. Field names are written in snake_case (as Envoy writes them);
/// both snake_case and lowerCamelCase are read, as protobuf's JSON parser accepts either.
public struct DiscoveryRequest: Sendable, Equatable {
    /// The `node` a proxy introduces itself with: its id (Istio's `sidecar~IP~POD.NS~NS.svc.cluster.local`), cluster and metadata.
    public struct Node: Sendable, Equatable {
        public var id: String
        public var cluster: String
        public var metadata: JSONValue

        public init(id: String, cluster: String = "", metadata: JSONValue = .object([])) {
            (self.id, self.cluster, self.metadata) = (id, cluster, metadata)
        }
    }

    /// `google.rpc.Status` of a rejection (NACK): code 3 is INVALID_ARGUMENT.
    public struct ErrorDetail: Sendable, Equatable {
        public var code: Int
        public var message: String

        public init(code: Int = 3, message: String) { (self.code, self.message) = (code, message) }
    }

    /// The version the proxy last accepted for this type ("" before the first).
    public var versionInfo: String
    public var node: Node
    /// The resources wanted; empty for a wildcard subscription (all listeners, all clusters).
    public var resourceNames: [String]
    public var typeURL: String
    /// The nonce of the response this request acknowledges or rejects ("" on the first request).
    public var responseNonce: String
    /// Set when the proxy rejected the response named by `responseNonce`.
    public var errorDetail: ErrorDetail?

    public init(versionInfo: String = "", node: Node, resourceNames: [String] = [], typeURL: String, responseNonce: String = "",
                errorDetail: ErrorDetail? = nil) {
        self.versionInfo = versionInfo
        self.node = node
        self.resourceNames = resourceNames
        self.typeURL = typeURL
        self.responseNonce = responseNonce
        self.errorDetail = errorDetail
    }

    public var json: JSONValue {
        var pairs: [(key: String, value: JSONValue)] = [("version_info", .string(versionInfo))]
        pairs.append(("node", .object([("id", .string(node.id)), ("cluster", .string(node.cluster)), ("metadata", node.metadata)])))
        if !resourceNames.isEmpty { pairs.append(("resource_names", .array(resourceNames.map(JSONValue.string)))) }
        pairs.append(("type_url", .string(typeURL)))
        pairs.append(("response_nonce", .string(responseNonce)))
        if let errorDetail {
            pairs.append(("error_detail", .object([("code", .int(errorDetail.code)), ("message", .string(errorDetail.message))])))
        }
        return .object(pairs)
    }

    /// Reads a request body; the error says which field is wrong.
    public static func read(_ bytes: [UInt8]) throws(DiscoveryMessageError) -> DiscoveryRequest {
        let root = try DiscoveryMessageError.parse(bytes, what: "a DiscoveryRequest")
        let node = root.protoField("node")
        guard node == nil || node?.object != nil else { throw DiscoveryMessageError("node: must be an object") }
        var names: [String] = []
        if let list = root.protoField("resource_names") {
            guard let items = list.array, items.allSatisfy({ $0.string != nil }) else { throw DiscoveryMessageError("resource_names: must be a list of strings") }
            names = items.compactMap(\.string)
        }
        var detail: ErrorDetail?
        if let error = root.protoField("error_detail"), !error.isNull {
            detail = ErrorDetail(code: error["code"]?.int ?? 0, message: error["message"]?.string ?? "")
        }
        return DiscoveryRequest(versionInfo: try root.protoString("version_info"),
                                node: Node(id: node?["id"]?.string ?? "", cluster: node?["cluster"]?.string ?? "",
                                           metadata: node?["metadata"] ?? .object([])),
                                resourceNames: names, typeURL: try root.protoString("type_url"),
                                responseNonce: try root.protoString("response_nonce"), errorDetail: detail)
    }
}

/// The answer to a DiscoveryRequest: the complete set of resources of one type (each with its `@type`), the version
/// that set has, and a nonce the next request names.
public struct DiscoveryResponse: Sendable, Equatable {
    public var versionInfo: String
    public var resources: [JSONValue]
    public var typeURL: String
    public var nonce: String

    public init(versionInfo: String, resources: [JSONValue], typeURL: String, nonce: String) {
        (self.versionInfo, self.resources, self.typeURL, self.nonce) = (versionInfo, resources, typeURL, nonce)
    }

    /// The response with each resource's `@type` first, as an `Any` is written.
    public var json: JSONValue {
        let typed = resources.map { resource -> JSONValue in
            guard case .object(var pairs) = resource else { return resource }
            pairs.removeAll { $0.key == "@type" }
            return .object([("@type", .string(typeURL))] + pairs)
        }
        return .object([("version_info", .string(versionInfo)), ("resources", .array(typed)), ("type_url", .string(typeURL)), ("nonce", .string(nonce))])
    }

    public static func read(_ bytes: [UInt8]) throws(DiscoveryMessageError) -> DiscoveryResponse {
        let root = try DiscoveryMessageError.parse(bytes, what: "a DiscoveryResponse")
        var resources: [JSONValue] = []
        if let list = root.protoField("resources") {
            guard let items = list.array else { throw DiscoveryMessageError("resources: must be a list") }
            resources = items
        }
        return DiscoveryResponse(versionInfo: try root.protoString("version_info"), resources: resources,
                                 typeURL: try root.protoString("type_url"), nonce: try root.protoString("nonce"))
    }
}

/// Why an xDS message could not be read.
public struct DiscoveryMessageError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }

    static func parse(_ bytes: [UInt8], what: String) throws(DiscoveryMessageError) -> JSONValue {
        let root: JSONValue
        do { root = try JSONValue.parse(bytes) } catch { throw DiscoveryMessageError("not \(what): \(error)") }
        guard root.object != nil else { throw DiscoveryMessageError("not \(what): the body must be a JSON object") }
        return root
    }
}

extension JSONValue {
    /// A field by its proto name (`version_info`) or its JSON name (`versionInfo`).
    fileprivate func protoField(_ name: String) -> JSONValue? {
        if let value = self[name] { return value }
        var camel = "", upper = false
        for character in name {
            if character == "_" { upper = true; continue }
            camel += upper ? character.uppercased() : String(character)
            upper = false
        }
        return self[camel]
    }

    fileprivate func protoString(_ name: String) throws(DiscoveryMessageError) -> String {
        guard let value = protoField(name), !value.isNull else { return "" }
        guard let text = value.string else { throw DiscoveryMessageError("\(name): must be a string") }
        return text
    }
}
