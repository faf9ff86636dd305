import XCTest
@testable import KubeClient

final class KubeconfigEditorTests: XCTestCase {
    let existing = """
        apiVersion: v1
        kind: Config
        clusters:
        - name: prod
          cluster: {server: "https://prod.example.com"}
        users:
        - name: prod
          user: {token: abc}
        contexts:
        - name: prod
          context: {cluster: prod, user: prod, namespace: shop}
        current-context: prod
        """

    func testAddsReplacesAndRemovesOnlyItsOwnEntries() throws {
        let once = try KubeconfigEditor.upsert(existing, name: "meshctl-local", server: "https://127.0.0.1:1", certificateAuthorityData: "Q0E=",
                                               token: "t1", makeCurrent: true)
        let twice = try KubeconfigEditor.upsert(once, name: "meshctl-local", server: "https://127.0.0.1:2", certificateAuthorityData: "Q0E=",
                                                token: "t2", makeCurrent: true)
        XCTAssertEqual(KubeconfigEditor.currentContext(twice), "meshctl-local")
        XCTAssertEqual(twice.components(separatedBy: "name: meshctl-local").count - 1, 3, twice)
        XCTAssertTrue(twice.contains("https://127.0.0.1:2") && !twice.contains("https://127.0.0.1:1"), twice)
        XCTAssertTrue(twice.contains("namespace: shop") && twice.contains("https://prod.example.com"), "other entries stay: \(twice)")

        let removed = try KubeconfigEditor.remove(twice, name: "meshctl-local")
        XCTAssertFalse(removed.contains("meshctl-local"), removed)
        XCTAssertTrue(removed.contains("https://prod.example.com"))
    }

    func testNewFileAndTargetPath() throws {
        let created = try KubeconfigEditor.upsert(nil, name: "meshctl-local", server: "https://127.0.0.1:3", certificateAuthorityData: "Q0E=",
                                                  token: "t", makeCurrent: true)
        XCTAssertTrue(created.hasPrefix("apiVersion: v1\nkind: Config\n"), created)
        XCTAssertEqual(KubeconfigEditor.targetPath(variables: ["KUBECONFIG": ":/a/one:/b/two", "HOME": "/h"]), "/a/one")
        XCTAssertEqual(KubeconfigEditor.targetPath(variables: ["HOME": "/h"]), "/h/.kube/config")
    }
}
