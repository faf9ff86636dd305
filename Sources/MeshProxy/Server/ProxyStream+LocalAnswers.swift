import MeshHTTP1

// The answers a stream makes itself, and the headers every answer carries, as Envoy's router and connection manager
// give them.

/// Who answers locally, which decides the policy filters' headers the answer gets, as Envoy's encoder filters see it:
/// the fault filter's answer gets what the policy filters before it in `http_filters` add; the others (the router's,
/// the connection manager's, a policy filter's), what the policy filters that ran add. All get the route's response
/// headers, after their own and before the filters', once a forwarding route is chosen; a direct response or redirect
/// route's headers go on its own answer (`direct`) only.
enum LocalReplySource { case fault, direct, other }

extension ProxyStream {
    /// The route's cluster when the request goes on to it; nil when the router answered itself: for a route that does
    /// not forward (a direct response, a redirect), a cluster not defined, or one dropping the request for overload.
    func clusterOrRouterAnswer() -> UpstreamCluster? {
        guard let route else { return nil }
        switch route.action {
        case .directResponse(let status, let body):
            runtime.stats.increment(statPrefix + "rq_direct_response")
            var answer = LocalReply(status: status, body: body ?? "", flags: [], details: "direct_response")
            // A 201 or 3xx direct response carries the request's own URL as its location, as Envoy's.
            if status == 201 || (300..<400).contains(status) {
                let here = Redirect(status: status, stripQuery: false)
                answer.extraHeaders = [("location", RequestRewrite.location(here, route: route, authority: request.header("host") ?? "", target: request.target))]
            }
            reply(answer, from: .direct)
            return nil
        case .redirect(let redirect):
            let location = RequestRewrite.location(redirect, route: route, authority: request.header("host") ?? "", target: request.target)
            reply(LocalReply(status: redirect.status, body: "", flags: [], details: "direct_response", extraHeaders: [("location", location)]), from: .direct)
            return nil
        case .forward:
            guard let clusterName, let cluster = runtime.clusters[clusterName] else {
                runtime.stats.increment(statPrefix + "no_cluster")
                reply(.clusterNotFound)
                return nil
            }
            if let drop = cluster.dropOverloadReply() {
                reply(drop)
                return nil
            }
            return cluster
        }
    }

    /// The headers of an upstream's answer as the client gets them, in Envoy's order: the upstream's without hop-by-hop
    /// ones (its `server` replaced where it stands), `x-envoy-upstream-service-time`, the route's mutations, the policy
    /// filters' headers, then a `date` and a `server` when the answer has none. Framing headers are the caller's.
    func answerHeaders(for head: HTTPResponseHead, serviceTime: Int) -> [(name: String, value: String)] {
        var headers = loopContext.takeHeaderList()
        headers.reserveCapacity(head.headers.count + 4)
        for header in head.headers where !HeaderName.isHopByHopResponse(header.name) { headers.append(header) }
        if tunneling { headers.append(("connection", "upgrade")) }
        istioStats?.prepareResponse(&headers)
        let serverIndex = headers.firstIndex { HeaderName.equals($0.name, "server") }
        if let serverIndex { headers[serverIndex] = ("server", serverName) }
        let hasDate = head.headers.contains { HeaderName.equals($0.name, "date") }
        headers.append(("x-envoy-upstream-service-time", String(serviceTime)))
        applyRouteResponseHeaders(to: &headers)
        headers += extraResponseHeaders
        if !hasDate { headers.append(("date", HTTPDate.now())) }
        if serverIndex == nil { headers.append(("server", serverName)) }
        return headers
    }

    /// Adds to a local reply the route's and the policy filters' headers `source` gives it (`LocalReplySource`).
    func addAnswerHeaders(to reply: inout LocalReply, from source: LocalReplySource) {
        let routeForwards: Bool
        if case .forward? = route?.action { routeForwards = true } else { routeForwards = false }
        if routeForwards || source == .direct { applyRouteResponseHeaders(to: &reply.extraHeaders) }
        switch source {
        case .fault: reply.extraHeaders += responseHeadersBeforeFault ?? extraResponseHeaders
        case .direct, .other: reply.extraHeaders += extraResponseHeaders
        }
    }

    /// The route's response header mutations, most specific first as Envoy applies them (the picked weighted
    /// cluster's, the route's, the virtual host's), so a less specific level's overwrite wins.
    private func applyRouteResponseHeaders(to headers: inout [(name: String, value: String)]) {
        if let picked = weightedCluster { RequestRewrite.apply(add: picked.headers.responseAdd, remove: picked.headers.responseRemove, to: &headers) }
        if let route { RequestRewrite.apply(add: route.headers.responseAdd, remove: route.headers.responseRemove, to: &headers) }
        if let virtualHost { RequestRewrite.apply(add: virtualHost.headers.responseAdd, remove: virtualHost.headers.responseRemove, to: &headers) }
    }
}
