import Foundation
import XCTest
@testable import MeshControlPlane
import Manifests

/// The real kubectl where the local API used to give wrong answers that looked like success.
extension KubectlTests {
    func testDiffAndServerDryRunShowAChangeWithoutStoringIt() throws {
        let file = directory.appendingPathComponent("settings.yaml")
        let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {mode: calm}\n"
        try manifest.write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try kubectl(["apply", "-f", file.path]).status, 0)
        try manifest.replacingOccurrences(of: "calm", with: "loud").write(to: file, atomically: true, encoding: .utf8)

        var result = try kubectl(["diff", "-f", file.path])
        XCTAssertEqual(result.status, 1, "kubectl diff exits 1 when there are differences: \(result.output)")
        XCTAssertTrue(result.output.contains("-  mode: calm") && result.output.contains("+  mode: loud"), result.output)

        result = try kubectl(["apply", "--dry-run=server", "-f", file.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "configmap/settings configured (server dry run)\n")
        result = try kubectl(["apply", "--server-side", "--dry-run=server", "-f", file.path])
        XCTAssertEqual(result.output, "configmap/settings serverside-applied (server dry run)\n")
        XCTAssertEqual(try kubectl(["get", "configmap", "settings", "-o", "jsonpath={.data.mode}"]).output, "calm", "a dry run stores nothing")
    }

    func testInvalidValueIsNamedAsKubeApiserverNamesIt() throws {
        let result = try kubectl(["apply", "-f", "-"], input: """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: chaos, namespace: default}
            spec:
              hosts: [web]
              http:
              - fault: {abort: {httpStatus: 700, percentage: {value: 50}}}
                route: [{destination: {host: web}}]
            """)
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.hasPrefix("The VirtualService \"chaos\" is invalid: spec.http[0].fault.abort.httpStatus: Invalid value: 700: "), result.output)
        XCTAssertTrue(result.output.hasSuffix("should be less than or equal to 599\n"), result.output)
    }

    func testDebugGivesAClearErrorInsteadOfPanicking() throws {
        try kubectl(["create", "-f", "-"], input: "apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: default}\nspec:\n  containers: [{name: app, image: nginx}]\n")
        let result = try kubectl(["debug", "app", "--image=busybox", "--profile=general"])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertFalse(result.output.contains("panic") || result.output.contains("goroutine"), result.output)
        XCTAssertTrue(result.output.contains("ephemeral"), result.output)
        let missing = try kubectl(["debug", "nope", "--image=busybox", "--profile=general"])
        XCTAssertEqual(missing.output, "Error from server (NotFound): pods \"nope\" not found\n")
    }
}
