import XCTest
@testable import Manifests

/// The problems meshctl finds in the one resource `text` holds; fails the test when it is not checked.
func checkedProblems(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [ValidationProblem] {
    do {
        guard case .checked(_, let problems) = ResourceValidator.validate(try YAMLParser.parse(text)[0].root) else {
            XCTFail("not checked: \(text)", file: file, line: line)
            return []
        }
        return problems
    } catch {
        XCTFail("\(error)", file: file, line: line)
        return []
    }
}

/// Asserts that `found` has a problem of `severity` at `field` whose message contains `words`.
func assertProblem(_ found: [ValidationProblem], at field: String, saying words: String, _ severity: ValidationProblem.Severity,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(found.contains { $0.severity == severity && $0.path.fieldPath == field && $0.message.contains(words) },
                  "no \(severity) at \(field) saying \"\(words)\" in \(found.map { "\($0.severity) \($0.path.fieldPath): \($0.message)" })",
                  file: file, line: line)
}
