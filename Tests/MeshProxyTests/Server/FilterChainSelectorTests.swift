@testable import MeshProxy
import XCTest

/// Filter chain choice in Envoy's order, on hand-made chains (no sockets).
final class FilterChainSelectorTests: XCTestCase {
    private func chain(_ name: String, _ change: (inout FilterChainMatch) -> Void = { _ in }) -> FilterChain {
        var match = FilterChainMatch()
        change(&match)
        return FilterChain(name: name, match: match, tls: nil, filter: .tcpProxy(TCPProxyConfig(statPrefix: name, cluster: name, accessLogs: [])))
    }

    private func facts(port: Int = 15006, transport: String = "raw_buffer", sni: String? = nil, alpn: [String] = [],
                       destination: String = "127.10.0.5", source: String = "127.10.0.9:40000") -> ConnectionFacts {
        var facts = ConnectionFacts(destination: "\(destination):\(port)", source: source)
        facts.transportProtocol = transport
        facts.serverName = sni
        facts.applicationProtocols = alpn
        return facts
    }

    func testIstioInboundShapePicksByTransportAndALPN() {
        let selector = FilterChainSelector(chains: [
            chain("plain-http") { $0.destinationPort = 9080; $0.transportProtocol = "raw_buffer"; $0.applicationProtocols = ["http/1.1", "h2c"] },
            chain("mtls-http") { $0.destinationPort = 9080; $0.transportProtocol = "tls"; $0.applicationProtocols = ["istio-peer-exchange", "istio", "istio-http/1.1"] },
            chain("plain-tcp") { $0.destinationPort = 9080; $0.transportProtocol = "raw_buffer" },
            chain("catch-all") { $0.transportProtocol = "raw_buffer" },
        ])
        XCTAssertEqual(selector.select(facts(port: 9080, alpn: ["http/1.1"]))?.name, "plain-http")
        XCTAssertEqual(selector.select(facts(port: 9080, transport: "tls", alpn: ["istio-peer-exchange", "istio"]))?.name, "mtls-http")
        XCTAssertEqual(selector.select(facts(port: 9080))?.name, "plain-tcp")
        // The port matched, so the port-less catch-all is not a fallback for TLS without Istio's ALPN.
        XCTAssertNil(selector.select(facts(port: 9080, transport: "tls", alpn: ["h2"])))
        XCTAssertEqual(selector.select(facts(port: 7000))?.name, "catch-all")
        XCTAssertNil(selector.select(facts(port: 7000, transport: "tls")))
    }

    func testServerNamesExactBeatsWildcardAndLongerWildcardWins() {
        let selector = FilterChainSelector(chains: [
            chain("exact") { $0.serverNames = ["api.example.com"] },
            chain("wild") { $0.serverNames = ["*.example.com"] },
            chain("deeper") { $0.serverNames = ["*.eu.example.com"] },
            chain("none"),
        ])
        XCTAssertEqual(selector.select(facts(sni: "api.example.com"))?.name, "exact")
        XCTAssertEqual(selector.select(facts(sni: "API.example.com"))?.name, "exact")
        XCTAssertEqual(selector.select(facts(sni: "web.example.com"))?.name, "wild")
        XCTAssertEqual(selector.select(facts(sni: "a.eu.example.com"))?.name, "deeper")
        XCTAssertEqual(selector.select(facts(sni: "other.org"))?.name, "none")
        XCTAssertEqual(selector.select(facts())?.name, "none")
    }

    func testPrefixRangesAndSourcesAndDefaultChain() {
        let selector = FilterChainSelector(chains: [
            chain("wide") { $0.prefixRanges = [CIDRRange("127.0.0.0", length: 8)!] },
            chain("narrow") { $0.prefixRanges = [CIDRRange("127.10.0.0", length: 16)!] },
            chain("from-pod") { $0.prefixRanges = [CIDRRange("10.0.0.0", length: 8)!]; $0.sourcePrefixRanges = [CIDRRange("127.10.0.9", length: 32)!] },
        ], defaultChain: chain("default"))
        XCTAssertEqual(selector.select(facts(destination: "127.10.3.4"))?.name, "narrow")
        XCTAssertEqual(selector.select(facts(destination: "127.20.3.4"))?.name, "wide")
        XCTAssertEqual(selector.select(facts(destination: "10.1.2.3"))?.name, "from-pod")
        XCTAssertEqual(selector.select(facts(destination: "10.1.2.3", source: "127.10.0.8:1234"))?.name, "default")
        XCTAssertEqual(selector.select(facts(destination: "192.168.1.1"))?.name, "default")
    }

    func testApplicationProtocolsFollowTheClientsOrder() {
        let selector = FilterChainSelector(chains: [
            chain("h2") { $0.applicationProtocols = ["h2"] },
            chain("http1") { $0.applicationProtocols = ["http/1.1"] },
        ])
        XCTAssertEqual(selector.select(facts(alpn: ["http/1.1", "h2"]))?.name, "http1")
        XCTAssertEqual(selector.select(facts(alpn: ["h2", "http/1.1"]))?.name, "h2")
        XCTAssertNil(selector.select(facts(alpn: ["istio"])))
    }
}
