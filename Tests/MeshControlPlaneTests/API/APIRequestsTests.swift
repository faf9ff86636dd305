import Foundation
import XCTest
import KubeClient
import Manifests
@testable import MeshControlPlane

/// Requests kubectl makes less often, over real HTTPS with libcurl: status codes, watches from a version, dry runs.
final class APIRequestsTests: XCTestCase {
    var running: RunningControlPlane!
    var plane: LocalControlPlane { running.plane }
    var directory: URL { running.directory }
    var client: CurlClient { running.client }

    override func setUpWithError() throws {
        running = try RunningControlPlane(name: "api")
    }

    override func tearDown() {
        running?.stop()
    }

    @discardableResult
    func call(_ method: String, _ path: String, _ body: String? = nil, contentType: String = "application/json",
                      token: String? = nil) throws -> (status: Int, json: JSONValue) {
        try running.call(method, path, body, contentType: contentType, token: token)
    }

    let configMap = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default"},"data":{"a":"1"}}"#

    func testStatusCodesKubectlKnows() throws {
        XCTAssertEqual(try call("GET", "/api/v1/namespaces", token: "wrong").status, 401)
        XCTAssertEqual(try call("GET", "/version", token: "wrong").status, 200, "version is public")
        let created = try call("POST", "/api/v1/namespaces/default/configmaps", configMap)
        XCTAssertEqual(created.status, 201)
        let duplicate = try call("POST", "/api/v1/namespaces/default/configmaps", configMap)
        XCTAssertEqual(duplicate.status, 409)
        XCTAssertEqual(duplicate.json["reason"]?.string, "AlreadyExists")
        XCTAssertEqual(duplicate.json["message"]?.string, "configmaps \"cm\" already exists")

        var stale = created.json
        stale["metadata"]?["resourceVersion"] = .string("1")
        stale["data"] = .object([("a", .string("2"))])
        let conflict = try call("PUT", "/api/v1/namespaces/default/configmaps/cm", stale.serialized)
        XCTAssertEqual(conflict.status, 409)
        XCTAssertEqual(conflict.json["reason"]?.string, "Conflict")

        XCTAssertEqual(try call("POST", "/api/v1/namespaces/nope/configmaps", configMap.replacingOccurrences(of: "default", with: "nope")).status, 404)
        XCTAssertEqual(try call("GET", "/apis/networking.istio.io/v1/namespaces/default/virtualservices/none").json["message"]?.string,
                       "virtualservices.networking.istio.io \"none\" not found")
        let vs = #"{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"v"},"spec":{"hosts":["a"],"http":[{"route":[{"destination":{"host":"a"}}]}]}}"#
        XCTAssertEqual(try call("POST", "/apis/networking.istio.io/v1/namespaces/default/virtualservices", vs).status, 201)
        let strategic = try call("PATCH", "/apis/networking.istio.io/v1/namespaces/default/virtualservices/v", #"{"spec":{"hosts":["b"]}}"#,
                                 contentType: "application/strategic-merge-patch+json")
        XCTAssertEqual(strategic.status, 415, "custom resources take no strategic merge patch")
        XCTAssertEqual(try call("GET", "/apis/networking.istio.io/v1beta1/namespaces/default/virtualservices/v").json["apiVersion"]?.string,
                       "networking.istio.io/v1beta1", "every served version shows the object")
        XCTAssertEqual(try call("POST", "/api/v1/namespaces/default/configmaps", "{}", contentType: "application/vnd.kubernetes.protobuf").status, 415)
        XCTAssertEqual(try call("DELETE", "/api/v1/namespaces/default").status, 403, "default may not be deleted")
    }

    func testDryRunStoresNothingAndNoOpUpdatesKeepTheVersion() throws {
        XCTAssertEqual(try call("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", configMap).status, 201)
        XCTAssertEqual(try call("GET", "/api/v1/namespaces/default/configmaps/cm").status, 404)
        let created = try call("POST", "/api/v1/namespaces/default/configmaps", configMap).json
        let same = try call("PATCH", "/api/v1/namespaces/default/configmaps/cm", #"{"data":{"a":"1"}}"#, contentType: "application/merge-patch+json").json
        XCTAssertEqual(same["metadata"]?["resourceVersion"], created["metadata"]?["resourceVersion"])
        let changed = try call("PATCH", "/api/v1/namespaces/default/configmaps/cm", #"[{"op":"replace","path":"/data/a","value":"2"}]"#,
                               contentType: "application/json-patch+json").json
        XCTAssertEqual(changed["data"]?["a"]?.string, "2")
        XCTAssertNotEqual(changed["metadata"]?["resourceVersion"], created["metadata"]?["resourceVersion"])

        // A dry-run change answers with the changed object at the stored version, as kube-apiserver does.
        let dry = try call("PATCH", "/api/v1/namespaces/default/configmaps/cm?dryRun=All", #"{"data":{"a":"3"}}"#,
                           contentType: "application/merge-patch+json").json
        XCTAssertEqual(dry["data"]?["a"]?.string, "3")
        XCTAssertEqual(dry["metadata"]?["resourceVersion"], changed["metadata"]?["resourceVersion"])
        XCTAssertEqual(try call("GET", "/api/v1/namespaces/default/configmaps/cm").json["data"]?["a"]?.string, "2")
    }

    /// Discovery does not offer what the server refuses: namespaces have no deletecollection.
    func testNamespacesOfferNoDeleteCollection() throws {
        let resources = try call("GET", "/api/v1").json["resources"]?.array ?? []
        let verbs = { (name: String) in resources.first { $0["name"]?.string == name }?["verbs"]?.array?.compactMap(\.string) ?? [] }
        XCTAssertFalse(verbs("namespaces").contains("deletecollection"))
        XCTAssertTrue(verbs("configmaps").contains("deletecollection"))
    }

    /// Server-side apply creates the object the URL names: a body naming another is a 400; one without metadata gets the URL's name.
    func testApplyCreatesTheObjectTheURLNames() throws {
        let other = try call("PATCH", "/api/v1/namespaces/default/configmaps/a?fieldManager=t",
                             #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"},"data":{"k":"v"}}"#, contentType: "application/apply-patch+yaml")
        XCTAssertEqual(other.status, 400, "\(other.json)")
        XCTAssertEqual(try call("GET", "/api/v1/namespaces/default/configmaps/b").status, 404)
        let bare = try call("PATCH", "/api/v1/namespaces/default/configmaps/c?fieldManager=t", #"{"apiVersion":"v1","kind":"ConfigMap","data":{"k":"v"}}"#,
                            contentType: "application/apply-patch+yaml")
        XCTAssertEqual(bare.status, 201, "\(bare.json)")
        XCTAssertEqual(bare.json["metadata"]?["name"]?.string, "c")
    }

    func testWatchFromAVersionAndTooOld() throws {
        let list = try call("GET", "/api/v1/namespaces/default/configmaps").json
        let version = try XCTUnwrap(list["metadata"]?["resourceVersion"]?.string)
        try call("POST", "/api/v1/namespaces/default/configmaps", configMap)
        try call("DELETE", "/api/v1/namespaces/default/configmaps/cm")
        let watched = try client.perform(HTTPClientRequest(url: plane.url + "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1&resourceVersion=\(version)",
                                                           headers: [("Authorization", "Bearer \(plane.token)")]))
        let events = String(decoding: watched.body, as: UTF8.self).split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        XCTAssertEqual(events.map { $0["type"]?.string ?? "" }, ["ADDED", "DELETED"])
        XCTAssertEqual(events.first?["object"]?["metadata"]?["name"]?.string, "cm")

        let old = try client.perform(HTTPClientRequest(url: plane.url + "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=5",
                                                       headers: [("Authorization", "Bearer \(plane.token)")]))
        let error = try JSONValue.parse(String(decoding: old.body, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "")
        XCTAssertEqual(error["type"]?.string, "ERROR")
        XCTAssertEqual(error["object"]?["code"]?.int, 410)
    }

    /// Two control planes on one machine (two state directories) give the same Service different addresses, so their
    /// service proxies do not both try to listen on one; each keeps its own address.
    func testTwoControlPlanesGiveAServiceDifferentAddresses() throws {
        let other = try RunningControlPlane(name: "api-other")
        defer { other.stop() }
        let service = #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":{"ports":[{"port":80}]}}"#
        let first = try call("POST", "/api/v1/namespaces/default/services", service)
        let second = try other.call("POST", "/api/v1/namespaces/default/services", service, contentType: "application/json", token: nil)
        XCTAssertEqual([first.status, second.status], [201, 201])
        let firstAddress = first.json["spec"]?["clusterIP"]?.string ?? "", secondAddress = second.json["spec"]?["clusterIP"]?.string ?? ""
        XCTAssertTrue(firstAddress.hasPrefix("127.") && secondAddress.hasPrefix("127."), "\(firstAddress) \(secondAddress)")
        XCTAssertNotEqual(firstAddress, secondAddress)
        XCTAssertEqual(try call("GET", "/api/v1/namespaces/default/services/web").json["spec"]?["clusterIP"]?.string, firstAddress)
    }
}
