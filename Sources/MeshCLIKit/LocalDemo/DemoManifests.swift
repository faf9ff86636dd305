/// The objects `meshctl local demo` applies: the shop (its one YAML file, also examples/mesh-demo.yaml) and the
/// rules its steps apply one by one.
enum DemoManifests {
    /// Namespace of the shop, whose pods get the sidecar.
    static let shopNamespace = "shop"
    /// Namespace of the client without a sidecar.
    static let legacyNamespace = "legacy"
    /// The Deployments the demo waits for, as (namespace, name).
    static let deployments: [(namespace: String, name: String)] = [
        (shopNamespace, "frontend"), (shopNamespace, "cart-v1"), (shopNamespace, "cart-v2"), (shopNamespace, "payments"),
        (legacyNamespace, "client"),
    ]
    /// What the demo's requests ask for.
    static let cartURL = "http://cart.shop.svc.cluster.local/"
    /// The cluster names Istio gives cart's subsets (port 80).
    static func subsetCluster(_ version: String) -> String { "outbound|80|\(version)|cart.shop.svc.cluster.local" }

    /// The shop: `kubectl apply -f examples/mesh-demo.yaml` gives the same objects (a test keeps the two equal).
    static let shop = """
        # The shop of `meshctl local demo` (issue 17), also usable by hand on local mode (`meshctl local up`, then
        # `kubectl apply -f examples/mesh-demo.yaml`). Every workload is local mode's built-in echo app (image
        # meshctl/echo), which answers with its pod, namespace and version (the pod's `version` label).
        # Written by `meshctl local demo --manifests > examples/mesh-demo.yaml`.
        apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
          labels:
            istio-injection: enabled
        ---
        # A namespace without injection: its client has no sidecar, so STRICT mTLS in shop refuses it.
        apiVersion: v1
        kind: Namespace
        metadata:
          name: legacy
        \(deployment("frontend", namespace: "shop", app: "frontend", version: "v1"))
        \(deployment("cart-v1", namespace: "shop", app: "cart", version: "v1"))
        \(deployment("cart-v2", namespace: "shop", app: "cart", version: "v2"))
        \(deployment("payments", namespace: "shop", app: "payments", version: "v1"))
        \(deployment("client", namespace: "legacy", app: "client", version: "v1"))
        \(service("frontend"))
        \(service("cart"))
        \(service("payments"))
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata:
          name: cart
          namespace: shop
        spec:
          host: cart.shop.svc.cluster.local
          subsets:
          - name: v1
            labels:
              version: v1
          - name: v2
            labels:
              version: v2

        """

    private static func deployment(_ name: String, namespace: String, app: String, version: String) -> String {
        """
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: \(name)
          namespace: \(namespace)
          labels:
            app: \(app)
            version: \(version)
        spec:
          replicas: 1
          selector:
            matchLabels:
              app: \(app)
              version: \(version)
          template:
            metadata:
              labels:
                app: \(app)
                version: \(version)
            spec:
              containers:
              - name: \(app)
                image: meshctl/echo
                ports:
                - name: http
                  containerPort: 8080
        """
    }

    private static func service(_ name: String) -> String {
        """
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: \(name)
          namespace: shop
          labels:
            app: \(name)
        spec:
          selector:
            app: \(name)
          ports:
          - name: http
            port: 80
            targetPort: http
        """
    }

    /// Step 2's canary: 90% of cart's requests to v1, 10% to v2.
    static let canary = cartVirtualService(abortPercent: nil)

    /// Step 3's fault: half of cart's requests aborted with 503, on top of the canary.
    static let abortHalf = cartVirtualService(abortPercent: 50)
    /// The status step 3's fault answers with.
    static let abortStatus = 503

    /// Step 4's rule: the shop's sidecars accept mutual TLS only.
    static let strictMTLS = """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata:
          name: default
          namespace: shop
        spec:
          mtls:
            mode: STRICT

        """

    private static func cartVirtualService(abortPercent: Int?) -> String {
        let fault = abortPercent.map { percent in
            "    fault:\n      abort:\n        httpStatus: \(abortStatus)\n        percentage:\n          value: \(percent)\n"
        }
        return """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: cart
              namespace: shop
            spec:
              hosts:
              - cart.shop.svc.cluster.local
              http:
              - route:
                - destination:
                    host: cart.shop.svc.cluster.local
                    subset: v1
                  weight: 90
                - destination:
                    host: cart.shop.svc.cluster.local
                    subset: v2
                  weight: 10

            """ + (fault ?? "")
    }
}
