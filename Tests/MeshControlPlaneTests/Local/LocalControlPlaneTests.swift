import Foundation
import XCTest
@testable import MeshControlPlane
import Manifests

/// A local control plane started again on the same state directory, as `meshctl local up` does.
final class LocalControlPlaneTests: XCTestCase {
    private var directory: URL!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-local-\(UUID().uuidString)")
    }

    override func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    private func istioSystem(_ store: ObjectStore) throws -> (namespace: JSONValue?, configMaps: [String]) {
        (try store.get("namespaces", namespace: "", name: "istio-system"),
         try store.list("configmaps", namespace: "istio-system").items.compactMap { $0["metadata"]?["name"]?.string })
    }

    func testStartingAgainRestoresADeletedIstioSystem() throws {
        var plane: LocalControlPlane? = try LocalControlPlane(stateDirectory: directory, port: 0)
        plane!.api.namespacePurgeDelay = 0.05
        let target = KubernetesAPI.Target(type: ResourceCatalog.find(group: "", version: "v1", plural: "namespaces")!, version: "v1",
                                          namespace: nil, name: "istio-system", subresource: nil)
        _ = try plane!.api.delete("istio-system", target, dryRun: false)
        let store = plane!.api.store
        let deadline = Date().addingTimeInterval(10)
        while try istioSystem(store).namespace != nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertNil(try istioSystem(store).namespace, "deleted")
        plane = nil

        plane = try LocalControlPlane(stateDirectory: directory, port: 0)
        let restored = try istioSystem(plane!.api.store)
        XCTAssertEqual(restored.namespace?["status"]?["phase"]?.string, "Active")
        XCTAssertEqual(restored.configMaps, ["istio", "istio-sidecar-injector"])
    }

    func testStartingAgainFinishesADeletionThatWasCutShort() throws {
        var plane: LocalControlPlane? = try LocalControlPlane(stateDirectory: directory, port: 0)
        plane!.api.namespacePurgeDelay = 3600  // the process ends before the purge
        let target = KubernetesAPI.Target(type: ResourceCatalog.find(group: "", version: "v1", plural: "namespaces")!, version: "v1",
                                          namespace: nil, name: "istio-system", subresource: nil)
        _ = try plane!.api.delete("istio-system", target, dryRun: false)
        XCTAssertEqual(try istioSystem(plane!.api.store).namespace?["status"]?["phase"]?.string, "Terminating")
        plane = nil

        plane = try LocalControlPlane(stateDirectory: directory, port: 0)
        let restored = try istioSystem(plane!.api.store)
        XCTAssertEqual(restored.namespace?["status"]?["phase"]?.string, "Active", "a fresh istio-system, not the one left Terminating")
        XCTAssertNil(restored.namespace?["metadata"]?["deletionTimestamp"])
        XCTAssertEqual(restored.configMaps, ["istio", "istio-sidecar-injector"])
    }

    /// A ConfigMap written by an earlier meshctl (no template text, a `meshctlTemplates: builtin` marker) gets the
    /// templates on the next start, and keeps its values.
    func testStartingAgainGivesAnOldInjectorConfigMapTheTemplates() throws {
        var plane: LocalControlPlane? = try LocalControlPlane(stateDirectory: directory, port: 0)
        _ = try plane!.api.store.update("configmaps", namespace: "istio-system", name: "istio-sidecar-injector") { existing, _ in
            var old = existing
            old["data"] = .object([("config", .string("templates: {}\n")), ("values", .string(#"{"global":{"meshID":"kept"}}"#)),
                                   ("meshctlTemplates", .string("builtin"))])
            return old
        }
        plane = nil

        plane = try LocalControlPlane(stateDirectory: directory, port: 0)
        let data = try plane!.api.store.get("configmaps", namespace: "istio-system", name: "istio-sidecar-injector")?["data"]
        XCTAssertEqual(data?["config"]?.string, BuiltinTemplates.injectorConfig)
        XCTAssertEqual(data?["values"]?.string, #"{"global":{"meshID":"kept"}}"#)
        XCTAssertNil(data?["meshctlTemplates"])
    }
}
