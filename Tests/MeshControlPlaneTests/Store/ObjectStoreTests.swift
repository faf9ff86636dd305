import XCTest
@testable import MeshControlPlane
import Manifests

/// The store on a real SQLite file.
final class ObjectStoreTests: XCTestCase {
    private var path: String!

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("meshctl-store-\(UUID().uuidString).db").path
    }

    override func tearDown() {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    private func object(_ name: String, _ version: Int64) -> JSONValue {
        .object([("metadata", .object([("name", .string(name)), ("resourceVersion", .string(String(version)))]))])
    }

    func testVersionsGrowAndSurviveReopening() throws {
        var store: ObjectStore? = try ObjectStore(path: path)
        let first = try store!.create("configmaps", namespace: "default", name: "a") { self.object("a", $0) }
        let second = try store!.create("configmaps", namespace: "default", name: "b") { self.object("b", $0) }
        XCTAssertEqual(Int(second["metadata"]?["resourceVersion"]?.string ?? "")!, Int(first["metadata"]?["resourceVersion"]?.string ?? "")! + 1)
        XCTAssertThrowsError(try store!.create("configmaps", namespace: "default", name: "a") { self.object("a", $0) }) {
            XCTAssertEqual($0 as? StoreError, .alreadyExists)
        }
        let unchanged = try store!.update("configmaps", namespace: "default", name: "a") { _, _ in nil }
        XCTAssertEqual(unchanged, first, "no change writes nothing")
        let version = store!.resourceVersion
        store = nil
        let reopened = try ObjectStore(path: path)
        XCTAssertEqual(reopened.resourceVersion, version)
        XCTAssertEqual(try reopened.list("configmaps", namespace: "default").items.map { $0["metadata"]?["name"]?.string }, ["a", "b"])
        XCTAssertEqual(try reopened.count(), 2)
    }

    func testWatchFromAVersionAndExpiry() throws {
        let store = try ObjectStore(path: path, historyLimit: 2)
        let start = store.resourceVersion
        for name in ["a", "b", "c"] { _ = try store.create("configmaps", namespace: "default", name: name) { self.object(name, $0) } }
        var seen: [String] = []
        let token = try store.watch(from: start + 1, filter: { _ in true }) { seen.append("\($0.kind.rawValue) \($0.object["metadata"]?["name"]?.string ?? "")") }
        _ = try store.delete("configmaps", namespace: "default", name: "b")
        store.stopWatching(token)
        _ = try store.delete("configmaps", namespace: "default", name: "c")
        XCTAssertEqual(seen, ["ADDED b", "ADDED c", "DELETED b"])
        XCTAssertThrowsError(try store.watch(from: start, filter: { _ in true }) { _ in }) {
            guard case .expired = $0 as? StoreError else { return XCTFail("\($0)") }
        }
    }

    func testPagesFollowNamespaceAndNameWithAFilter() throws {
        let store = try ObjectStore(path: path)
        for (namespace, name) in [("b", "x"), ("a", "y"), ("a", "x"), ("b", "a"), ("c", "skip")] {
            _ = try store.create("configmaps", namespace: namespace, name: name) { self.object(name, $0) }
        }
        var seen: [String] = []
        var after: (namespace: String, name: String)?
        repeat {
            let page = try store.page("configmaps", namespace: nil, after: after, limit: 2) { $0["metadata"]?["name"]?.string != "skip" }
            seen += page.items.compactMap { $0["metadata"]?["name"]?.string }
            XCTAssertLessThanOrEqual(page.items.count, 2)
            after = page.next
        } while after != nil
        XCTAssertEqual(seen, ["x", "y", "a", "x"])
    }
}
