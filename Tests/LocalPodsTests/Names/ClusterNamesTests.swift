import ConfigValues
import XCTest
@testable import LocalPods

final class ClusterNamesTests: XCTestCase {
    private let names = ClusterNames(table: ["web.shop.svc.cluster.local": ["127.96.0.20"], "db.data.svc.cluster.local": ["127.96.1.7"],
                                             "peers.shop.svc.cluster.local": ["127.10.0.3", "127.10.0.4"]])

    func testServicesResolveByEveryNameAPodUses() throws {
        for name in ["web", "web.shop", "web.shop.svc", "web.shop.svc.cluster.local", "WEB.shop.svc.cluster.local."] {
            XCTAssertEqual(try names.resolve(name, namespace: "shop"), ["127.96.0.20"], name)
        }
        XCTAssertEqual(try names.resolve("db.data", namespace: "shop"), ["127.96.1.7"])
        XCTAssertEqual(try names.resolve("peers", namespace: "shop"), ["127.10.0.3", "127.10.0.4"], "a headless Service: its pods")
        XCTAssertThrowsError(try names.resolve("db", namespace: "shop")) { error in
            XCTAssertTrue("\(error)".contains("no Service db in namespace shop"), "\(error)")
        }
    }

    func testPodNamesLiteralsAndWhatNeverResolves() throws {
        XCTAssertEqual(try names.resolve("127-10-0-3.shop.pod.cluster.local", namespace: "x"), ["127.10.0.3"])
        XCTAssertEqual(try names.resolve("127.10.0.9", namespace: "x"), ["127.10.0.9"])
        XCTAssertEqual(try names.resolve("localhost", namespace: "x"), ["127.0.0.1"])
        XCTAssertEqual(try names.resolve("[::1]", namespace: "x"), ["::1"])
        for outside in ["10.0.0.1", "192.168.1.1", "api.example.invalid", "10-0-0-1.shop.pod.cluster.local"] {
            XCTAssertThrowsError(try names.resolve(outside, namespace: "shop"), outside)
        }
    }

    func testTheNamesFileRoundTripsAndServiceLinksFillIn() throws {
        XCTAssertEqual(ClusterNames(fileText: names.fileText), names)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("names-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try names.fileText.write(to: file, atomically: true, encoding: .utf8)
        let known = ClusterNames.known(environment: [ServiceLinks.namesFileVariable: file.path, "CART_API_SERVICE_HOST": "127.96.3.3"], namespace: "shop")
        XCTAssertEqual(try known.resolve("web", namespace: "shop"), ["127.96.0.20"])
        XCTAssertEqual(try known.resolve("cart-api", namespace: "shop"), ["127.96.3.3"], "from the service links alone")
        XCTAssertEqual(ClusterNames.known(environment: [ServiceLinks.namesFileVariable: "/nonexistent"], namespace: "shop").table, [:])
    }

    /// A pod's own env can set `X_SERVICE_HOST` to any address; a name used to resolve to it, and `/call` (or
    /// `local curl`) sent traffic off this machine. Only loopback addresses resolve now.
    func testServiceVariablesOutsideLoopbackNeverResolve() throws {
        let known = ClusterNames.known(environment: ["BILLING_SERVICE_HOST": "10.1.2.3", "CART_SERVICE_HOST": "127.96.3.3"], namespace: "shop")
        XCTAssertThrowsError(try known.resolve("billing", namespace: "shop")) { error in
            XCTAssertTrue("\(error)".contains("outside 127.0.0.0/8"), "\(error)")
        }
        XCTAssertEqual(try known.resolve("cart", namespace: "shop"), ["127.96.3.3"])
        let mixed = ClusterNames(table: ["web.shop.svc.cluster.local": ["192.168.1.1", "127.10.0.4"]])
        XCTAssertEqual(try mixed.resolve("web", namespace: "shop"), ["127.10.0.4"])
    }
}

final class ServiceLinksTests: XCTestCase {
    func testKubernetesServiceVariables() throws {
        let services = try [
            #"{"metadata":{"name":"cart-api","namespace":"shop"},"spec":{"clusterIP":"127.96.0.5","ports":[{"name":"http","port":80,"protocol":"TCP"},{"name":"grpc-x","port":9090}]}}"#,
            #"{"metadata":{"name":"headless","namespace":"shop"},"spec":{"clusterIP":"None","ports":[{"port":80}]}}"#,
            #"{"metadata":{"name":"other","namespace":"elsewhere"},"spec":{"clusterIP":"127.96.0.6","ports":[{"port":80}]}}"#,
            #"{"metadata":{"name":"kubernetes","namespace":"default"},"spec":{"clusterIP":"127.96.0.1","ports":[{"name":"https","port":443}]}}"#,
        ].map { try JSONValue.parse($0) }
        let variables = Dictionary(uniqueKeysWithValues: ServiceLinks.variables(namespace: "shop", services: services, namesFile: "/state/names").map { ($0.name, $0.value) })
        XCTAssertEqual(variables["CART_API_SERVICE_HOST"], "127.96.0.5")
        XCTAssertEqual(variables["CART_API_SERVICE_PORT"], "80")
        XCTAssertEqual(variables["CART_API_SERVICE_PORT_HTTP"], "80")
        XCTAssertEqual(variables["CART_API_SERVICE_PORT_GRPC_X"], "9090")
        XCTAssertEqual(variables["CART_API_PORT"], "tcp://127.96.0.5:80")
        XCTAssertEqual(variables["CART_API_PORT_9090_TCP"], "tcp://127.96.0.5:9090")
        XCTAssertEqual(variables["CART_API_PORT_9090_TCP_PROTO"], "tcp")
        XCTAssertEqual(variables["CART_API_PORT_9090_TCP_PORT"], "9090")
        XCTAssertEqual(variables["CART_API_PORT_9090_TCP_ADDR"], "127.96.0.5")
        XCTAssertEqual(variables["KUBERNETES_SERVICE_HOST"], "127.96.0.1", "the kubernetes Service reaches every namespace")
        XCTAssertEqual(variables["MESHCTL_NAMES_FILE"], "/state/names")
        XCTAssertNil(variables["HEADLESS_SERVICE_HOST"], "no variables for a headless Service")
        XCTAssertNil(variables["OTHER_SERVICE_HOST"], "only the pod's namespace")
        let quiet = ServiceLinks.variables(namespace: "shop", services: services, enableServiceLinks: false).map(\.name)
        XCTAssertTrue(quiet.allSatisfy { $0.hasPrefix("KUBERNETES_") }, "\(quiet)")
    }
}
