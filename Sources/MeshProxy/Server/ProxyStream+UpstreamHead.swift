import MeshHTTP1

extension ProxyStream {
    /// The request as the upstream gets it: hop-by-hop headers dropped, rewrites and the router's headers applied.
    func upstreamHead() -> HTTPRequestHead {
        var headers = loopContext.takeHeaderList()
        headers.reserveCapacity(request.headers.count + 6)
        for header in request.headers where !HeaderName.equals(header.name, "x-request-id") {
            guard HeaderName.isHopByHopRequest(header.name) else { headers.append(header); continue }
            // `te: trailers` goes on, as Envoy keeps it (gRPC needs it); other TE values are dropped.
            if HeaderName.equals(header.name, "te") && header.value.lowercased().contains("trailers") { headers.append(("te", "trailers")) }
        }
        if let rewrite = action?.hostRewrite, let index = headers.firstIndex(where: { HeaderName.equals($0.name, "host") }) { headers[index].value = rewrite }
        headers.append(("x-forwarded-proto", "http"))
        headers.append(("x-request-id", requestID))
        let timeout = action?.timeout ?? 0
        if timeout > 0 { headers.append(("x-envoy-expected-rq-timeout-ms", String(Int(timeout * 1000)))) }
        if virtualHost?.includeRequestAttemptCount == true { headers.append(("x-envoy-attempt-count", String(max(attempts, 1)))) }
        var target = request.target
        if action?.prefixRewrite != nil || action?.regexRewrite?.substitution != nil, let route, let action {
            target = RequestRewrite.target(request.target, route: route, action: action)
        }
        if target != request.target { headers.append(("x-envoy-original-path", request.target)) }
        // Most specific first, as Envoy: a less specific level's overwrite wins.
        if let picked = weightedCluster { RequestRewrite.apply(add: picked.headers.requestAdd, remove: picked.headers.requestRemove, to: &headers) }
        RequestRewrite.apply(add: route?.headers.requestAdd ?? [], remove: route?.headers.requestRemove ?? [], to: &headers)
        RequestRewrite.apply(add: virtualHost?.headers.requestAdd ?? [], remove: virtualHost?.headers.requestRemove ?? [], to: &headers)
        RequestRewrite.apply(add: extraRequestHeaders, remove: [], to: &headers)
        if let upgrade { headers += [("connection", "upgrade"), ("upgrade", upgrade)] }
        istioStats?.prepareUpstreamRequest(&headers)
        return HTTPRequestHead(method: request.method, target: target, version: 11, headers: headers)
    }
}
