import XCTest
@testable import LocalPods

final class CallURLTests: XCTestCase {
    func testURLsAsCurlTakesThem() throws {
        let plain = try CallURL("http://web.shop:8080/a/b?x=1#frag")
        XCTAssertEqual([plain.host, String(plain.port), plain.target], ["web.shop", "8080", "/a/b?x=1"])
        let bare = try CallURL("web")
        XCTAssertEqual([bare.host, String(bare.port), bare.target, bare.hostHeader], ["web", "80", "/", "web"])
        XCTAssertEqual(try CallURL("http://[::1]:81?q").target, "/?q")
        XCTAssertEqual(try CallURL("http://[::1]:81").hostHeader, "[::1]:81")
    }

    func testWhatIsRefusedSaysWhy() {
        let cases = ["https://web/": "plain HTTP", "ftp://web/": "scheme ftp", "http://web:http/": "not a number", "http://web:70000/": "from 1 to 65535",
                     "http://:80/": "no host", "http://u:p@web/": "credentials", "http://web/a b": "spaces"]
        for (url, expected) in cases {
            XCTAssertThrowsError(try CallURL(url), url) { error in XCTAssertTrue("\(error)".contains(expected), "\(url): \(error)") }
        }
    }
}
