import Foundation
import MeshNet
import MeshTLS
import MeshHTTP1

/// One request through a connection manager: route, fault filter, then the router's attempts against a cluster
/// (retries, timeouts, circuit breakers), and the answer back with its access log line. Loop thread only.
final class ProxyStream {
    let runtime: ProxyRuntime
    let loopContext: LoopContext
    private unowned let downstream: any DownstreamClient
    /// The connection manager's configuration, read in place through one shared reference (`manager.config.x`).
    private let manager: SharedConnectionManager
    private(set) var request: HTTPRequest
    private var log = AccessLogEntry()
    private let startedAt = MonotonicClock.now()
    var serverName: String { manager.config.serverName ?? "envoy" }
    let requestID: String
    private let managerStats: ConnectionManagerStats

    private(set) var virtualHost: VirtualHost?
    private(set) var route: Route?
    private(set) var action: ForwardAction?
    private var cluster: UpstreamCluster?
    /// The cluster the route picked (the router looks it up after the fault filter).
    private(set) var clusterName: String?
    private var pool: UpstreamPool?
    private var retry = RetryState(policy: nil)
    private(set) var attempts = 0
    private var attemptedHosts: Set<Int> = []
    /// The current attempt's carrier: an HTTP/1.1 connection or an HTTP/2 stream.
    private var connection: (any UpstreamExchange)?
    private var host: Int?
    private var holdsRequest = false
    private var holdsRetry = false
    private var attemptSentAt = 0.0
    /// The route timeout runs (`downstream.startTimer(.route, ...)`).
    private var routeTimerRunning = false
    private var attemptTimer: EventLoop.TimerID?
    private var backoffTimer: EventLoop.TimerID?
    /// The route's `idle_timeout`, else the connection manager's `stream_idle_timeout`: restarted by every part
    /// of the answer.
    private var streamIdleTimerRunning = false
    /// The route's `max_stream_duration`, or the request's `grpc-timeout` under it.
    private var durationTimer: EventLoop.TimerID?
    private var streamIdleDeadline = 0.0
    private var responseStarted = false
    /// The upstream is not read while the client is slow (see `pauseUpstream`).
    private var upstreamPaused = false
    private var responseTrailers: [(name: String, value: String)] = []
    private var done = false
    private var random = SystemRandomNumberGenerator()
    /// Added by the policy filters: `x-ratelimit-*` on the response, a rate limit's not-enforced request headers.
    private(set) var extraResponseHeaders: [(name: String, value: String)] = []
    /// The part of `extraResponseHeaders` from policy filters listed before the fault filter (nil: all of it).
    private(set) var responseHeadersBeforeFault: [(name: String, value: String)]?
    private(set) var extraRequestHeaders: [HeaderValueOption] = []
    /// The `weighted_clusters` entry the route picked, whose header changes apply after the route's.
    /// Set once the route's cluster is picked (looking it up on each use copied the route's whole action).
    private(set) var weightedCluster: WeightedCluster?
    /// The `Upgrade` protocol the client asks for (`Connection: upgrade`), e.g. `websocket`.
    let upgrade: String?
    /// Set once the upstream said 101: bytes now go both ways until a side closes.
    private(set) var tunneling = false
    /// The request body is still arriving (the client streams it): parts come to `requestBodyPart`.
    private var bodyComplete: Bool
    /// The current attempt's head went with the body so far, and parts follow as they come.
    private var streamingAttempt = false
    /// `request.body` keeps the whole body so far for a retry or a shadow; else it holds only what no attempt has
    /// taken yet. Set by the router (a retry policy or a mirror needs it) and cleared past `bodyLimit`.
    private var keepsBodyCopy = true
    /// The router began (after the fault filter): the route timeout starts at the request's end.
    private var routerStarted = false
    /// The request mirrors wait for the body's end (they take whole bodies).
    private var mirrorWaitsForBody = false
    /// The client's go-ahead for more body (`requestBodyPart`'s `more`), held while the host has not taken the
    /// backlog or no attempt carries the body.
    private var heldMore: (() -> Void)?
    /// The most request body kept in memory per stream: the copy for a retry or a shadow (past it neither happens),
    /// or a body waiting for its upstream connection (past it the client is not read). Envoy's default
    /// `per_connection_buffer_limit_bytes`; a listener's own limit applies to its HTTP/1.1 streams (`bodyLimit`).
    static let bufferLimit = 1024 * 1024
    /// This stream's `bufferLimit`: its client connection's.
    private var bodyLimit: Int { downstream.streamBufferLimit }
    /// Request bytes waiting for an HTTP/2 host's window above which the client gets no more window.
    static let requestBacklogLimit = 1024 * 1024
    /// Istio's stats filter's part, when the connection manager has one.
    let istioStats: IstioStreamStats?

    init(runtime: ProxyRuntime, loopContext: LoopContext, downstream: any DownstreamClient, manager: SharedConnectionManager,
         managerStats: ConnectionManagerStats, request: HTTPRequest, bodyComplete: Bool = true) {
        self.bodyComplete = bodyComplete
        self.runtime = runtime
        self.loopContext = loopContext
        self.downstream = downstream
        self.manager = manager
        self.managerStats = managerStats
        self.request = request
        // The headers the stream reads for itself, in one pass (each `header(_:)` would walk the list again).
        var givenID: String?, host: String?, connection: String?, asksUpgrade = false
        for header in request.headers {
            switch header.name.utf8.count {
            case 4 where host == nil && HeaderName.equals(header.name, "host"): host = header.value
            case 7 where HeaderName.equals(header.name, "upgrade"): asksUpgrade = true
            case 10 where connection == nil && HeaderName.equals(header.name, "connection"): connection = header.value
            case 12 where givenID == nil && HeaderName.equals(header.name, "x-request-id"): givenID = header.value
            default: break
            }
        }
        clientKeepsAlive = HTTPRequest.keepsAlive(version: request.version, connection: connection)
        requestID = givenID ?? loopContext.requestIDs.make()
        log.requestHeaders = request.headers
        log.method = request.method
        log.path = request.target
        log.authority = host
        log.protocolName = request.version == 20 ? "HTTP/2" : request.version == 10 ? "HTTP/1.0" : "HTTP/1.1"
        log.bytesReceived = request.body.count
        let info = downstream.info  // a copy per read through the protocol: one here
        log.downstreamLocalAddress = info.localAddress
        log.downstreamRemoteAddress = info.remoteAddress
        log.requestedServerName = info.tls?.serverName
        log.downstreamPeerURISAN = info.tls?.peerURISANs.first
        // The access log reads the made-up id beside the request's headers (appending it would copy them).
        if givenID == nil { log.madeRequestID = requestID }
        upgrade = asksUpgrade ? UpgradeTunnel.requestedProtocol(request) : nil
        istioStats = IstioStreamStats.forStream(manager: manager.config, node: runtime.store.current.node)
        istioStats?.requestArrived(request.headers)
    }

    private var loop: EventLoop { loopContext.loop }
    var statPrefix: String { "http.\(manager.config.statPrefix)." }

    func begin() {
        managerStats.requestsTotal.increment()
        managerStats.requestsActive.adjust(by: 1)
        // The connection manager's routes now (the request just came: `begin` follows `init`).
        // The route and virtual host are shared classes, kept by the stream from here: every local reply from now on
        // gets their response headers, as Envoy's do once a route is chosen.
        virtualHost = runtime.store.routes(for: manager).flatMap { RouteSelection.virtualHost(in: $0, authority: log.authority ?? "") }
        route = virtualHost.flatMap { RouteSelection.route(in: $0, request: HTTPRequestHead(method: request.method, target: request.target, headers: request.headers)) }
        // Envoy refuses an upgrade its connection manager does not list before the filters run, with the route known.
        if let upgrade, !manager.config.upgradeTypes.contains(upgrade.lowercased()) {
            if case .forward(let action)? = route?.action { log.upstreamCluster = RouteSelection.cluster(for: action) { Int.random(in: 0..<$0) } }
            return reply(.upgradeRefused)
        }
        // The policy filters run before the router, so they answer even a request with no route.
        let policy = HTTPPolicyFilters.run(manager.config.httpFilters, statPrefix: manager.config.statPrefix, virtualHost: virtualHost, route: route, request: request,
                                           connection: downstream.info, runtime: runtime)
        // A policy filter's own answer gets the headers of the filters before it.
        extraResponseHeaders = policy.responseHeaders
        responseHeadersBeforeFault = policy.responseHeadersBeforeFault
        if let denial = policy.reply { return reply(denial) }
        extraRequestHeaders = policy.requestHeaders
        // A JWT the filter does not forward leaves the request (its header, or its query parameter).
        if let target = policy.rewrittenTarget { request.target = target; log.path = target }
        if !policy.removedRequestHeaders.isEmpty {
            request.headers.removeAll { policy.removedRequestHeaders.contains($0.name.lowercased()) }
            log.requestHeaders.removeAll { policy.removedRequestHeaders.contains($0.name.lowercased()) }
            clientKeepsAlive = request.keepAlive
        }
        guard virtualHost != nil, let routeAction = route?.action else {
            runtime.stats.increment(statPrefix + "no_route")
            return reply(.noRoute)
        }
        log.routeName = route?.name
        // The route's cluster is picked with the route, as Envoy does; the fault filter then runs before the router
        // answers anything itself (a direct response, a redirect, an unknown cluster).
        if case .forward(let action) = routeAction {
            let durationLimit = action.streamDuration.limit(grpcTimeout: request.header("grpc-timeout"))
            let name = RouteSelection.cluster(for: action) { Int.random(in: 0..<$0) }
            if case .weighted(let clusters) = action.target { weightedCluster = clusters.first { $0.name == name } }
            retry = RetryState(policy: action.retryPolicy ?? virtualHost?.retryPolicy)
            self.action = consume action
            if let durationLimit { durationTimer = loop.schedule(after: durationLimit, downstream.maxDurationFired) }
            log.upstreamCluster = name
            clusterName = name
        }
        applyFaults()
    }

    // MARK: - Fault filter

    private func applyFaults() {
        guard let config = FaultInjection.config(filters: manager.config.httpFilters, routeFault: route?.fault) else { return startRouter() }
        let draw = { Double.random(in: 0..<1) }
        let abort: () -> Void = { [self] in
            switch FaultInjection.abort(config, abortHeader: request.header("x-envoy-fault-abort-request"), draw: draw) {
            case .status(let status)?:
                runtime.stats.increment(statPrefix + "fault.aborts_injected")
                reply(.faultAbort(status: status), from: .fault)
            case .grpcStatus(let code)?:
                runtime.stats.increment(statPrefix + "fault.aborts_injected")
                reply(.faultAbort(grpcStatus: code, grpcRequest: isGRPCRequest), from: .fault)
            case nil:
                startRouter()
            }
        }
        guard let delay = FaultInjection.delay(config, delayHeader: request.header("x-envoy-fault-delay-request"), draw: draw) else { return abort() }
        runtime.stats.increment(statPrefix + "fault.delays_injected")
        log.add(.delayInjected)
        backoffTimer = loop.schedule(after: delay) { [weak self] in
            guard let self, !done else { return }
            backoffTimer = nil
            abort()
        }
    }

    // MARK: - Router

    private func startRouter() {
        guard let cluster = clusterOrRouterAnswer(), let action else { return }
        self.cluster = cluster
        pool = loopContext.pool(for: cluster)
        routerStarted = true
        // The route timeout runs from the request's end, as Envoy's does (an upload may take longer than it).
        if bodyComplete { startRouteTimer() }
        touchStreamIdle()
        // Without a retry policy or a shadow nothing needs the body again: parts an attempt took are not kept.
        keepsBodyCopy = retry.policy != nil || !action.mirrorPolicies.isEmpty
        if !action.mirrorPolicies.isEmpty {
            if bodyComplete { startMirrors() } else { mirrorWaitsForBody = true }
        }
        startAttempt()
    }

    /// The route timeout, from the request's end.
    private func startRouteTimer() {
        guard let timeout = action?.timeout, timeout > 0, !routeTimerRunning, !done else { return }
        downstream.startTimer(.route, after: timeout)
        routeTimerRunning = true
    }

    /// The shadows of the request, once its whole body is here.
    private func startMirrors() {
        guard let action, route != nil else { return }
        RequestMirror.start(action.mirrorPolicies, head: upstreamHead(), body: request.body,
                            timeout: action.timeout, runtime: runtime, loopContext: loopContext)
    }

    private func startAttempt() {
        guard let cluster, let pool, !done else { return }
        if holdsRetry { cluster.close(.retry); holdsRetry = false }
        attempts += 1
        let policy = retry.policy
        let policies = action?.hashPolicies ?? []
        let hash = policies.isEmpty ? nil : RequestHash.compute(policies, headers: request.headers,
                                                                query: RouteSelection.queryParameters(RouteSelection.splitTarget(request.target).query),
                                                                sourceIP: downstream.info.remoteHost, generate: { [self] cookie in generateCookie(cookie) })
        let picked = cluster.config.kind == .originalDestination
            ? cluster.originalDestinationHost(cluster.config.originalDestination.destination(headers: request.headers,
                                                                                         downstreamLocal: downstream.info.localAddressRestored ? downstream.info.localAddress : nil))
            : cluster.chooseHost(hash: hash, avoid: policy?.previousHosts == true ? attemptedHosts : [], attempts: policy?.hostSelectionMaxAttempts ?? 1)
        guard let chosen = picked else {
            runtime.stats.increment(cluster.statPrefix + "upstream_cx_none_healthy")
            log.flags.removeAll { $0 == .upstreamConnectionFailure || $0 == .upstreamRetryLimitExceeded }
            return reply(.noHealthyUpstream)
        }
        host = chosen
        if policy?.previousHosts == true { attemptedHosts.insert(chosen) }
        log.upstreamHost = cluster.hostAddress(chosen)
        // An idle connection first: the callback below (an allocation) is only made when the request must wait.
        if let idle = pool.takeIdle(host: chosen) { return send(on: idle) }
        switch pool.acquire(host: chosen, ready: { [weak self] result in
            guard let self else { if case .success(let connection) = result { connection.endAttempt(reuse: true, pool: pool) }; return }
            guard !done else { if case .success(let connection) = result { connection.endAttempt(reuse: true, pool: pool) }; return }
            switch result {
            case .success(let connection): send(on: connection)
            case .failure(let failure): attemptFailed(failure)
            }
        }) {
        case .connection(let connection): send(on: connection)
        case .pending: break
        case .overflow:
            runtime.stats.increment(cluster.statPrefix + "upstream_rq_pending_overflow")
            reply(.overflow)
        }
    }

    /// A value for a ttl hash cookie the request lacks, set on the answer; the same for every request of a
    /// connection (its two addresses hashed), as Envoy makes it.
    private func generateCookie(_ cookie: GeneratedCookie) -> String {
        let value = String(LoadBalancer.hash(downstream.info.remoteAddress + downstream.info.localAddress), radix: 16)
        let padded = String(repeating: "0", count: max(0, 16 - value.count)) + value
        let header = cookie.setCookie(value: padded)
        if !extraResponseHeaders.contains(where: { $0.name == "set-cookie" && $0.value == header }) { extraResponseHeaders.append(("set-cookie", header)) }
        return padded
    }

    private func send(on connection: any UpstreamExchange) {
        guard let cluster, let pool, action != nil, route != nil else { return }
        if manager.config.accessLogs.contains(where: { $0.usesUpstreamLocalAddress }) { log.upstreamLocalAddress = connection.localAddress }
        guard cluster.open(.request) else {
            connection.endAttempt(reuse: true, pool: pool)
            runtime.stats.increment(cluster.statPrefix + "upstream_rq_pending_overflow")
            return reply(.overflow)
        }
        holdsRequest = true
        self.connection = connection
        let host = connection.host
        cluster.updateHost(host) { $0.activeRequests += 1; $0.totalRequests += 1 }
        cluster.requestStats.requestsTotal.increment()
        cluster.requestStats.requestsActive.adjust(by: 1)
        // Strong: the connection holds the stream only while the attempt lasts (`releaseAttempt` lets go, and
        // `finish` releases any attempt left), with no weak reference's side table per stream.
        connection.onPart = { [self] result in upstreamPart(result) }
        attemptSentAt = MonotonicClock.now()
        if bodyComplete {
            var head = upstreamHead()
            connection.send(head, body: request.body)
            // Written (HTTP/1.1) or made into HTTP/2 fields: the list's storage serves the next head.
            loopContext.recycle(&head.headers)
        } else {
            streamingAttempt = true
            var head = upstreamHead()
            // An HTTP/1.1 client's Content-Length framed the body its decoder read, so it holds; an HTTP/2 client's
            // is not checked against its DATA, so that body goes chunked to an HTTP/1.1 host.
            if !downstream.isHTTP2, let length = request.header("content-length") { head.headers.append(("content-length", length)) }
            connection.sendHead(head, bodySoFar: request.body)
            if !keepsBodyCopy {
                request.body = []
            } else if request.body.count > bodyLimit {
                abandonBodyCopy()
            }
            // A body held while no attempt carried it goes on.
            if let more = heldMore, self.connection === connection { waitForUpstream(connection, then: more) }
        }
        if bodyComplete { startPerTryTimer() }
    }

    /// The retry policy's `per_try_timeout` for the current attempt, from when its request is all sent (Envoy's).
    private func startPerTryTimer() {
        if attemptTimer == nil, let perTry = retry.policy?.perTryTimeout, perTry > 0 {
            attemptTimer = loop.schedule(after: perTry) { [weak self] in self?.perTryTimeout() }
        }
    }

    private func upstreamPart(_ result: Result<UpstreamPart, UpstreamFailure>) {
        guard !done else { return }
        touchStreamIdle()
        switch result {
        case .failure(let failure):
            if responseStarted {
                if case .remoteReset = failure {
                    log.add(.upstreamRemoteReset)
                    log.details = "upstream_reset_after_response_started{remote_reset}"
                } else {
                    log.add(.upstreamConnectionTermination)
                    log.details = "upstream_reset_after_response_started{connection_termination}"
                }
                releaseAttempt(reuse: false)
                return finishAndResetClient()
            }
            attemptFailed(failure)
        case .success(.head(let head)):
            responseHead(head)
            // The head waits for the body when its first bytes are already here: both leave in one write.
            if connection?.hasBufferedResponseBytes != true { downstream.flush() }
        case .success(.body(let part)):
            log.bytesSent += part.readableBytes
            downstream.writeResponseBody(part)
            downstream.flush()
            // A write that failed closed the client, which ended this stream and may have freed the connection.
            if !done, !downstream.isWritable { pauseUpstream() }
        case .success(.trailers(let trailers)):
            // Kept for the end; an HTTP/1.1 client gets none, as Envoy's codec sends none by default.
            responseTrailers = trailers
            log.responseTrailers = trailers
        case .success(.end):
            downstream.endResponse(trailers: responseTrailers)
            downstream.flush()
            if let cluster, let host { cluster.updateHost(host) { $0.successes += 1 } }
            // A request still being sent cannot leave its connection ready for another.
            releaseAttempt(reuse: bodyComplete)
            finish(keepAlive: keepsAlive)
        }
    }

    private func responseHead(_ head: HTTPResponseHead) {
        guard let cluster, let host else { return }
        cancelAttemptTimer()
        let serviceTime = Int((MonotonicClock.now() - attemptSentAt) * 1000)
        cluster.requestStats.requestTime.observe((MonotonicClock.now() - attemptSentAt) * 1000)
        cluster.record(.status(head.status), host: host, now: MonotonicClock.now())
        cluster.requestStats.countResponse(head.status)
        // Without a retry policy nothing is retried, so the grpc-status header is not looked for.
        let outcome = RetryState.Outcome.response(status: head.status, grpcStatus: retry.policy == nil ? nil : head.header("grpc-status").flatMap(Int.init))
        switch retry.decide(outcome) {
        case .retry:
            if cluster.open(.retry) {
                holdsRetry = true
                releaseAttempt(reuse: false)
                return scheduleRetry()
            }
            runtime.stats.increment(cluster.statPrefix + "upstream_rq_retry_overflow")
        case .exhausted:
            if retry.retriesUsed > 0 || retry.policy != nil {
                log.add(.upstreamRetryLimitExceeded)
                runtime.stats.increment(cluster.statPrefix + "upstream_rq_retry_limit_exceeded")
            }
        case .done:
            if retry.retriesUsed > 0 { runtime.stats.increment(cluster.statPrefix + "upstream_rq_retry_success") }
        }
        log.details = "via_upstream"
        log.responseCode = head.status
        if !bodyComplete && !downstream.isHTTP2 { answeredBeforeBodyEnd = true }
        tunneling = upgrade != nil && head.status == 101
        var headers = answerHeaders(for: head, serviceTime: serviceTime)
        var chunked = false
        if !downstream.isHTTP2 {
            let bodyless = request.method == "HEAD" || head.status == 204 || head.status == 304
            chunked = !bodyless && !tunneling && head.header("content-length") == nil
            if chunked { headers.append(("transfer-encoding", "chunked")) }
            if !keepsAlive && !tunneling { headers.append(("connection", "close")) }
        }
        responseStarted = true
        // The route timeout runs on until the response is complete, as Envoy's does: a body that stalls is cut.
        downstream.writeResponseHead(status: head.status, headers: headers, chunked: chunked)
        // Kept for the access log and Istio's stats; else an HTTP/1.1 client's head is written by now and its list's
        // storage serves the next head (an HTTP/2 connection may still hold the list).
        if !manager.config.accessLogs.isEmpty || istioStats != nil {
            log.responseHeaders = headers
        } else if !downstream.isHTTP2 {
            loopContext.recycle(&headers)
        }
        if tunneling, let connection = connection as? UpstreamConnection, let client = downstream as? DownstreamHTTPConnection {
            downstream.flush()
            startTunnel(to: connection, client: client)
        }
    }

    /// After a 101: the route timeout stops (the request has no end) and bytes go both ways as they come. A FIN from
    /// either side ends the tunnel as Envoy's does: the other side gets what was already sent, then the close.
    private func startTunnel(to connection: UpstreamConnection, client: DownstreamHTTPConnection) {
        if routeTimerRunning { downstream.stopTimer(.route) }
        if streamIdleTimerRunning { downstream.stopTimer(.streamIdle) }
        (routeTimerRunning, streamIdleTimerRunning) = (false, false)
        connection.switchProtocols(raw: { [weak self] bytes in
            guard let self else { return }
            log.bytesSent += bytes.readableBytes
            client.send(bytes)
            // A client that reads slowly stops the upstream's reads until it catches up, as for an answer's body.
            if !client.isWritable { pauseUpstream() }
        }, closed: { [weak self] in
            guard let self, !done else { return }
            // Envoy logs a tunnel the server ended as an upstream reset.
            log.add(.upstreamConnectionTermination)
            log.details = "upstream_reset_after_response_started{connection_termination}"
            releaseAttempt(reuse: false)
            finish(keepAlive: false)
        })
        client.tunnel(to: connection.tcp) { [weak self] count in self?.log.bytesReceived += count }
    }

    private func attemptFailed(_ failure: UpstreamFailure) {
        guard let cluster else { return }
        cancelAttemptTimer()
        releaseAttempt(reuse: false)
        if let host { cluster.record(.localFailure, host: host, now: MonotonicClock.now()) }
        let outcome: RetryState.Outcome
        var reason: String
        var flag: ResponseFlag
        switch failure {
        case .connectFailure(let transport):
            outcome = .connectFailure
            reason = "remote connection failure"
            flag = .upstreamConnectionFailure
            log.transportFailureReason = transport
            log.details = "upstream_reset_before_response_started{remote connection failure|\(transport)}"
        case .connectTimeout:
            outcome = .connectFailure
            reason = "connection timeout"
            flag = .upstreamConnectionFailure
            log.details = "upstream_reset_before_response_started{connection timeout}"
        case .remoteReset(let refused):
            outcome = refused ? .refusedStream : .reset
            reason = refused ? "remote refused stream reset" : "remote reset"
            flag = .upstreamRemoteReset
            log.details = "upstream_reset_before_response_started{\(reason)}"
            runtime.stats.increment(cluster.statPrefix + "upstream_rq_rx_reset")
        case .reset, .protocolError:
            outcome = .reset
            reason = "connection termination"
            flag = .upstreamConnectionTermination
            log.details = "upstream_reset_before_response_started{connection termination}"
            runtime.stats.increment(cluster.statPrefix + "upstream_rq_rx_reset")
        }
        switch retry.decide(outcome) {
        case .retry:
            if cluster.open(.retry) {
                holdsRetry = true
                return scheduleRetry()
            }
            runtime.stats.increment(cluster.statPrefix + "upstream_rq_retry_overflow")
        case .exhausted:
            if retry.policy != nil {
                log.add(.upstreamRetryLimitExceeded)
                runtime.stats.increment(cluster.statPrefix + "upstream_rq_retry_limit_exceeded")
            }
        case .done:
            break
        }
        let details = log.details ?? ""
        reply(LocalReply(status: 503, body: LocalReply.resetText(reason, retried: retry.retriesUsed > 0), flags: [flag], details: details))
    }

    /// The retry goes after its backoff, and only then counts in `upstream_rq_retry` (as Envoy 1.40 counts it).
    private func scheduleRetry() {
        let delay = retry.backoff(using: &random)
        backoffTimer = loop.schedule(after: delay) { [weak self] in
            guard let self, !done else { return }
            backoffTimer = nil
            if let cluster { runtime.stats.increment(cluster.statPrefix + "upstream_rq_retry") }
            startAttempt()
        }
    }

    private func perTryTimeout() {
        attemptTimer = nil
        guard !done, !responseStarted, let cluster else { return }
        runtime.stats.increment(cluster.statPrefix + "upstream_rq_per_try_timeout")
        if let host { cluster.record(.localFailure, host: host, now: MonotonicClock.now()) }
        releaseAttempt(reuse: false)
        if retry.decide(.perTryTimeout) == .retry, cluster.open(.retry) {
            holdsRetry = true
            return scheduleRetry()
        }
        reply(.perTryTimeout)
    }

    /// Moves the idle deadline on; the timer is scheduled once and, when it fires early, again for what is left
    /// (rescheduling on every body part would cost a timer operation each).
    private func touchStreamIdle() {
        let limit = action?.idleTimeout ?? manager.config.streamIdleTimeout
        guard limit > 0, !done, !tunneling else { return }
        streamIdleDeadline = MonotonicClock.now() + limit
        if !streamIdleTimerRunning {
            downstream.startTimer(.streamIdle, after: limit)
            streamIdleTimerRunning = true
        }
    }

    /// The idle timer fired (through the connection's callback): a timeout, unless activity moved the deadline.
    func streamIdleFired() {
        streamIdleTimerRunning = false
        let left = streamIdleDeadline - MonotonicClock.now()
        if left > 0, !done, !tunneling {
            downstream.startTimer(.streamIdle, after: left)
            streamIdleTimerRunning = true
            return
        }
        streamIdleTimeout()
    }

    /// Nothing from the upstream for the idle timeout: before the answer began 408 (the connection manager's) or
    /// 504 (the route's), as Envoy answers; a reset after.
    private func streamIdleTimeout() {
        streamIdleTimerRunning = false
        guard !done else { return }
        runtime.stats.increment(statPrefix + "downstream_rq_idle_timeout")
        releaseAttempt(reuse: false)
        guard !responseStarted else {
            log.add(.streamIdleTimeout)
            log.details = LocalReply.streamIdleTimeout.details
            return finishAndResetClient()
        }
        reply(action?.idleTimeout != nil ? .routeIdleTimeout : .streamIdleTimeout)
    }

    /// The route timeout fired (through the connection's callback).
    func routeTimeoutFired() {
        routeTimerRunning = false
        guard !done, let cluster else { return }
        runtime.stats.increment(cluster.statPrefix + "upstream_rq_timeout")
        if let host, connection != nil, !responseStarted {
            cluster.record(.status(504), host: host, now: MonotonicClock.now())
            cluster.updateHost(host) { $0.timeouts += 1 }
        }
        releaseAttempt(reuse: false)
        if responseStarted {
            log.add(.upstreamRequestTimeout)
            log.details = LocalReply.timeout.details
            return finishAndResetClient()
        }
        reply(.timeout)
    }

    /// The stream's maximum duration passed (through the connection's callback): before the answer began 504 with
    /// grpc-status 4 for gRPC, as Envoy's connection manager answers; a reset after.
    func maxDurationFired() {
        durationTimer = nil
        guard !done else { return }
        runtime.stats.increment(statPrefix + "downstream_rq_max_duration_reached")
        releaseAttempt(reuse: false)
        guard !responseStarted else {
            log.details = LocalReply.maxDurationTimeout.details
            return finishAndResetClient()
        }
        reply(.maxDurationTimeout)
    }

    /// More of a request body that is still arriving: on to the current attempt as it comes, a copy kept while a
    /// retry or a shadow may need it (up to `bodyLimit`; past it neither happens, as in Envoy). With no attempt
    /// under way (waiting for a connection, a fault's delay, a retry's backoff) the body is held up to the limit.
    /// `more` runs once the client may send more: now, or when the host took the backlog or an attempt started.
    func requestBodyPart(_ part: ByteBuffer, end: Bool, more: @escaping () -> Void) {
        guard !done, !bodyComplete else { return more() }
        log.bytesReceived += part.readableBytes
        touchStreamIdle()
        if end {
            bodyComplete = true
            if routerStarted { startRouteTimer() }
        }
        guard streamingAttempt, let connection else {
            part.withUnsafeReadableBytes { request.body.append(contentsOf: $0) }
            // In a retry's backoff a body past the limit can be neither taken nor replayed: 507, as from Envoy.
            if routerStarted, attempts > 0, backoffTimer != nil, keepsBodyCopy, request.body.count > bodyLimit {
                if let cluster { runtime.stats.increment(cluster.statPrefix + "retry_or_shadow_abandoned") }
                return reply(.retryBufferOverflow)
            }
            if end, mirrorWaitsForBody { mirrorWaitsForBody = false; startMirrors() }
            if !end, request.body.count > bodyLimit { return hold(more) }
            return more()
        }
        if keepsBodyCopy {
            part.withUnsafeReadableBytes { request.body.append(contentsOf: $0) }
            if request.body.count > bodyLimit { abandonBodyCopy() }
        }
        connection.sendBody(part, end: end)
        if end, self.connection === connection { startPerTryTimer() }
        if end, mirrorWaitsForBody, keepsBodyCopy { mirrorWaitsForBody = false; startMirrors() }
        // A failed write may have ended the attempt (and the stream): then the body waits for the next one, if any.
        guard !end, !done, let current = self.connection, current === connection else { return done || end ? more() : hold(more) }
        waitForUpstream(connection, then: more)
    }

    /// The rest of the body cannot be read (the client broke its framing): the attempt ends, and the client gets
    /// the codec's refusal if its answer has not begun (flag DPE), else a reset, as from Envoy.
    func requestBroken(status: Int, body: String, details: String) {
        guard !done else { return }
        releaseAttempt(reuse: false)
        guard !responseStarted else {
            log.add(.downstreamProtocolError)
            log.details = details
            return finishAndResetClient()
        }
        reply(LocalReply(status: status, body: body, flags: [.downstreamProtocolError], details: details))
    }

    /// Lets the client send more now, or once the host has taken what it was sent (the client is not read until then).
    private func waitForUpstream(_ connection: any UpstreamExchange, then more: @escaping () -> Void) {
        heldMore = nil
        guard connection.isRequestBackedUp else { return more() }
        heldMore = more
        if let cluster { runtime.stats.increment(cluster.statPrefix + "upstream_flow_control_backed_up_total") }
        connection.whenDrained { [weak self, weak connection] in
            guard let self, let connection, let current = self.connection, current === connection, let more = heldMore else { return }
            heldMore = nil
            if let cluster { runtime.stats.increment(cluster.statPrefix + "upstream_flow_control_drained_total") }
            more()
        }
    }

    /// Holds the client's go-ahead until an attempt takes the body (or the stream ends).
    private func hold(_ more: @escaping () -> Void) { heldMore = more }

    /// The body is past the buffer limit: its copy goes, and with it retries and shadows still to come (Envoy's
    /// `retry_or_shadow_abandoned`).
    private func abandonBodyCopy() {
        keepsBodyCopy = false
        request.body = []
        if retry.policy != nil || mirrorWaitsForBody, let cluster { runtime.stats.increment(cluster.statPrefix + "retry_or_shadow_abandoned") }
        retry = RetryState(policy: nil)
        mirrorWaitsForBody = false
    }

    /// The client reads slowly (`paused`), or caught up: the answer's host is slowed down, or let go on. An HTTP/2
    /// client's connection says so; an HTTP/1.1 client's writability is checked after each body part (`pauseUpstream`).
    func downstreamBackpressure(paused: Bool) {
        guard let connection, let cluster, paused != upstreamPaused else { return }
        upstreamPaused = paused
        runtime.stats.increment(cluster.statPrefix + (paused ? "upstream_flow_control_paused_reading_total" : "upstream_flow_control_resumed_reading_total"))
        if paused { connection.pauseReading() } else { connection.resumeReading() }
    }

    /// Ends the current attempt's hold on the connection and the circuit breakers.
    /// Flow control: the client holds more of the answer than the high watermark, so the upstream is not read until
    /// it takes it (the proxy buffers a bounded amount per stream, not the whole body).
    private func pauseUpstream() {
        guard !upstreamPaused, connection != nil else { return }
        downstreamBackpressure(paused: true)
        downstream.whenWritable { [weak self] in
            guard let self, !done else { return }
            downstreamBackpressure(paused: false)
        }
    }

    private func releaseAttempt(reuse: Bool) {
        guard let connection else { return }
        self.connection = nil
        connection.onPart = nil
        streamingAttempt = false
        // Parts read before the pause may have ended the answer: a connection going back to the pool reads again.
        if upstreamPaused { upstreamPaused = false; connection.resumeReading() }
        if holdsRequest, let cluster {
            holdsRequest = false
            cluster.close(.request)
            cluster.requestStats.requestsActive.adjust(by: -1)
            cluster.requestStats.requestsCompleted.increment()
            cluster.updateHost(connection.host) { $0.activeRequests -= 1 }
        }
        if let pool { connection.endAttempt(reuse: reuse, pool: pool) }
    }

    private func cancelAttemptTimer() {
        if let attemptTimer { loop.cancel(attemptTimer); self.attemptTimer = nil }
    }

    /// The client went away before the answer was complete.
    func downstreamClosed() {
        guard !done else { return }
        if tunneling {
            // As in Envoy, the client's FIN ends the tunnel (no half-close through it).
            log.add(.downstreamConnectionTermination)
            log.details = "downstream_remote_disconnect"
            finish(keepAlive: false)  // first: closing the upstream below must not read as the server's close
            return releaseAttempt(reuse: false)
        }
        log.add(.downstreamConnectionTermination)
        if !responseStarted { log.responseCode = 0 }
        releaseAttempt(reuse: false)
        finish(keepAlive: false)
    }

    // MARK: - Answers

    func reply(_ reply: LocalReply, from source: LocalReplySource = .other) {
        guard !done else { return }
        // A gRPC client gets its local reply as gRPC: 200, trailers-only, the status as grpc-status, as from Envoy.
        var reply = isGRPCRequest ? reply.asGRPC() : reply
        addAnswerHeaders(to: &reply, from: source)
        for flag in reply.flags { log.add(flag) }
        log.details = reply.details
        log.responseCode = reply.status
        log.bytesSent = reply.body.utf8.count
        log.responseHeaders = reply.extraHeaders
        downstream.sendLocalReply(reply, serverName: serverName, keepAlive: keepsAlive)
        finish(keepAlive: keepsAlive)
    }

    /// An answer cut short: log and end the stream, then reset the client. Closing first would log the close as the
    /// client's (DC).
    private func finishAndResetClient() {
        let client = downstream  // finishing may let go of the connection
        finish(keepAlive: false)
        client.flush()  // a head already queued goes first, as it did when heads were written at once
        client.abort()
    }

    /// `content-type: application/grpc...`.
    var isGRPCRequest: Bool { request.header("content-type")?.lowercased().hasPrefix("application/grpc") ?? false }

    /// Whether the connection stays open after this answer: the client asked for it, its listener is not draining,
    /// and the request was read to its end (an HTTP/1.1 answer that comes first closes the connection, as Envoy's does).
    private var keepsAlive: Bool {
        clientKeepsAlive && !downstream.isDraining && !tunneling && !answeredBeforeBodyEnd && (bodyComplete || downstream.isHTTP2)
    }
    /// The client asked to keep its connection (`HTTPRequest.keepAlive`), read once.
    private var clientKeepsAlive: Bool
    /// The upstream's answer began before the request body ended: the connection closes after it.
    private var answeredBeforeBodyEnd = false

    private func finish(keepAlive: Bool) {
        guard !done else { return }
        done = true
        if routeTimerRunning { downstream.stopTimer(.route); routeTimerRunning = false }
        if let attemptTimer { loop.cancel(attemptTimer) }
        if let backoffTimer { loop.cancel(backoffTimer) }
        if streamIdleTimerRunning { downstream.stopTimer(.streamIdle); streamIdleTimerRunning = false }
        if let durationTimer { loop.cancel(durationTimer) }
        // An attempt still held (none is, on every path today) must not keep the stream through its callback.
        if connection != nil { releaseAttempt(reuse: false) }
        if holdsRetry, let cluster { cluster.close(.retry); holdsRetry = false }
        // A client held mid-body is not read again: an HTTP/1.1 one's connection closes after this answer, an HTTP/2
        // one's stream gives its window back when it ends.
        heldMore = nil
        log.duration = MonotonicClock.now() - startedAt
        managerStats.requestsActive.adjust(by: -1)
        managerStats.requestsCompleted.increment()
        if log.responseCode > 0 { managerStats.countResponse(log.responseCode) }
        managerStats.requestTime.observe(log.duration * 1000)
        istioStats?.record(log, cluster: cluster?.config, upstreamTLS: cluster.flatMap { cluster in host.map { cluster.tls(forHost: $0) != nil } } ?? false,
                           metrics: runtime.stats.labeled)
        if !manager.config.accessLogs.isEmpty {
            log.startTime = Date(timeIntervalSinceNow: -log.duration)
            runtime.writeAccessLogs(manager.config.accessLogs, entry: log)
        }
        downstream.streamFinished(keepAlive: keepAlive)
    }
}
