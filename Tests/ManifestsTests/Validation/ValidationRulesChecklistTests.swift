import Foundation
import XCTest

/// conformance/validation-rules.tsv lists Istio's validation rules with the test of each: every test it names exists.
final class ValidationRulesChecklistTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Each test source file's text, by the names of the XCTestCase classes it declares.
    private func testSources() throws -> [String: String] {
        var byClass: [String: String] = [:]
        let files = FileManager.default.enumerator(at: Self.root.appendingPathComponent("Tests"), includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            for line in text.split(separator: "\n") where line.contains("class ") && line.contains(": XCTestCase") {
                guard let name = line.split(separator: " ").drop(while: { $0 != "class" }).dropFirst().first else { continue }
                byClass[String(name.prefix { $0 != ":" })] = text
            }
        }
        return byClass
    }

    func testEveryListedTestExists() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("conformance/validation-rules.tsv"), encoding: .utf8)
        let sources = try testSources()
        var rows = 0
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty && !line.hasPrefix("#") {
            rows += 1
            let where_ = "validation-rules.tsv:\(number + 1)"
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count == 4, columns.allSatisfy({ !$0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
                XCTFail("\(where_): expected 4 tab-separated, non-empty columns, found \(columns.count)")
                continue
            }
            let test = columns[3]
            if test.hasPrefix("not applicable: ") || test.hasPrefix("not yet: ") { continue }
            if let slash = test.firstIndex(of: "/") {
                let (owner, id) = (String(test[..<slash]), String(test[test.index(after: slash)...]))
                XCTAssertTrue(sources[owner]?.contains("\"\(id)\"") ?? false, "\(where_): no case \"\(id)\" in \(owner)")
            } else if let dot = test.firstIndex(of: ".") {
                let (owner, method) = (String(test[..<dot]), String(test[test.index(after: dot)...]))
                XCTAssertTrue(method.hasPrefix("test") && (sources[owner]?.contains("func \(method)(") ?? false), "\(where_): no \(owner).\(method)()")
            } else {
                XCTFail("\(where_): \"\(test)\" is neither Class.testMethod, Class/case-id, \"not applicable: why\" nor \"not yet: why\"")
            }
        }
        XCTAssertGreaterThan(rows, 0, "the checklist has no rules")
    }
}
