import MeshHTTP1
import MeshNet
@testable import MeshProxy
import XCTest

/// Absolute-form requests (a client using the proxy as its HTTP proxy) become origin-form with the URL's authority.
final class AbsoluteFormRequestTests: XCTestCase {
    func testTheURLsAuthorityBecomesTheHostAndItsPathTheTarget() throws {
        let request = HTTPRequest(method: "GET", target: "http://web.shop:8080/a/b?x=1",
                                  headers: [("Host", "web.shop:8080"), ("Proxy-Connection", "Keep-Alive"), ("Accept", "*/*")])
        let converted = try XCTUnwrap(AbsoluteFormRequest.originForm(of: request))
        XCTAssertEqual(converted.target, "/a/b?x=1")
        XCTAssertEqual(converted.header("host"), "web.shop:8080")
        XCTAssertNil(converted.header("proxy-connection"))
        XCTAssertEqual(converted.header("accept"), "*/*")
        XCTAssertEqual(converted.headers.filter { $0.name.lowercased() == "host" }.count, 1)
    }

    func testTheURLWinsOverAnotherHostHeaderAndAnEmptyPathIsSlash() throws {
        let converted = try XCTUnwrap(AbsoluteFormRequest.originForm(of: HTTPRequest(method: "GET", target: "HTTP://user:pw@web", headers: [("Host", "other")])))
        XCTAssertEqual(converted.target, "/")
        XCTAssertEqual(converted.header("host"), "web")
        XCTAssertEqual(try XCTUnwrap(AbsoluteFormRequest.originForm(of: HTTPRequest(method: "GET", target: "http://web?q"))).target, "/?q")
    }

    func testOriginFormAndOddTargetsAreLeftAlone() {
        XCTAssertNil(AbsoluteFormRequest.originForm(of: HTTPRequest(method: "GET", target: "/path")))
        XCTAssertNil(AbsoluteFormRequest.originForm(of: HTTPRequest(method: "GET", target: "http:///nohost")))
        XCTAssertNil(AbsoluteFormRequest.originForm(of: HTTPRequest(method: "OPTIONS", target: "*")))
        XCTAssertNil(AbsoluteFormRequest.originForm(of: HTTPRequest(method: "CONNECT", target: "web:443")))
    }
}
