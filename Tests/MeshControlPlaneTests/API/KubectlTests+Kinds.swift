import Foundation
import XCTest
@testable import MeshControlPlane
import Manifests
import KubeClient

/// The real kubectl and the kinds beyond Istio's: RBAC, networking, policy, Gateway API, and any applied CRD.
extension KubectlTests {
    func testMoreBuiltInKindsAndTheGatewayAPI() throws {
        var result = try kubectl(["apply", "-f", "-"], input: """
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {name: reader, namespace: default}
            rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: reader, namespace: default}
            subjects: [{kind: ServiceAccount, name: bot, namespace: default}]
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata: {name: mesh-viewer}
            rules: [{apiGroups: [networking.istio.io], resources: ["*"], verbs: [get]}]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRoleBinding
            metadata: {name: mesh-viewer}
            subjects: [{kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io}]
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: mesh-viewer}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: web, namespace: default}
            spec: {rules: [{host: web.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]}
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny, namespace: default}
            spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata: {name: data, namespace: default}
            spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
            ---
            apiVersion: autoscaling/v2
            kind: HorizontalPodAutoscaler
            metadata: {name: web, namespace: default}
            spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 1, maxReplicas: 5}
            ---
            apiVersion: policy/v1
            kind: PodDisruptionBudget
            metadata: {name: web, namespace: default}
            spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            endpoints: [{addresses: [10.1.0.4]}]
            ports: [{name: http, port: 80, protocol: TCP}]
            ---
            apiVersion: coordination.k8s.io/v1
            kind: Lease
            metadata: {name: leader, namespace: default}
            spec: {holderIdentity: pod-a, leaseDurationSeconds: 15}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: GatewayClass
            metadata: {name: istio}
            spec: {controllerName: istio.io/gateway-controller}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: ingress, namespace: default}
            spec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: web, namespace: default}
            spec: {parentRefs: [{name: ingress}], hostnames: [web.example.com], rules: [{backendRefs: [{name: web, port: 80}]}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: api, namespace: default}
            spec: {parentRefs: [{name: ingress}], rules: [{backendRefs: [{name: api, port: 9000}]}]}
            ---
            apiVersion: gateway.networking.k8s.io/v1beta1
            kind: ReferenceGrant
            metadata: {name: allow, namespace: default}
            spec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: other}], to: [{group: "", kind: Service}]}
            ---
            apiVersion: admissionregistration.k8s.io/v1
            kind: ValidatingAdmissionPolicy
            metadata: {name: safe-upgrades}
            spec: {failurePolicy: Fail, validations: [{expression: "true"}]}

            """)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output.split(separator: "\n").filter { $0.hasSuffix(" created") }.count, 17, result.output)

        result = try kubectl(["get", "rolebinding", "reader", "-o", "wide", "--no-headers"])
        XCTAssertTrue(result.output.contains("Role/reader") && result.output.contains("default:bot"), result.output)
        result = try kubectl(["get", "hpa,pdb,lease,pvc", "--no-headers"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("Deployment/web") && result.output.contains("pod-a") && result.output.contains("RWO"), result.output)
        result = try kubectl(["get", "httproutes,gtw,gc"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("[\"web.example.com\"]") && result.output.contains("istio.io/gateway-controller"), result.output)
        XCTAssertEqual(try kubectl(["get", "gw"]).output, "No resources found in default namespace.\n", "gw is still Istio's Gateway")

        result = try kubectl(["apply", "-f", "-"], input: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: default}\n"
                             + "spec: {podSelector: {}, policyTypes: [Sideways]}\n")
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("spec.policyTypes[0]: Unsupported value: \"Sideways\""), result.output)
    }

    static let widgetDefinition = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
          versions:
          - name: v1
            served: true
            storage: true
            subresources: {status: {}}
            additionalPrinterColumns:
            - {name: Size, type: integer, jsonPath: .spec.size}
            - {name: Color, type: string, jsonPath: .spec.color}
            - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    required: [size]
                    properties:
                      size: {type: integer, minimum: 1}
                      color: {type: string, enum: [red, blue]}
                      extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
                  status:
                    type: object
                    properties: {ready: {type: boolean}}

        """

    func testAppliedCRDIsServedWithItsSchemaAndColumns() throws {
        let directory = self.directory!
        let definition = directory.appendingPathComponent("widget-crd.yaml"), widget = directory.appendingPathComponent("widget.yaml")
        try Self.widgetDefinition.write(to: definition, atomically: true, encoding: .utf8)
        try "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 3, color: red, extra: {any: [1, 2]}}\n"
            .write(to: widget, atomically: true, encoding: .utf8)
        // kubectl learns the API first, so that the new kind is unknown to its cache until it asks again.
        XCTAssertEqual(try kubectl(["get", "ns", "default"]).status, 0)
        var result = try kubectl(["apply", "-f", definition.path])
        XCTAssertEqual(result.output, "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created\n")
        result = try kubectl(["get", "crd", "widgets.example.com"])
        XCTAssertEqual(result.output.split(separator: "\n").first.map { $0.split(separator: " ", omittingEmptySubsequences: true) }, ["NAME", "CREATED", "AT"],
                       result.output)
        result = try kubectl(["wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s"])
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["apply", "-f", widget.path])
        XCTAssertEqual(result.output, "widget.example.com/w1 created\n")
        result = try kubectl(["get", "widgets"])
        XCTAssertEqual(result.status, 0, result.output)
        let lines = result.output.split(separator: "\n")
        XCTAssertEqual(lines.first.map { $0.split(separator: " ", omittingEmptySubsequences: true) }, ["NAME", "SIZE", "COLOR", "AGE"], result.output)
        XCTAssertEqual(lines.dropFirst().first.map { Array($0.split(separator: " ", omittingEmptySubsequences: true).prefix(3)) }, ["w1", "3", "red"], result.output)
        XCTAssertEqual(try kubectl(["get", "wd", "w1", "-o", "jsonpath={.spec.extra.any}"]).output, "[1,2]", "preserved fields are kept")

        // A status subresource: only writes to it set the status.
        result = try kubectl(["patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", #"{"status":{"ready":true}}"#])
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["patch", "widget", "w1", "--type=merge", "-p", #"{"spec":{"size":4},"status":{"ready":false}}"#])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(try kubectl(["get", "wd", "w1", "-o", "jsonpath={.spec.size} {.status.ready} {.metadata.generation}"]).output, "4 true 2")

        for (body, expected) in [
            ("spec: {size: big}", "spec.size: Invalid value: \"big\": spec.size in body must be of type integer: \"string\""),
            ("spec: {size: 0}", "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"),
            ("spec: {size: 2, color: green}", "spec.color: Unsupported value: \"green\": supported values: \"red\", \"blue\""),
            ("spec: {color: red}", "spec.size: Required value"),
            ("spec: {size: 2, shape: round}", "strict decoding error: unknown field \"spec.shape\""),
        ] {
            result = try kubectl(["apply", "-f", "-"], input: "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: bad, namespace: default}\n\(body)\n")
            XCTAssertEqual(result.status, 1, result.output)
            XCTAssertTrue(result.output.contains(expected), "\(body): \(result.output)")
        }
        result = try kubectl(["apply", "--validate=false", "-f", "-"], input: "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: pruned, namespace: default}\n"
                             + "spec: {size: 2, shape: round}\n")
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(try kubectl(["get", "widget", "pruned", "-o", "jsonpath={.spec}"]).output, "{\"size\":2}", "unknown fields are pruned")

        result = try kubectl(["delete", "-f", definition.path])
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["get", "widgets.example.com"])
        XCTAssertEqual(result.status, 1, "the kind goes with its definition: \(result.output)")
    }
}

/// The real kubectl's everyday reads: get all, field selectors, auth, wide output; and the token scheme's case.
extension KubectlTests {
    func testGetAllFieldSelectorsAuthAndWideColumns() throws {
        var result = try kubectl(["apply", "-f", "-"], input: Self.deployment + """
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings, namespace: default}
            data: {a: b}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: tls, namespace: default}
            type: kubernetes.io/tls
            data: {tls.crt: "", tls.key: ""}
            ---
            apiVersion: v1
            kind: Event
            metadata: {name: web.1, namespace: default}
            involvedObject: {kind: Deployment, name: web, namespace: default}
            reason: ScalingReplicaSet
            message: Scaled up
            type: Normal

            """)
        XCTAssertEqual(result.status, 0, result.output)

        result = try kubectl(["get", "all"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("deployment.apps/web"), result.output)
        XCTAssertTrue(result.output.contains("service/istiod") == false && !result.output.contains("configmap"), "only the all category: \(result.output)")

        result = try kubectl(["get", "events", "--field-selector", "involvedObject.kind=Deployment,involvedObject.name=web", "-o", "name"])
        XCTAssertEqual(result.output, "event/web.1\n")
        XCTAssertEqual(try kubectl(["get", "secrets", "--field-selector", "type=kubernetes.io/tls", "-o", "name"]).output, "secret/tls\n")
        XCTAssertEqual(try kubectl(["get", "pods", "--field-selector", "status.phase=Running"]).output, "No resources found in default namespace.\n")
        try kubectl(["run", "box", "--image=busybox", "--restart=Never"])
        XCTAssertEqual(try kubectl(["get", "pods", "--field-selector", "status.phase=Pending,spec.nodeName=", "-o", "name"]).output, "pod/box\n",
                       "a new pod is Pending and on no node")
        result = try kubectl(["get", "configmaps", "--field-selector", "data.a=b"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.output.contains("field label not supported: data.a"), result.output)

        result = try kubectl(["get", "deploy", "web", "-o", "wide"])
        XCTAssertEqual(result.output.split(separator: "\n").first.map { $0.split(separator: " ", omittingEmptySubsequences: true) },
                       ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"], result.output)
        XCTAssertTrue(result.output.contains("nginx:1.27") && result.output.contains("app=web"), result.output)

        XCTAssertEqual(try kubectl(["auth", "can-i", "create", "deployments"]).output, "yes\n")
        XCTAssertEqual(try kubectl(["auth", "can-i", "delete", "virtualservices", "-n", "istio-system"]).output, "yes\n")
        result = try kubectl(["auth", "whoami"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("meshctl-local-admin") && result.output.contains("system:masters"), result.output)
    }

    func testBearerSchemeIsCaseInsensitive() throws {
        let plane = try XCTUnwrap(self.plane)
        let client = try CurlClient(certificateAuthorities: plane.authorityPEM, timeoutSeconds: 10)
        for scheme in ["bearer", "BEARER", "Bearer"] {
            let response = try client.perform(HTTPClientRequest(method: "GET", url: plane.url + "/api/v1/namespaces/default",
                                                                headers: [("Authorization", "\(scheme) \(plane.token)")]))
            XCTAssertEqual(response.status, 200, scheme)
        }
        let wrong = try client.perform(HTTPClientRequest(method: "GET", url: plane.url + "/api/v1/namespaces/default",
                                                         headers: [("Authorization", "Basic \(plane.token)")]))
        XCTAssertEqual(wrong.status, 401)
    }
}

/// `kubectl explain` over the server's OpenAPI v3 schemas.
extension KubectlTests {
    func testExplainBuiltInIstioAndCustomKinds() throws {
        var result = try kubectl(["explain", "deployment.spec.replicas"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("GROUP:      apps") && result.output.contains("KIND:       Deployment"), result.output)
        XCTAssertTrue(result.output.contains("FIELD: replicas <integer>") && result.output.contains("Number of pods wanted"), result.output)

        result = try kubectl(["explain", "virtualservice.spec"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("networking.istio.io") && result.output.contains("FIELD: spec <Object>"), result.output)
        for field in ["hosts\t<[]string>", "http\t<[]Object>", "gateways\t<[]string>"] {
            XCTAssertTrue(result.output.contains(field), "\(field): \(result.output)")
        }

        result = try kubectl(["explain", "pods.spec.containers.image"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("Container image reference"), result.output)

        try kubectl(["apply", "-f", "-"], input: Self.widgetDefinition)
        result = try kubectl(["explain", "widgets.spec"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("size\t<integer> -required-") && result.output.contains("color\t<string>"), result.output)
    }
}

/// Server-side apply with managedFields: owners, conflicts, forced takeovers and fields dropped from the file.
extension KubectlTests {
    func testServerSideApplyTracksManagersConflictsAndPrunes() throws {
        let file = directory.appendingPathComponent("settings.yaml")
        func write(_ data: String) throws {
            try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {\(data)}\n".write(to: file, atomically: true, encoding: .utf8)
        }
        try write("mode: calm, level: \"1\"")
        var result = try kubectl(["apply", "--server-side", "--field-manager=team-a", "-f", file.path])
        XCTAssertEqual(result.output, "configmap/settings serverside-applied\n")
        result = try kubectl(["get", "cm", "settings", "--show-managed-fields", "-o", "json"])
        let managed = try XCTUnwrap(JSONValue.parse(result.output)["metadata"]?["managedFields"]?.array)
        XCTAssertEqual(managed.count, 1, result.output)
        XCTAssertEqual(managed.first?["manager"]?.string, "team-a")
        XCTAssertEqual(managed.first?["operation"]?.string, "Apply")
        XCTAssertEqual(managed.first?["fieldsType"]?.string, "FieldsV1")
        XCTAssertEqual(managed.first?["fieldsV1"]?.serialized, #"{"f:data":{".":{},"f:level":{},"f:mode":{}}}"#)

        // Another manager sets a different value of a field team-a owns: a conflict, unless forced.
        let other = directory.appendingPathComponent("other.yaml")
        try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {mode: loud, owner: b}\n"
            .write(to: other, atomically: true, encoding: .utf8)
        result = try kubectl(["apply", "--server-side", "--field-manager=team-b", "-f", other.path])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("Apply failed with 1 conflict: conflict with \"team-a\" using v1: .data.mode"), result.output)
        XCTAssertEqual(try kubectl(["get", "cm", "settings", "-o", "jsonpath={.data.mode}"]).output, "calm", "nothing changed")
        result = try kubectl(["apply", "--server-side", "--field-manager=team-b", "--force-conflicts", "-f", other.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(try kubectl(["get", "cm", "settings", "-o", "jsonpath={.data.mode} {.data.owner} {.data.level}"]).output, "loud b 1")

        // team-a drops level from its file: level goes (only team-a owned it); mode stays (team-b owns it now).
        try write("mode: loud")
        result = try kubectl(["apply", "--server-side", "--field-manager=team-a", "-f", file.path])
        XCTAssertEqual(result.status, 0, result.output)
        try write("")
        result = try kubectl(["apply", "--server-side", "--field-manager=team-a", "-f", file.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(try kubectl(["get", "cm", "settings", "-o", "jsonpath={.data}"]).output, #"{"mode":"loud","owner":"b"}"#)

        // An Update (kubectl label) records its manager too.
        XCTAssertEqual(try kubectl(["label", "cm", "settings", "tier=front"]).status, 0)
        result = try kubectl(["get", "cm", "settings", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}"])
        XCTAssertEqual(Set(result.output.split(separator: " ")), ["team-a", "team-b", "kubectl-label"], "team-a still applies data: {}: \(result.output)")
    }
}
