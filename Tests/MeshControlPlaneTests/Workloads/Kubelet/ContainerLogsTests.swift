import Foundation
import XCTest
@testable import MeshControlPlane

final class ContainerLogsTests: XCTestCase {
    /// `kubectl logs -f` used to read the whole log file again every 0.2 s; it now reads only what follows its offset,
    /// a bounded amount at a time.
    func testFollowReadsOnlyNewBytesAndAtMostTheLimit() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("logs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("0.log")
        let first = "2026-11-30T12:00:00.000000000Z stdout F one\n"
        let second = "2026-11-30T12:00:01.000000000Z stdout F two\n"
        try Data((first + second).utf8).write(to: file)

        XCTAssertEqual(String(decoding: ContainerLogFiles.bytes(of: file, from: first.utf8.count), as: UTF8.self), second)
        XCTAssertEqual(ContainerLogFiles.bytes(of: file, from: first.utf8.count, limit: 5).count, 5)
        XCTAssertEqual(ContainerLogFiles.bytes(of: file, from: (first + second).utf8.count), [])
        XCTAssertEqual(ContainerLogFiles.bytes(of: file, from: 1 << 40), [])
        XCTAssertEqual(ContainerLogFiles.bytes(of: directory.appendingPathComponent("missing.log"), from: 0), [])
    }
}
