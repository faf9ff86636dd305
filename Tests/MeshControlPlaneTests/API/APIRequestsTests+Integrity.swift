import Foundation
import XCTest
import KubeClient
import Manifests
import MeshNet
import MeshTLS
@testable import MeshControlPlane

/// What kube-apiserver refuses, and how it says so, over real HTTPS.
extension APIRequestsTests {
    private var configMaps: String { "/api/v1/namespaces/default/configmaps" }

    func testNamesThatAreNoDNSNamesAreInvalid() throws {
        let bad = try call("POST", configMaps, configMap.replacingOccurrences(of: #""name":"cm""#, with: #""name":"Bad_Name""#))
        XCTAssertEqual(bad.status, 422, "\(bad.json)")
        XCTAssertEqual(bad.json["reason"]?.string, "Invalid")
        let message = bad.json["message"]?.string ?? ""
        XCTAssertTrue(message.hasPrefix(#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": "#), message)
        XCTAssertTrue(message.contains("RFC 1123 subdomain"), message)
        let cause = bad.json["details"]?["causes"]?.array?.first
        XCTAssertEqual(cause?["field"]?.string, "metadata.name")
        XCTAssertEqual(cause?["reason"]?.string, "FieldValueInvalid")
        XCTAssertEqual(try call("POST", "/api/v1/namespaces", #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a.b"}}"#).status, 422,
                       "a namespace name is a DNS label: no dots")
        XCTAssertEqual(try call("GET", configMaps).json["items"]?.array?.count, 0, "nothing invalid is stored")
        // A subdomain limits the whole name to 253 characters, not each part to 63.
        let longPart = String(repeating: "a", count: 70) + ".example"
        XCTAssertEqual(try call("POST", configMaps, configMap.replacingOccurrences(of: #""name":"cm""#, with: "\"name\":\"\(longPart)\"")).status, 201)
    }

    /// pods/proxy goes to ordinary pod addresses only (not link-local cloud metadata) and to a port that exists.
    func testPodProxyRefusesAddressesAndPortsNoPodHas() throws {
        func pod(_ name: String, ip: String, port: Int) -> String {
            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":""# + name + #""},"spec":{"containers":[{"name":"a","image":"x","ports":[{"containerPort":"#
                + String(port) + #"}]}]},"status":{"podIP":""# + ip + #""}}"#
        }
        try call("POST", "/api/v1/namespaces/default/pods", pod("metadata", ip: "169.254.169.254", port: 80))
        let metadata = try call("GET", "/api/v1/namespaces/default/pods/metadata/proxy/computeMetadata/v1/")
        XCTAssertEqual(metadata.status, 400, "\(metadata.json)")
        XCTAssertTrue(metadata.json["message"]?.string?.contains("address not allowed") ?? false, "\(metadata.json)")
        XCTAssertFalse(PodAddress.mayProxy(to: "fe80::1"))
        XCTAssertFalse(PodAddress.mayProxy(to: "0.0.0.0"))
        XCTAssertFalse(PodAddress.mayProxy(to: "not-an-ip"))
        XCTAssertTrue(PodAddress.mayProxy(to: "127.0.0.5"), "local mode's pods live on loopback")
        XCTAssertTrue(PodAddress.mayProxy(to: "10.1.2.3"))

        let stored = try call("POST", "/api/v1/namespaces/default/pods", pod("badport", ip: "127.0.0.9", port: 70000))
        if stored.status == 201 {
            XCTAssertEqual(try call("GET", "/api/v1/namespaces/default/pods/badport/proxy/").status, 400, "no trap on a port out of range")
        }
        // A pod's answer with a negative length, or an interim 100 before the real one.
        XCTAssertNil(PodHTTPForwarder.parse(Array("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc".utf8)))
        let afterContinue = PodHTTPForwarder.parse(Array("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8))
        XCTAssertEqual(afterContinue?.status, 200)
    }

    /// Restart counts come from clients: a sum that overflows shows as the largest count, and the server stays up.
    func testHugeRestartCountsDoNotStopTheServer() throws {
        let pod = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"x"}]},"#
            + #""status":{"containerStatuses":[{"name":"a","restartCount":9223372036854775807},{"name":"b","restartCount":9223372036854775807}]}}"#
        XCTAssertEqual(Columns.podRestarts(try JSONValue.parse(pod)), String(Int.max))
    }

    func testDataThatIsNoStringIsABadRequestAndTheNamespaceStaysReadable() throws {
        let number = try call("POST", configMaps, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"num"},"data":{"a":1e400}}"#)
        XCTAssertEqual(number.status, 400, "\(number.json)")
        XCTAssertEqual(number.json["reason"]?.string, "BadRequest")
        XCTAssertTrue(number.json["message"]?.string?.hasPrefix(#"ConfigMap in version "v1" cannot be handled as a ConfigMap: "#) ?? false, "\(number.json)")
        XCTAssertTrue(number.json["message"]?.string?.contains("data.a") ?? false, "\(number.json)")
        XCTAssertEqual(try call("POST", configMaps, configMap).status, 201)
        let patched = try call("PATCH", configMaps + "/cm", #"{"data":{"a":12}}"#, contentType: "application/merge-patch+json")
        XCTAssertEqual(patched.status, 422, "\(patched.json)")
        XCTAssertEqual(patched.json["details"]?["causes"]?.array?.first?["field"]?.string, "patch")
        let list = try call("GET", configMaps)
        XCTAssertEqual(list.status, 200)
        XCTAssertEqual(list.json["items"]?.array?.first?["data"]?["a"]?.string, "1")
    }

    func testAPatchOrPutCannotTurnAnObjectIntoSomethingElse() throws {
        let created = try call("POST", configMaps, configMap).json
        let array = try call("PATCH", configMaps + "/cm", #"[{"op":"replace","path":"","value":[1,2]}]"#, contentType: "application/json-patch+json")
        XCTAssertEqual(array.status, 422, "\(array.json)")
        XCTAssertEqual(array.json["reason"]?.string, "Invalid")
        var secret = created
        secret["kind"] = .string("Secret")
        let put = try call("PUT", configMaps + "/cm", secret.serialized)
        XCTAssertEqual(put.status, 400, "\(put.json)")
        XCTAssertEqual(put.json["message"]?.string?.hasPrefix(#"Secret in version "v1" cannot be handled as a ConfigMap"#), true, "\(put.json)")
        XCTAssertEqual(try call("PATCH", configMaps + "/cm", #"{"kind":"Secret"}"#, contentType: "application/merge-patch+json").status, 422)
        XCTAssertEqual(try call("PATCH", configMaps + "/cm", #"{"apiVersion":"v2"}"#, contentType: "application/merge-patch+json").status, 422)
        let stored = try call("GET", configMaps + "/cm").json
        XCTAssertEqual(stored["kind"]?.string, "ConfigMap")
        XCTAssertEqual(stored["metadata"]?["resourceVersion"], created["metadata"]?["resourceVersion"], "nothing was written")
    }

    func testDeletingTheNamespaceCollectionIsNotAllowed() throws {
        let answer = try call("DELETE", "/api/v1/namespaces")
        XCTAssertEqual(answer.status, 405, "\(answer.json)")
        XCTAssertEqual(answer.json["reason"]?.string, "MethodNotAllowed")
        XCTAssertEqual(try call("GET", "/api/v1/namespaces/istio-system").json["status"]?["phase"]?.string, "Active")
    }

    func testInvalidIstioResourceNamesFieldValueAndCause() throws {
        let chaos = #"{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"chaos"},"spec":{"hosts":["a"],"#
            + #""http":[{"fault":{"abort":{"httpStatus":700,"percentage":{"value":50}}},"route":[{"destination":{"host":"a"}}]}]}}"#
        let answer = try call("POST", "/apis/networking.istio.io/v1/namespaces/default/virtualservices", chaos)
        XCTAssertEqual(answer.status, 422, "\(answer.json)")
        let message = answer.json["message"]?.string ?? ""
        XCTAssertTrue(message.hasPrefix(#"VirtualService.networking.istio.io "chaos" is invalid: spec.http[0].fault.abort.httpStatus: Invalid value: 700: "#),
                      message)
        XCTAssertTrue(message.hasSuffix("HTTP status 700 is not in range 200-599"), message)
        let cause = answer.json["details"]?["causes"]?.array?.first
        XCTAssertEqual(cause?["field"]?.string, "spec.http[0].fault.abort.httpStatus")
        XCTAssertEqual(cause?["reason"]?.string, "FieldValueInvalid")
        XCTAssertTrue(cause?["message"]?.string?.hasPrefix("Invalid value: 700: ") ?? false, "\(answer.json)")
    }

    func testEveryNotFoundCarriesDetails() throws {
        for path in ["/api/v1/namespaces/default/configmaps/none", "/api/v1/namespaces/default/pods/none/ephemeralcontainers", "/apis/nope.io/v1",
                     "/api/v1/namespaces/default/widgets", "/openapi/v3/apis/nope/v1"] {
            let answer = try call("GET", path)
            XCTAssertEqual(answer.status, 404, path)
            XCTAssertEqual(answer.json["reason"]?.string, "NotFound", path)
            XCTAssertNotNil(answer.json["details"]?.object, "\(path): \(answer.json)")
        }
        XCTAssertEqual(try call("GET", "/apis/apps/v1/namespaces/default/deployments/none").json["details"],
                       .object([("name", .string("none")), ("group", .string("apps")), ("kind", .string("deployments"))]))
    }

    func testStoreFailuresAreInternalErrorsNotNotFound() throws {
        XCTAssertEqual(try call("POST", configMaps, configMap).status, 201)
        // Another writer leaves a row that is no JSON (a damaged file, a bug elsewhere).
        let database = try SQLiteDatabase(path: directory.appendingPathComponent("store.db").path)
        try database.execute("UPDATE objects SET body = X'7b6e6f7420' WHERE resource = 'configmaps' AND name = 'cm'")
        let get = try call("GET", configMaps + "/cm")
        XCTAssertEqual(get.status, 500, "\(get.json)")
        XCTAssertEqual(get.json["reason"]?.string, "InternalError")
        XCTAssertTrue(get.json["message"]?.string?.contains("configmaps default/cm") ?? false, "the cause names the object: \(get.json)")
        XCTAssertEqual(try call("GET", configMaps).status, 500, "a list with a damaged object is no shorter list")
    }

    func testAWatchWhoseClientIsGoneStopsWatching() throws {
        let store = plane.api.store
        // The control plane's own watchers (its service proxy) stay; the clients' are counted above them.
        let own = store.watcherCount
        for index in 0..<400 {
            XCTAssertEqual(try call("POST", configMaps, configMap.replacingOccurrences(of: #""name":"cm""#, with: #""name":"cm-\#(index)""#)).status, 201)
        }
        // Clients that ask for a watch with a long replay and leave with a reset at once: the replay's first write fails.
        let trust = try TLSClientContext(trusting: [try Certificate(pem: plane.authorityPEM)])
        for _ in 0..<5 {
            let client = try LoopbackTLSClient(port: plane.port, trust: trust)
            try client.send("GET \(configMaps)?watch=true HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(plane.token)\r\n\r\n")
            client.reset()
        }
        let deadline = Date().addingTimeInterval(10)
        while store.watcherCount > own && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertEqual(store.watcherCount, own, "every watcher is removed once its client is gone")
    }

    func testAWatcherThatStopsReadingIsLetGoOnceItsBacklogIsFull() throws {
        plane.api.watchBacklogLimit = 256 * 1024
        let store = plane.api.store
        let own = store.watcherCount
        let client = try LoopbackTLSClient(port: plane.port, trust: try TLSClientContext(trusting: [try Certificate(pem: plane.authorityPEM)]))
        try client.send("GET \(configMaps)?watch=true HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(plane.token)\r\n\r\n")
        var deadline = Date().addingTimeInterval(10)
        while store.watcherCount == own && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(store.watcherCount, own + 1)
        // 100 KB a write; the client reads nothing, so the kernel's buffers fill and then the server's queue.
        let big = String(repeating: "x", count: 100_000)
        var written = 0
        while store.watcherCount > own && written < 300 {
            XCTAssertEqual(try call("POST", configMaps, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big-\#(written)"},"data":{"a":"\#(big)"}}"#).status, 201)
            written += 1
        }
        deadline = Date().addingTimeInterval(10)
        while store.watcherCount > own && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(store.watcherCount, own, "the watch ended after \(written) writes of 100 KB, its queue past 256 KiB")
    }
}
