/// networking.istio.io resources.
enum NetworkingSchemas {
    typealias C = CommonSchemas

    // MARK: WorkloadEntry, WorkloadGroup, ServiceEntry

    /// A workload's fields; `requireAddress` for a WorkloadEntry of its own (not inside a group template).
    static func workloadEntry(requireAddress: Bool) -> ObjectType {
        ObjectType("WorkloadEntry", [
            "address": .string(maxLength: 256), "ports": .map(.integer), "labels": .map(.string),
            "network": .string(maxLength: 2048), "locality": .string(maxLength: 2048), "weight": .integer(minimum: 0, maximum: 4_294_967_295),
            "serviceAccount": .string(maxLength: 253),
        ], rules: [
            .require("Address is required", at: nil) { entry in
                !requireAddress || !(entry["address"]?.scalarText ?? "").isEmpty || !(entry["network"]?.scalarText ?? "").isEmpty
            },
            ObjectRule { entry, path in
                var problems: [ValidationProblem] = []
                for pair in entry["ports"]?.pairs ?? [] {
                    let name = pair.key.scalarText ?? ""
                    if let number = pair.value.int, !(1...65535).contains(number) {
                        problems.append(C.problem(pair.value, path + [.key("ports"), .key(name)], "port must be between 1-65535"))
                    }
                    if name.count >= 63 || !Patterns.matches(name, #"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$"#) {
                        problems.append(C.problem(pair.key, path + [.key("ports")],
                                                  "port name must be valid: \"\(name)\" is not a DNS label (letters, digits and inner '-', under 63)"))
                    }
                }
                guard let address = entry["address"]?.scalarText, address.hasPrefix("unix://") else { return problems }
                let socket = String(address.dropFirst("unix://".count))
                let where_ = entry["address"]!
                if !(socket.hasPrefix("/") || socket.hasPrefix("@")) {
                    problems.append(C.problem(where_, path + [.key("address")], "UDS must be an absolute path or abstract socket"))
                } else if socket.hasSuffix("/") {
                    problems.append(C.problem(where_, path + [.key("address")], "UDS may not be a dir"))
                }
                if let ports = entry["ports"]?.pairs, !ports.isEmpty {
                    problems.append(C.problem(entry["ports"]!, path + [.key("ports")], "UDS may not include ports"))
                }
                return problems
            },
        ] + (requireAddress ? [NetworkingRules.workloadEntry] : []))
    }

    static let servicePort = ObjectType("ServicePort", [
        "number": .integer, "protocol": .string(maxLength: 256), "name": .string(minLength: 1, maxLength: 256), "targetPort": .integer,
    ], required: ["number", "name"], rules: [C.portRule("number"), C.portRule("targetPort")])

    static let serviceEntry = SchemaType.object(ObjectType("ServiceEntry", [
        "hosts": .list(.string, minItems: 1, maxItems: 256, unique: false),
        "addresses": .list(.string(maxLength: 64), maxItems: 256),
        "ports": .list(.object(servicePort), maxItems: 256),
        "location": .enumeration(["MESH_EXTERNAL", "MESH_INTERNAL"]),
        "resolution": .enumeration(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"]),
        "endpoints": .list(.object(workloadEntry(requireAddress: false)), maxItems: 4096),
        "workloadSelector": .object(ObjectType("WorkloadSelector", ["labels": .map(.string(maxLength: 63))], rules: [
            NetworkingRules.alphaSelector(ownerWords: "the service entry"),
        ])),
        "exportTo": .list(.string),
        "subjectAltNames": .list(.string),
    ], required: ["hosts"], rules: [
        NetworkingRules.serviceEntry, NetworkingRules.exportTo(serviceEntry: true),
        ObjectRule { spec, path in
            var problems: [ValidationProblem] = []
            for (index, host) in (spec["hosts"]?.items ?? []).enumerated() where host.scalarText == "*" {
                problems.append(C.problem(host, path + [.key("hosts"), .index(index)], "hostname cannot be wildcard"))
            }
            let ports = spec["ports"]?.items ?? []
            var repeated = C.repeats(in: ports) { $0["name"]?.scalarText }.map { ($0.index, 0, $0.item, "Duplicate value: port name \"\($0.key)\"") }
            repeated += C.repeats(in: ports) { $0["number"]?.int.map(String.init) }.map { ($0.index, 1, $0.item, "port number cannot be duplicated") }
            // In port order, the name before the number for the same port.
            for (index, _, port, message) in repeated.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
                problems.append(C.problem(port, path + [.key("ports"), .index(index)], message))
            }
            return problems
        },
        .require("only one of WorkloadSelector or Endpoints can be set") { spec in
            spec["workloadSelector"] == nil || spec["endpoints"] == nil
        },
        .require("CIDR addresses are allowed only for NONE/STATIC resolution types", at: "addresses") { spec in
            let resolution = spec["resolution"]?.scalarText ?? "NONE"
            let cidrs = (spec["addresses"]?.items ?? []).contains { $0.scalarText?.contains("/") == true }
            return !cidrs || resolution == "NONE" || resolution == "STATIC"
        },
        .require("NONE mode cannot set endpoints", at: "endpoints") { spec in
            (spec["resolution"]?.scalarText ?? "NONE") != "NONE" || (spec["endpoints"]?.items ?? []).isEmpty
        },
        .require("DNS_ROUND_ROBIN mode cannot have multiple endpoints", at: "endpoints") { spec in
            spec["resolution"]?.scalarText != "DNS_ROUND_ROBIN" || (spec["endpoints"]?.items ?? []).count <= 1
        },
    ]))

    /// The CRD refuses a name outside its pattern; the webhook (NetworkingRules) is stricter, without `_`.
    static let httpHeader = ObjectType("HTTPHeader", ["name": .string(pattern: #"^[-_A-Za-z0-9]+$"#), "value": .string])

    static let readinessProbe = ObjectType("ReadinessProbe", [
        "initialDelaySeconds": .integer(minimum: 0), "timeoutSeconds": .integer(minimum: 0),
        "periodSeconds": .integer(minimum: 0), "successThreshold": .integer(minimum: 0), "failureThreshold": .integer(minimum: 0),
        "httpGet": .object(ObjectType("HTTPHealthCheckConfig", [
            "path": .string, "port": .integer, "host": .string, "scheme": .string, "httpHeaders": .list(.object(httpHeader)),
        ], required: ["port"], rules: [C.portRule("port")])),
        "tcpSocket": .object(ObjectType("TCPHealthCheckConfig", ["host": .string, "port": .integer], required: ["port"],
                                        rules: [C.portRule("port")])),
        "exec": .object(ObjectType("ExecHealthCheckConfig", ["command": .list(.string)])),
        "grpc": .object(ObjectType("GrpcHealthCheckConfig", ["port": .integer, "service": .string], rules: [C.portRule("port")])),
    ], rules: [C.oneOf(["httpGet", "tcpSocket", "exec", "grpc"]), NetworkingRules.readinessProbe])

    static let workloadGroup = SchemaType.object(ObjectType("WorkloadGroup", [
        "metadata": .object(ObjectType("ObjectMeta", ["labels": .map(.string), "annotations": .map(.string)])),
        "template": .object(workloadEntry(requireAddress: false)),
        "probe": .object(readinessProbe),
    ], required: ["template"], rules: [NetworkingRules.workloadGroup]))

    // MARK: DestinationRule

    static let connectionPool = ObjectType("ConnectionPoolSettings", [
        "tcp": .object(ObjectType("TCPSettings", [
            "maxConnections": .integer, "connectTimeout": .duration(minimumSeconds: 0.001),
            "maxConnectionDuration": .duration(minimumSeconds: 0.001), "idleTimeout": .duration,
            "tcpKeepalive": .object(ObjectType("TcpKeepalive", ["probes": .integer(minimum: 0), "time": .duration(minimumSeconds: 0.001),
                                                                "interval": .duration(minimumSeconds: 0.001)])),
        ])),
        "http": .object(ObjectType("HTTPSettings", [
            "http1MaxPendingRequests": .integer, "http2MaxRequests": .integer, "maxRequestsPerConnection": .integer,
            "maxRetries": .integer, "idleTimeout": .duration(minimumSeconds: 0.001),
            "h2UpgradePolicy": .enumeration(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"]),
            "useClientProtocol": .bool, "maxConcurrentStreams": .integer,
            "http2KeepAlive": .object(ObjectType("HTTP2KeepAlive", ["time": .duration, "timeout": .duration(minimumSeconds: 0.001),
                                                                    "interval": .duration(minimumSeconds: 0.001)])),
        ])),
    ], rules: [NetworkingRules.connectionPool])

    static let outlierDetection = ObjectType("OutlierDetection", [
        "splitExternalLocalOriginErrors": .bool, "consecutiveLocalOriginFailures": .integer(minimum: 0),
        "consecutiveGatewayErrors": .integer(minimum: 0), "consecutive5xxErrors": .integer(minimum: 0),
        "interval": .duration(minimumSeconds: 0.001), "baseEjectionTime": .duration(minimumSeconds: 0.001),
        "maxEjectionPercent": .integer(minimum: 0, maximum: 100), "minHealthPercent": .integer(minimum: 0, maximum: 100),
        "consecutiveErrors": .integer(minimum: 0), "outlierDetectionHttpErrorCodes": .list(.integer(minimum: 100, maximum: 599)),
    ], rules: [
        NetworkingRules.outlierDetection, NetworkingRules.millisecondDurations(["interval", "baseEjectionTime"]),
        ObjectRule { detection, path in
            guard let field = detection["consecutiveErrors"] else { return [] }
            return [ValidationProblem(.warning, path: path + [.key("consecutiveErrors")], location: field.location,
                                      message: "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead")]
        },
    ])

    static let clientTLS = ObjectType("ClientTLSSettings", [
        "mode": .enumeration(["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]), "clientCertificate": .string, "privateKey": .string,
        "caCertificates": .string, "credentialName": .string, "subjectAltNames": .list(.string), "sni": .string,
        "insecureSkipVerify": .bool, "caCrl": .string,
    ], rules: [NetworkingRules.clientTLS])

    static let failover = ObjectType("Failover", ["from": .string, "to": .string])

    static let loadBalancer = ObjectType("LoadBalancerSettings", [
        "simple": .enumeration(["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"]),
        "consistentHash": .object(ObjectType("ConsistentHashLB", [
            "httpHeaderName": .string, "useSourceIp": .bool, "httpQueryParameterName": .string, "minimumRingSize": .integer(minimum: 0),
            "httpCookie": .object(ObjectType("HTTPCookie", [
                "name": .string, "path": .string, "ttl": .duration,
                "attributes": .list(.object(ObjectType("CookieAttribute", ["name": .string, "value": .string], required: ["name"]))),
            ], required: ["name"])),
            "ringHash": .object(ObjectType("RingHash", ["minimumRingSize": .integer(minimum: 0)])),
            "maglev": .object(ObjectType("MagLev", ["tableSize": .integer(minimum: 0)])),
        ], rules: [NetworkingRules.consistentHash])),
        "backendUtilization": .object(ObjectType("BackendUtilizationLB", [
            "errorUtilizationPenaltyPercent": .integer(minimum: 0, maximum: 4_294_967_295), "metricNamesForComputingUtilization": .list(.string),
            "weightExpirationPeriod": .duration, "weightStabilizationPeriod": .duration, "weightUpdatePeriod": .duration,
        ])),
        "localityLbSetting": .object(ObjectType("LocalityLoadBalancerSetting", [
            "distribute": .list(.object(ObjectType("Distribute", ["from": .string, "to": .map(.integer(minimum: 0, maximum: 4_294_967_295))]))),
            "failover": .list(.object(failover)), "failoverPriority": .list(.string), "enabled": .bool,
        ], rules: [NetworkingRules.localityLoadBalancer])),
        "zoneAwareLbSetting": .object(ObjectType("ZoneAwareLoadBalancerSetting", [
            "enabled": .bool, "failover": .list(.object(failover)), "failoverPriority": .list(.string),
            "minClusterSize": .integer(minimum: 1, maximum: 4_294_967_295),
        ], rules: [NetworkingRules.zoneAwareLoadBalancer])),
        "warmup": .object(ObjectType("WarmupConfiguration", [
            "duration": .duration(minimumSeconds: 0.001), "minimumPercent": .number(minimum: 0, maximum: 100), "aggression": .number(minimum: 0),
        ], required: ["duration"])),
        "warmupDurationSecs": .duration(minimumSeconds: 0.001),
    ], rules: [C.oneOf(["simple", "consistentHash", "backendUtilization"]), NetworkingRules.loadBalancer])

    static let portTrafficPolicy = ObjectType("PortTrafficPolicy", [
        "port": .object(ObjectType("PortSelector", ["number": .integer], rules: [C.portRule("number")])),
        "loadBalancer": .object(loadBalancer), "connectionPool": .object(connectionPool),
        "outlierDetection": .object(outlierDetection), "tls": .object(clientTLS),
    ], rules: [NetworkingRules.portTrafficPolicy])

    static let trafficPolicy = ObjectType("TrafficPolicy", [
        "loadBalancer": .object(loadBalancer), "connectionPool": .object(connectionPool),
        "outlierDetection": .object(outlierDetection), "tls": .object(clientTLS),
        "portLevelSettings": .list(.object(portTrafficPolicy), maxItems: 4096),
        "tunnel": .object(ObjectType("TunnelSettings", ["protocol": .string, "targetHost": .string, "targetPort": .integer(minimum: 0)],
                                     required: ["targetHost", "targetPort"], rules: [NetworkingRules.tunnel])),
        "proxyProtocol": .object(ObjectType("ProxyProtocol", ["version": .enumeration(["V1", "V2"])])),
        "retryBudget": .object(ObjectType("RetryBudget", ["percent": .number(minimum: 0, maximum: 100),
                                                          "minRetryConcurrency": .integer(minimum: 0, maximum: 4_294_967_295),
                                                          "budgetInterval": .duration])),
    ], rules: [
        .require("traffic policy must have at least one field") { ($0.pairs ?? []).isEmpty == false },
        NetworkingRules.trafficPolicy,
    ])

    static let destinationRule = SchemaType.object(ObjectType("DestinationRule", [
        "host": .string(minLength: 1),
        "trafficPolicy": .object(trafficPolicy),
        "subsets": .list(.object(ObjectType("Subset", [
            "name": .string(minLength: 1), "labels": .map(.string), "trafficPolicy": .object(trafficPolicy),
        ], required: ["name"]))),
        "exportTo": .list(.string),
        "workloadSelector": .object(C.workloadSelector),
    ], required: ["host"], rules: [
        NetworkingRules.destinationRule, NetworkingRules.exportTo(serviceEntry: false),
        ObjectRule { spec, path in
            C.repeats(in: spec["subsets"]?.items ?? []) { $0["name"]?.scalarText }.map { repeat_ in
                C.problem(repeat_.item, path + [.key("subsets"), .index(repeat_.index), .key("name")], "duplicate subset name \"\(repeat_.key)\"")
            }
        },
    ]))

    // MARK: EnvoyFilter

    static let filterMatch = ObjectType("FilterMatch", [
        "name": .string, "subFilter": .object(ObjectType("SubFilterMatch", ["name": .string])),
    ])

    static let envoyFilterMatch = ObjectType("EnvoyConfigObjectMatch", [
        "context": .enumeration(["ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY", "WAYPOINT"]),
        "proxy": .object(ObjectType("ProxyMatch", ["proxyVersion": .string, "metadata": .map(.string)])),
        "listener": .object(ObjectType("ListenerMatch", [
            "portNumber": .integer, "portName": .string, "name": .string,
            "filterChain": .object(ObjectType("FilterChainMatch", [
                "name": .string, "sni": .string, "transportProtocol": .string, "applicationProtocols": .string,
                "destinationPort": .integer, "filter": .object(filterMatch), "transportSocket": .string,
            ])),
            "listenerFilter": .string,
        ], rules: [C.portRule("portNumber")])),
        "routeConfiguration": .object(ObjectType("RouteConfigurationMatch", [
            "portNumber": .integer, "portName": .string, "gateway": .string, "name": .string,
            "vhost": .object(ObjectType("VirtualHostMatch", [
                "name": .string, "domainName": .string,
                "route": .object(ObjectType("RouteMatch", ["name": .string, "action": .enumeration(["ANY", "ROUTE", "REDIRECT", "DIRECT_RESPONSE"])])),
            ])),
        ], rules: [C.portRule("portNumber")])),
        "cluster": .object(ObjectType("ClusterMatch", ["portNumber": .integer, "service": .string, "subset": .string, "name": .string],
                                      rules: [C.portRule("portNumber")])),
        "waypoint": .object(ObjectType("WaypointMatch", ["filter": .object(filterMatch),
                                                         "route": .object(ObjectType("WaypointRouteMatch", ["name": .string])), "portNumber": .integer],
                                       rules: [C.portRule("portNumber")])),
    ], rules: [
        .require("Invalid value: \"object\": only support waypointMatch when context is WAYPOINT") { match in
            let waypointContext = match["context"]?.scalarText == "WAYPOINT"
            if match["waypoint"] != nil { return waypointContext }
            return !waypointContext || (match["listener"] == nil && match["routeConfiguration"] == nil && match["cluster"] == nil)
        },
    ])

    static let envoyFilter = SchemaType.object(ObjectType("EnvoyFilter", [
        "workloadSelector": .object(ObjectType("WorkloadSelector", ["labels": .map(.string(maxLength: 63))], rules: [
            NetworkingRules.alphaSelector(ownerWords: "the Envoy filter"),
        ])),
        "targetRefs": .list(.object(C.targetReference)),
        "configPatches": .list(.object(ObjectType("EnvoyConfigObjectPatch", [
            "applyTo": .enumeration(["INVALID", "LISTENER", "FILTER_CHAIN", "NETWORK_FILTER", "HTTP_FILTER", "ROUTE_CONFIGURATION",
                                     "VIRTUAL_HOST", "HTTP_ROUTE", "CLUSTER", "EXTENSION_CONFIG", "BOOTSTRAP", "LISTENER_FILTER"]),
            "match": .object(envoyFilterMatch),
            "patch": .object(ObjectType("Patch", [
                "operation": .enumeration(["INVALID", "MERGE", "ADD", "REMOVE", "INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "REPLACE",
                                           "MERGE_AND_REPLACE_LIST"]),
                "value": .any,
                "filterClass": .enumeration(["UNSPECIFIED", "AUTHN", "AUTHZ", "STATS"]),
            ])),
        ], rules: [NetworkingRules.envoyFilterPatch]))),
        "priority": .integer,
    ], rules: [NetworkingRules.envoyFilter]))

    // MARK: VirtualService, Gateway, Sidecar

    static let destination = ObjectType("Destination", [
        "host": .string(minLength: 1), "subset": .string,
        "port": .object(ObjectType("PortSelector", ["number": .integer], rules: [C.portRule("number")])),
    ], required: ["host"], rules: [NetworkingRules.destination])

    static let headerOperations = ObjectType("HeaderOperations", ["set": .map(.string), "add": .map(.string), "remove": .list(.string)])

    static let headers = ObjectType("Headers", ["request": .object(headerOperations), "response": .object(headerOperations)],
                                    rules: [NetworkingRules.headers])

    static let httpMatch = ObjectType("HTTPMatchRequest", [
        "name": .string, "uri": C.stringMatch, "scheme": C.stringMatch, "method": C.stringMatch, "authority": C.stringMatch,
        "headers": .map(C.stringMatch), "port": .integer, "sourceLabels": .map(.string), "gateways": .list(.string),
        "queryParams": .map(C.stringMatch), "ignoreUriCase": .bool, "withoutHeaders": .map(C.stringMatch),
        "sourceNamespace": .string, "statPrefix": .string,
    ], rules: [C.portRule("port"), NetworkingRules.httpMatch])

    static let httpRoute = ObjectType("HTTPRoute", [
        "name": .string, "match": .list(.object(httpMatch)),
        "route": .list(.object(ObjectType("HTTPRouteDestination", [
            "destination": .object(destination), "weight": .integer(minimum: 0), "headers": .object(headers),
        ], required: ["destination"]))),
        "redirect": .object(ObjectType("HTTPRedirect", [
            "uri": .string, "authority": .string, "port": .integer(minimum: 0), "derivePort": .enumeration(["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"]),
            "scheme": .string, "redirectCode": .integer(minimum: 300, maximum: 399), "prefixRewrite": .string,
        ], rules: [C.oneOf(["port", "derivePort"]), NetworkingRules.redirect])),
        "directResponse": .object(ObjectType("HTTPDirectResponse", [
            "status": .integer(minimum: 0, maximum: 4_294_967_295),
            "body": .object(ObjectType("HTTPBody", ["string": .string, "bytes": .string], rules: [C.oneOf(["string", "bytes"])])),
        ], required: ["status"], rules: [NetworkingRules.directResponse])),
        "delegate": .object(ObjectType("Delegate", ["name": .string(minLength: 1), "namespace": .string], required: ["name"])),
        "rewrite": .object(ObjectType("HTTPRewrite", [
            "uri": .string, "authority": .string,
            "uriRegexRewrite": .object(ObjectType("RegexRewrite", ["match": .string, "rewrite": .string])),
        ], rules: [.require("rewrite may set uri or uriRegexRewrite, not both") { $0["uri"] == nil || $0["uriRegexRewrite"] == nil },
                   NetworkingRules.rewrite])),
        "timeout": .duration(minimumSeconds: 0.001), "retries": .object(ObjectType("HTTPRetry", [
            "attempts": .integer(minimum: 0), "perTryTimeout": .duration(minimumSeconds: 0.001), "retryOn": .string,
            "retryRemoteLocalities": .bool, "backoff": .duration(minimumSeconds: 0.001), "retryIgnorePreviousHosts": .bool,
        ], rules: [IstioRules.retryOn, NetworkingRules.retries, NetworkingRules.millisecondDurations(["perTryTimeout", "backoff"])])),
        "fault": .object(ObjectType("HTTPFaultInjection", [
            "delay": .object(ObjectType("Delay", ["fixedDelay": .duration(minimumSeconds: 0.001), "exponentialDelay": .duration(minimumSeconds: 0.001),
                                                  "percentage": .object(percent), "percent": .integer(minimum: 0, maximum: 100)],
                                        rules: [C.oneOf(["fixedDelay", "exponentialDelay"]), NetworkingRules.delay,
                                                NetworkingRules.millisecondDurations(["fixedDelay"])])),
            "abort": .object(ObjectType("Abort", ["httpStatus": .integer, "grpcStatus": .string, "http2Error": .string, "percentage": .object(percent)],
                                        rules: [C.oneOf(["httpStatus", "grpcStatus", "http2Error"]), NetworkingRules.abort])),
        ], rules: [.require("HTTP fault injection must have an abort and/or a delay") { $0["delay"] != nil || $0["abort"] != nil }])),
        "mirror": .object(destination),
        "mirrors": .list(.object(ObjectType("HTTPMirrorPolicy", ["destination": .object(destination), "percentage": .object(percent)],
                                            required: ["destination"]))),
        "mirrorPercentage": .object(percent), "mirrorPercent": .integer(minimum: 0, maximum: 100),
        "mirror_percent": .integer(minimum: 0, maximum: 4_294_967_295),
        "corsPolicy": .object(ObjectType("CorsPolicy", [
            "allowOrigins": .list(C.stringMatch), "allowOrigin": .list(.string), "allowMethods": .list(.string),
            "allowHeaders": .list(.string), "exposeHeaders": .list(.string), "maxAge": .duration(minimumSeconds: 0.001), "allowCredentials": .bool,
            "unmatchedPreflights": .enumeration(["UNSPECIFIED", "FORWARD", "IGNORE"]),
        ], rules: [
            ObjectRule { cors, path in
                let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*"]
                return (cors["allowMethods"]?.items ?? []).enumerated().compactMap { index, method in
                    methods.contains(method.scalarText ?? "") ? nil
                        : C.problem(method, path + [.key("allowMethods"), .index(index)], "\"\(method.scalarText ?? "")\" is not an HTTP method")
                }
            },
            NetworkingRules.cors,
        ])),
        "headers": .object(headers),
    ], rules: [
        ObjectRule { route, path in
            guard let destinations = route["route"]?.items, destinations.count > 1 else { return [] }
            let total = NetworkingRules.weightSum(destinations)
            guard destinations.contains(where: { $0["weight"]?.int != nil }), total != 100, total != 0 else { return [] }
            return [ValidationProblem(.warning, path: path + [.key("route")], location: route["route"]!.location,
                                      message: "destination weights add up to \(total), not 100; Istio scales them to shares of the total")]
        },
        .require("HTTP route cannot contain both route and redirect") { $0["route"] == nil || $0["redirect"] == nil },
        .require("HTTP route cannot contain both route and directResponse") { $0["route"] == nil || $0["directResponse"] == nil },
        .require("HTTP route cannot contain both redirect and directResponse") { $0["redirect"] == nil || $0["directResponse"] == nil },
        .require("HTTP route cannot contain both rewrite and redirect") { $0["rewrite"] == nil || $0["redirect"] == nil },
        .require("only one of mirror or mirrors can be set") { $0["mirror"] == nil || $0["mirrors"] == nil },
        NetworkingRules.httpRoute, NetworkingRules.redirectPrefixMatches,
    ])

    static let percent = ObjectType("Percent", ["value": .number(minimum: 0, maximum: 100)])

    static let l4Route = ObjectType("RouteDestination", ["destination": .object(destination), "weight": .integer(minimum: 0)],
                                    required: ["destination"])

    static let tlsMatch = ObjectType("TLSMatchAttributes", [
        "sniHosts": .list(.string, minItems: 1), "destinationSubnets": .list(.string), "port": .integer,
        "sourceLabels": .map(.string), "gateways": .list(.string), "sourceNamespace": .string,
    ], required: ["sniHosts"], rules: [C.portRule("port"), NetworkingRules.l4Match])

    static let l4Match = ObjectType("L4MatchAttributes", [
        "destinationSubnets": .list(.string), "port": .integer, "sourceSubnet": .string, "sourceLabels": .map(.string),
        "gateways": .list(.string), "sourceNamespace": .string,
    ], rules: [C.portRule("port"), NetworkingRules.l4Match])

    static let virtualService = SchemaType.object(ObjectType("VirtualService", [
        "hosts": .list(.string), "gateways": .list(.string),
        "http": .list(.object(httpRoute)),
        "tls": .list(.object(ObjectType("TLSRoute", ["match": .list(.object(tlsMatch), minItems: 1), "route": .list(.object(l4Route))],
                                        required: ["match"], rules: [NetworkingRules.l4Route]))),
        "tcp": .list(.object(ObjectType("TCPRoute", ["match": .list(.object(l4Match)), "route": .list(.object(l4Route))],
                                        rules: [NetworkingRules.l4Route]))),
        "exportTo": .list(.string),
    ], rules: [
        .require("http, tcp or tls must be provided in virtual service") { spec in
            ["http", "tcp", "tls"].contains { !(spec[$0]?.items ?? []).isEmpty }
        },
        ObjectRule { spec, path in
            guard !NetworkingRules.appliesToGatewaysOnly(spec) else { return [] }
            return (spec["hosts"]?.items ?? []).enumerated().filter { $0.element.scalarText == "*" }.map { index, host in
                C.problem(host, path + [.key("hosts"), .index(index)], "wildcard host * is not allowed for virtual services bound to the mesh gateway")
            }
        },
        NetworkingRules.virtualService, NetworkingRules.exportTo(serviceEntry: false),
    ]))

    static let serverTLS = ObjectType("ServerTLSSettings", [
        "httpsRedirect": .bool,
        "mode": .enumeration(["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"]),
        "serverCertificate": .string, "privateKey": .string, "caCertificates": .string, "caCrl": .string,
        "credentialName": .string, "credentialNames": .list(.string, minItems: 1, maxItems: 2),
        "tlsCertificates": .list(.object(ObjectType("TLSCertificate", ["serverCertificate": .string, "privateKey": .string, "caCertificates": .string])),
                                 minItems: 1, maxItems: 2),
        "caCertCredentialName": .string, "ecdhCurves": .list(.string), "insecureSkipVerify": .bool,
        "subjectAltNames": .list(.string), "verifyCertificateSpki": .list(.string), "verifyCertificateHash": .list(.string),
        "minProtocolVersion": .enumeration(["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"]),
        "maxProtocolVersion": .enumeration(["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"]),
        "cipherSuites": .list(.string),
    ], rules: [NetworkingRules.serverTLS])

    static let protocols = ["HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "REDIS", "MYSQL", "TCP", "TLS", "UDP", "HTTP_PROXY"]

    static let gateway = SchemaType.object(ObjectType("Gateway", [
        "servers": .list(.object(ObjectType("Server", [
            "port": .object(ObjectType("Port", ["number": .integer, "protocol": .string, "name": .string, "targetPort": .integer],
                                       required: ["number", "protocol", "name"], rules: [
                                           .require("unknown protocol: use HTTP, HTTPS, GRPC, HTTP2, TCP, TLS, MONGO, REDIS or MYSQL", at: "protocol") { port in
                                               guard let name = port["protocol"]?.scalarText else { return true }
                                               return protocols.contains(name.uppercased())
                                           },
                                       ])),
            "bind": .string, "hosts": .list(.string, minItems: 1), "tls": .object(serverTLS), "name": .string, "defaultEndpoint": .string,
        ], required: ["port", "hosts"], rules: [
            .require("server must have TLS settings for HTTPS/TLS protocols", at: "tls") { server in
                let proto = server["port"]?["protocol"]?.scalarText?.uppercased() ?? ""
                return !(proto == "HTTPS" || proto == "TLS") || server["tls"] != nil
            },
            NetworkingRules.server,
        ]))),
        "selector": .map(.string),
    ], rules: [
        NetworkingRules.gateway,
        ObjectRule { spec, path in
            var names: [String: Int] = [:]
            var problems: [ValidationProblem] = []
            for (index, server) in (spec["servers"]?.items ?? []).enumerated() {
                guard let name = server["port"]?["name"]?.scalarText else { continue }
                if let first = names[name] {
                    problems.append(C.problem(server["port"]!["name"]!, path + [.key("servers"), .index(index), .key("port"), .key("name")],
                                              "port names in servers must be unique: \"\(name)\" is also servers[\(first)]"))
                } else {
                    names[name] = index
                }
            }
            return problems
        },
    ]))

    static let sidecarPort = ObjectType("SidecarPort", ["number": .integer(minimum: 0, maximum: 4_294_967_295), "protocol": .string, "name": .string,
                                                        "targetPort": .integer(minimum: 0, maximum: 4_294_967_295)])

    static let sidecar = SchemaType.object(ObjectType("Sidecar", [
        "workloadSelector": .object(ObjectType("WorkloadSelector", ["labels": .map(.string(maxLength: 63))], rules: [
            NetworkingRules.alphaSelector(ownerWords: "the sidecar"),
        ])),
        "ingress": .list(.object(ObjectType("IstioIngressListener", [
            "port": .object(sidecarPort), "bind": .string, "captureMode": .enumeration(["DEFAULT", "IPTABLES", "NONE"]),
            "defaultEndpoint": .string, "tls": .object(serverTLS), "connectionPool": .object(connectionPool),
        ], required: ["port"]))),
        "egress": .list(.object(ObjectType("IstioEgressListener", [
            "port": .object(sidecarPort), "bind": .string, "captureMode": .enumeration(["DEFAULT", "IPTABLES", "NONE"]),
            "hosts": .list(.string, minItems: 1),
        ], required: ["hosts"]))),
        "outboundTrafficPolicy": .object(ObjectType("OutboundTrafficPolicy", [
            "mode": .enumeration(["REGISTRY_ONLY", "ALLOW_ANY"]), "egressProxy": .object(destination),
        ])),
        "inboundConnectionPool": .object(connectionPool),
    ], rules: [NetworkingRules.sidecar]))
}
