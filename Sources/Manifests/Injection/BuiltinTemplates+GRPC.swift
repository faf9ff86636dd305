// The proxyless gRPC templates: grpc-agent and grpc-simple.
extension BuiltinTemplates {
    /// Proxyless gRPC: the agent alone serves xDS and certificates to the gRPC application.
    static let grpcAgent = #"""
        {{- /* meshctl's grpc-agent template: proxyless gRPC; istio-proxy runs the agent only (no Envoy) and the apps read its xDS bootstrap. */ -}}
        {{- $notes := .ObjectMeta.Annotations }}
        {{- $proxy := .Values.global.proxy }}
        {{- $apps := list }}
        {{- range .Spec.Containers }}{{ if ne .Name "istio-proxy" }}{{ $apps = append $apps .Name }}{{ end }}{{ end }}
        {{- $proxyImage := annotation .ObjectMeta "sidecar.istio.io/proxyImage" $proxy.image }}
        {{- if not (contains "/" $proxyImage) }}{{ $proxyImage = .ProxyImage }}{{ end }}
        {{- $statusPort := annotation .ObjectMeta "status.sidecar.istio.io/port" $proxy.statusPort }}
        {{- $userMounts := fromJSON (default "{}" (index $notes "sidecar.istio.io/userVolumeMount")) }}
        {{- $gke := eq (print .Values.global.caName) "GkeWorkloadCertificate" }}
        metadata:
          labels:
        {{- template "meshctl.canonicalLabels" . }}
          annotations:
            istio.io/rev: {{ default "default" .Revision | quote }}
        {{- template "meshctl.defaultContainers" . }}
            sidecar.istio.io/rewriteAppHTTPProbers: "false"
        spec:
          containers:
          - name: istio-proxy
            image: {{ $proxyImage | quote }}
            ports:
            - containerPort: 15020
              protocol: TCP
              name: mesh-metrics
            args:
            - proxy
            - sidecar
            - "--domain"
        {{- template "meshctl.agentArgs" . }}
        {{- template "meshctl.agentFlags" . }}
            lifecycle:
              postStart:
                exec:
                  command: [pilot-agent, wait, "--url=http://localhost:15020/healthz/ready"]
            env:
            - name: ISTIO_META_GENERATOR
              value: grpc
            - name: OUTPUT_CERTS
              value: /var/lib/istio/data
        {{- template "meshctl.localhostProbes" . }}
        {{- template "meshctl.agentEnv" . }}
        {{- template "meshctl.configEnv" . }}
            - name: ISTIO_META_APP_CONTAINERS
              value: {{ join "," $apps | quote }}
        {{- template "meshctl.nodeEnv" . }}
        {{- with .Values.global.network }}
            - name: ISTIO_META_NETWORK
              value: {{ . | quote }}
        {{- end }}
        {{- with .DeploymentMeta.Name }}
            - name: ISTIO_META_WORKLOAD_NAME
              value: {{ . | quote }}
        {{- end }}
        {{- template "meshctl.owner" . }}
        {{- template "meshctl.meshID" . }}
        {{- template "meshctl.metadataEnv" . }}
            - name: ISTIO_META_DNS_CAPTURE
              value: "false"
            - name: DISABLE_ENVOY
              value: "true"
        {{- template "meshctl.pullPolicy" . }}
        {{- if ne $statusPort "0" }}
            readinessProbe:
              httpGet: {path: /healthz/ready, port: 15020}
              initialDelaySeconds: {{ annotation .ObjectMeta "readiness.status.sidecar.istio.io/initialDelaySeconds" $proxy.readinessInitialDelaySeconds }}
              periodSeconds: {{ annotation .ObjectMeta "readiness.status.sidecar.istio.io/periodSeconds" $proxy.readinessPeriodSeconds }}
              timeoutSeconds: 3
              failureThreshold: {{ annotation .ObjectMeta "readiness.status.sidecar.istio.io/failureThreshold" $proxy.readinessFailureThreshold }}
            resources: {{ template "meshctl.resources" . }}
        {{- end }}
        {{- if or (ne $statusPort "0") $userMounts }}
            volumeMounts:
        {{- end }}
        {{- if ne $statusPort "0" }}
            - {name: workload-socket, mountPath: /var/run/secrets/workload-spiffe-uds}
        {{- template "meshctl.certsMount" . }}
        {{- if eq (print .Values.global.pilotCertProvider) "istiod" }}
            - {name: istiod-ca-cert, mountPath: /var/run/secrets/istio}
        {{- end }}
            - {name: istio-data, mountPath: /var/lib/istio/data}
            - {name: istio-xds, mountPath: /etc/istio/proxy}
            - {name: istio-token, mountPath: /var/run/secrets/tokens}
        {{- if .Values.global.mountMtlsCerts }}
            - {name: istio-certs, mountPath: /etc/certs/, readOnly: true}
        {{- end }}
            - {name: istio-podinfo, mountPath: /etc/istio/pod}
        {{- end }}
        {{- template "meshctl.userMounts" . }}
        {{- range $apps }}
          - name: {{ . | quote }}
            env:
            - name: GRPC_XDS_EXPERIMENTAL_SECURITY_SUPPORT
              value: "true"
            - name: GRPC_XDS_BOOTSTRAP
              value: /etc/istio/proxy/grpc-bootstrap.json
            volumeMounts:
            - {name: istio-data, mountPath: /var/lib/istio/data}
            - {name: istio-xds, mountPath: /etc/istio/proxy}
        {{- template "meshctl.certsMount" $ }}
        {{- end }}
          volumes:
          - name: workload-socket
        {{- if $gke }}
          - name: gke-workload-certificate
            csi: {driver: workloadcertificates.security.cloud.google.com}
        {{- else }}
          - name: workload-certs
        {{- end }}
        {{- template "meshctl.bootstrapVolume" . }}
          - emptyDir: {medium: Memory}
            name: istio-xds
        {{- template "meshctl.podVolumes" . }}
        {{- template "meshctl.mtlsVolume" . }}
        {{- template "meshctl.userVolumes" . }}
        {{- template "meshctl.pullSecrets" . }}
        """#

    /// Proxyless gRPC without an agent: an init container writes the xDS bootstrap the gRPC library reads.
    static let grpcSimple = #"""
        {{- /* meshctl's grpc-simple template: proxyless gRPC with no agent; an init container writes the xDS bootstrap. */ -}}
        metadata:
          annotations:
            sidecar.istio.io/rewriteAppHTTPProbers: "false"
        spec:
          initContainers:
          - name: grpc-bootstrap-init
            image: busybox:1.28
            volumeMounts:
            - {mountPath: /var/lib/grpc/data/, name: grpc-io-proxyless-bootstrap}
            env:
            - name: INSTANCE_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: POD_NAMESPACE
              valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
            - name: ISTIO_NAMESPACE
              value: {{ print .Values.global.istioNamespace "\n" | toJson }}
            command:
            - sh
            - "-c"
            - |-
              NODE_ID="sidecar~${INSTANCE_IP}~${POD_NAME}.${POD_NAMESPACE}~cluster.local"
              SERVER_URI="dns:///istiod.${ISTIO_NAMESPACE}.svc:15010"
              echo '
              {
                "xds_servers": [
                  {
                    "server_uri": "'${SERVER_URI}'",
                    "channel_creds": [{"type": "insecure"}],
                    "server_features" : ["xds_v3"]
                  }
                ],
                "node": {
                  "id": "'${NODE_ID}'",
                  "metadata": {
                    "GENERATOR": "grpc"
                  }
                }
              }' > /var/lib/grpc/data/bootstrap.json
          containers:
        {{- range .Spec.Containers }}
          - name: {{ .Name | quote }}
            env:
            - name: GRPC_XDS_BOOTSTRAP
              value: /var/lib/grpc/data/bootstrap.json
            - name: GRPC_GO_LOG_VERBOSITY_LEVEL
              value: "99"
            - name: GRPC_GO_LOG_SEVERITY_LEVEL
              value: info
            volumeMounts:
            - {mountPath: /var/lib/grpc/data/, name: grpc-io-proxyless-bootstrap}
        {{- end }}
          volumes:
          - name: grpc-io-proxyless-bootstrap
            emptyDir: {}
        """#
}
