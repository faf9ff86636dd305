import Foundation
import XCTest
@testable import MeshControlPlane
import Manifests

/// The real kubectl and built-in kinds stored as kube-apiserver stores them: field validation, defaults, rules.
extension KubectlTests {
    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: default}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]

        """

    func testUnknownFieldsAreRefusedWarnedOrDroppedAsKubectlAsks() throws {
        let typo = Self.deployment.replacingOccurrences(of: "  replicas: 2", with: "  replica: 2")
        var result = try kubectl(["apply", "-f", "-"], input: typo)
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("strict decoding error: unknown field \"spec.replica\""), result.output)
        XCTAssertTrue(result.output.contains("BadRequest"), result.output)
        XCTAssertEqual(try kubectl(["get", "deploy", "web"]).status, 1, "nothing is stored")

        result = try kubectl(["apply", "--validate=warn", "-f", "-"], input: typo)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("Warning: unknown field \"spec.replica\""), result.output)
        XCTAssertEqual(try kubectl(["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]).output, "1", "the unknown field is dropped, replicas defaulted")

        result = try kubectl(["apply", "--validate=false", "-f", "-"], input: typo.replacingOccurrences(of: "name: web, namespace", with: "name: quiet, namespace"))
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertFalse(result.output.contains("Warning"), result.output)

        result = try kubectl(["apply", "-f", "-"], input: Self.deployment.replacingOccurrences(of: "replicas: 2", with: "replicas: two"))
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("spec.replicas: Invalid value: \"two\": spec.replicas in body must be of type integer: \"string\""), result.output)
    }

    func testDeploymentDefaultsSelectorRulesAndRolloutStatus() throws {
        var result = try kubectl(["apply", "-f", "-"], input: Self.deployment)
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["get", "deploy", "web", "-o", "jsonpath={.spec.strategy.type} {.spec.strategy.rollingUpdate.maxSurge} {.spec.revisionHistoryLimit} "
                              + "{.spec.progressDeadlineSeconds} {.spec.template.spec.containers[0].imagePullPolicy} {.spec.template.spec.restartPolicy} "
                              + "{.metadata.generation} {.status.observedGeneration}"])
        XCTAssertEqual(result.output, "RollingUpdate 25% 10 600 IfNotPresent Always 1 1")

        // No controller runs pods: rollout status says so truthfully and gives up at its timeout.
        result = try kubectl(["rollout", "status", "deployment/web", "--timeout=1s"])
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("0 out of 2 new replicas have been updated"), result.output)
        // With no replicas wanted, it is rolled out.
        XCTAssertEqual(try kubectl(["scale", "deployment", "web", "--replicas=0"]).status, 0)
        result = try kubectl(["rollout", "status", "deployment/web", "--timeout=5s"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output, "deployment \"web\" successfully rolled out\n")

        result = try kubectl(["apply", "-f", "-"], input: Self.deployment.replacingOccurrences(of: "metadata: {labels: {app: web}}", with: "metadata: {labels: {app: other}}")
            .replacingOccurrences(of: "name: web, namespace", with: "name: mismatch, namespace"))
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("The Deployment \"mismatch\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: "
                                             + "`selector` does not match template `labels`"), result.output)
        result = try kubectl(["apply", "-f", "-"], input: Self.deployment.replacingOccurrences(of: "{app: web}", with: "{app: web2}"))
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("spec.selector: Invalid value") && result.output.contains("field is immutable"), result.output)
    }

    func testServiceDefaultsAndSecretStringData() throws {
        var result = try kubectl(["apply", "-f", "-"], input: """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: default}
            spec:
              selector: {app: web}
              ports: [{name: http, port: 80}]
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: creds, namespace: default}
            stringData: {password: s3cr3t}

            """)
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["get", "svc", "web", "-o", "jsonpath={.spec.type} {.spec.sessionAffinity} {.spec.ports[0].protocol} {.spec.ports[0].targetPort} {.spec.clusterIP}"])
        let parts = result.output.split(separator: " ")
        XCTAssertEqual(parts.prefix(4), ["ClusterIP", "None", "TCP", "80"], result.output)
        // Local mode's service range, 127.96.0.0/12, where its service proxy listens.
        XCTAssertTrue(parts.count == 5 && parts[4].hasPrefix("127.") && (96...111).contains(Int(parts[4].split(separator: ".")[1]) ?? 0), result.output)
        let address = String(parts[4])
        // A later apply leaves the address as it was.
        XCTAssertEqual(try kubectl(["label", "svc", "web", "tier=front"]).status, 0)
        XCTAssertEqual(try kubectl(["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]).output, address)

        result = try kubectl(["create", "-f", "-"], input: "apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: default}\n"
                             + "spec: {type: LoadBalancer, selector: {app: web}, ports: [{name: http, port: 80}]}\n")
        XCTAssertEqual(result.status, 0, result.output)
        result = try kubectl(["get", "svc", "edge", "--no-headers"])
        let columns = result.output.split(separator: " ", omittingEmptySubsequences: true)
        XCTAssertTrue(columns.count > 4 && columns[3] == "<pending>" && columns[4].hasPrefix("80:3") && columns[4].hasSuffix("/TCP"), result.output)

        result = try kubectl(["get", "secret", "creds", "-o", "json"])
        let secret = try JSONValue.parse(result.output)
        XCTAssertEqual(secret["data"]?["password"]?.string, "czNjcjN0")
        XCTAssertNil(secret["stringData"], "stringData is folded into data and not kept")
        XCTAssertEqual(secret["type"]?.string, "Opaque")
    }
}

extension KubectlTests {
    func testIstioKindsTreatUnknownFieldsAsKubectlAsks() throws {
        let typo = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, namespace: default}\nspec: {hosts: [web], hostz: [x], http: [{route: [{destination: {host: web}}]}]}\n"
        var result = try kubectl(["apply", "-f", "-"], input: typo)
        XCTAssertEqual(result.status, 1, result.output)
        XCTAssertTrue(result.output.contains("VirtualService in version \"v1\" cannot be handled as a VirtualService: strict decoding error: unknown field \"spec.hostz\""),
                      result.output)
        result = try kubectl(["apply", "--validate=false", "-f", "-"], input: typo)
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(try kubectl(["get", "vs", "web", "-o", "jsonpath={.spec.hosts} [{.spec.hostz}]"]).output, #"["web"] []"#,
                       "pruned, as a CRD's unknown fields are")
    }
}
