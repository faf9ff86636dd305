import Manifests
import XCTest
@testable import MeshCLIKit

final class PrintersTests: XCTestCase {
    func testTableAlignsColumnsLikeKubectl() {
        var table = TablePrinter(headers: ["name", "istio-injection", "pods"])
        table.append(["default", "", "3"])
        table.append(["shop", "enabled", "12"])
        XCTAssertEqual(table.render(), """
        NAME      ISTIO-INJECTION   PODS
        default                     3
        shop      enabled           12

        """)
    }

    func testObjectFormats() {
        let pod = YAMLNode.mapping([("apiVersion", .string("v1")), ("kind", .string("Pod")),
                                    ("metadata", .mapping([("name", .string("web"))]))])
        let vs = YAMLNode.mapping([("apiVersion", .string("networking.istio.io/v1")), ("kind", .string("VirtualService")),
                                   ("metadata", .mapping([("name", .string("reviews"))]))])
        XCTAssertEqual(ObjectPrinter.render([pod, vs], as: .name), "pod/web\nvirtualservice.networking.istio.io/reviews\n")
        XCTAssertEqual(ObjectPrinter.render([pod], as: .yaml), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n")
        XCTAssertTrue(ObjectPrinter.render([pod, vs], as: .json).contains("\"kind\": \"List\""))
    }

    func testColourOnlyOnATerminalAndNeverWithNoColor() {
        let terminal = BufferOutput(isTerminal: true), pipe = BufferOutput(isTerminal: false)
        XCTAssertTrue(TerminalStyle(stream: terminal, variables: [:]).enabled)
        XCTAssertFalse(TerminalStyle(stream: terminal, variables: ["NO_COLOR": "1"]).enabled)
        XCTAssertFalse(TerminalStyle(stream: terminal, variables: ["TERM": "dumb"]).enabled)
        XCTAssertFalse(TerminalStyle(stream: pipe, variables: [:]).enabled)
        XCTAssertEqual(TerminalStyle(enabled: true).error("x"), "\u{1B}[1;31mx\u{1B}[0m")

        let run = runMeshctl(["no-such"], terminal: true)
        XCTAssertTrue(run.stderr.hasPrefix("\u{1B}[1;31merror:"), run.stderr)
        XCTAssertTrue(runMeshctl(["no-such"], variables: ["NO_COLOR": "1"], terminal: true).stderr.hasPrefix("error:"))
    }
}
