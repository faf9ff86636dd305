import ConfigValues
import Foundation
@testable import MeshPilot
import XCTest

/// The pilot on a mesh of 50 services and 100 sidecar pods: every proxy's configuration, timed.
final class PilotPerformanceTests: XCTestCase {
    static func largeMesh(services: Int, podsPerService: Int) throws -> String {
        var documents: [String] = []
        for index in 0..<services {
            let name = "svc\(index)"
            var endpoints = ""
            for pod in 0..<podsPerService {
                let ip = "127.10.\(index).\(pod + 2)"
                let podName = "\(name)-v\(pod % 2 + 1)-5d8f7c9b6-p\(pod)"
                documents.append("""
                apiVersion: v1
                kind: Pod
                metadata: {name: \(podName), namespace: default, labels: {app: \(name), version: v\(pod % 2 + 1)}}
                spec: {serviceAccountName: \(name), containers: [{name: app, ports: [{name: http, containerPort: 8080}]}, {name: istio-proxy}]}
                status: {podIP: \(ip)}
                """)
                endpoints += "- {addresses: [\(ip)], conditions: {ready: true}, targetRef: {kind: Pod, name: \(podName), namespace: default}}\n"
            }
            documents.append("""
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: default}
            spec: {clusterIP: 10.96.1.\(index), selector: {app: \(name)}, ports: [{name: http, port: 8080}, {name: tcp-admin, port: 9\(String(format: "%03d", index))}]}
            """)
            documents.append("""
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: \(name)-x, namespace: default, labels: {kubernetes.io/service-name: \(name)}}
            ports: [{name: http, port: 8080}, {name: tcp-admin, port: 9\(String(format: "%03d", index))}]
            endpoints:
            \(endpoints)
            """)
            if index % 5 == 0 {
                documents.append("""
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: \(name), namespace: default}
                spec: {host: \(name), subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}
                ---
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: \(name), namespace: default}
                spec:
                  hosts: [\(name)]
                  http:
                  - {match: [{headers: {x-canary: {exact: "1"}}}], route: [{destination: {host: \(name), subset: v2}}]}
                  - {route: [{destination: {host: \(name), subset: v1}, weight: 90}, {destination: {host: \(name), subset: v2}, weight: 10}]}
                """)
            }
        }
        return documents.joined(separator: "\n---\n")
    }

    func testEveryProxyOfAHundredPodMesh() throws {
        let snapshot = try PilotFixtures.snapshot(yaml: try Self.largeMesh(services: 50, podsPerService: 2))
        let pilot = Pilot(authority: nil)
        let start = Date()
        let model = MeshModel(snapshot)
        var clusters = 0, listeners = 0, routes = 0
        for workload in model.workloads {
            let node = ProxyNode(kind: .sidecar, ip: workload.ip, podName: workload.name, namespace: workload.namespace)
            let out = pilot.resources(for: node, in: model)
            clusters += out.clusters.count
            listeners += out.listeners.count
            routes += out.routes.count
        }
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "pilot: %d proxies, %d services: %.3f s (%d clusters, %d listeners, %d route configurations)",
                     model.workloads.count, model.services.count, seconds, clusters, listeners, routes))
        XCTAssertEqual(model.workloads.count, 100)
        XCTAssertEqual(clusters, 100 * (50 * 2 + 10 * 2 * 2 + 2 + 3), "per proxy: 2 ports x 50 services, v1/v2 subsets of 10 on both ports, 2 inbound, 3 fixed")
        XCTAssertLessThan(seconds, 60, "a push to 100 proxies must not take minutes")
    }
}
