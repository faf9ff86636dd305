import Foundation
import Manifests
import MeshNet
import MeshHTTP1

// The version document and OpenAPI v3 (the discovery documents themselves are built by `Discovery`).
extension KubernetesAPI {
    func versionInfo() -> JSONValue {
        let parts = serverVersion.dropFirst().split(separator: ".")
        return .object([("major", .string(parts.first.map(String.init) ?? "1")), ("minor", .string(parts.dropFirst().first.map(String.init) ?? "0")),
                        ("gitVersion", .string(serverVersion)), ("gitCommit", .string("meshctl")), ("gitTreeState", .string("clean")),
                        ("buildDate", .string("2026-01-01T00:00:00Z")), ("goVersion", .string("meshctl")), ("compiler", .string("swift")),
                        ("platform", .string("linux/amd64"))])
    }

    func openAPI(_ request: HTTPRequest, _ responder: HTTPResponder, segments: [String]) throws {
        guard segments.first == "v3" else { throw notFoundPath() }
        if segments.count == 1 {
            send(responder, 200, Discovery.openAPIRoot(serverVersion: serverVersion, servedTypes, definitions: customKinds.signature))
            return
        }
        let path = segments.dropFirst().joined(separator: "/")
        let types = servedTypes
        guard let groupVersion = Discovery.openAPIGroupVersions(types).first(where: { $0.path == path }) else { throw notFoundPath() }
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        if request.query["hash"] == Discovery.openAPIHash(serverVersion: serverVersion, types, definitions: customKinds.signature) { headers.append(("Cache-Control", "public, immutable")) }
        responder.respond(HTTPResponse(status: 200, headers: headers,
                                       body: Discovery.openAPIDocument(group: groupVersion.group, version: groupVersion.version,
                                                                       serverVersion: serverVersion, types) { [customKinds] type in
                                           KindSchemas.schema(type, version: groupVersion.version, custom: customKinds)
                                       }.serializedBytes))
    }
}
