// The gateway template: a pod that runs the proxy as a router.
extension BuiltinTemplates {
    /// A gateway pod: the proxy is the workload (`proxy router`), with no traffic capture.
    static let gateway = #"""
        {{- /* meshctl's gateway template: the pod exists to run the proxy as a router; no traffic capture. */ -}}
        {{- $notes := .ObjectMeta.Annotations }}
        {{- $proxy := .Values.global.proxy }}
        {{- $apps := list }}
        {{- range .Spec.Containers }}{{ if ne .Name "istio-proxy" }}{{ $apps = append $apps .Name }}{{ end }}{{ end }}
        {{- $proxyImage := annotation .ObjectMeta "sidecar.istio.io/proxyImage" $proxy.image }}
        {{- if not (contains "/" $proxyImage) }}{{ $proxyImage = .ProxyImage }}{{ end }}
        metadata:
          labels:
        {{- template "meshctl.canonicalLabels" . }}
          annotations:
            istio.io/rev: {{ default "default" .Revision | quote }}
        {{- template "meshctl.defaultContainers" . }}
        spec:
        {{- if .Values.gateways.securityContext }}
          securityContext: {{ toJson .Values.gateways.securityContext }}
        {{- else }}
          securityContext:
            sysctls:
            - name: net.ipv4.ip_unprivileged_port_start
              value: "0"
        {{- end }}
          containers:
          - name: istio-proxy
            image: {{ $proxyImage | quote }}
            ports:
            - containerPort: 15090
              protocol: TCP
              name: http-envoy-prom
            args:
            - proxy
            - router
            - "--domain"
        {{- template "meshctl.agentArgs" . }}
        {{- template "meshctl.agentFlags" . }}
        {{- with $proxy.lifecycle }}
            lifecycle: {{ toJson . }}
        {{- end }}
            securityContext:
              runAsUser: {{ .ProxyUID }}
              runAsGroup: {{ .ProxyGID }}
            env:
        {{- template "meshctl.localhostProbes" . }}
        {{- template "meshctl.agentEnv" . }}
            - name: ISTIO_CPU_LIMIT
              valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: "1"}}
        {{- template "meshctl.configEnv" . }}
            - name: GOMEMLIMIT
              valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: "1"}}
        {{- template "meshctl.compliance" . }}
            - name: ISTIO_META_APP_CONTAINERS
              value: {{ join "," $apps | quote }}
        {{- template "meshctl.nodeEnv" . }}
            - name: ISTIO_META_INTERCEPTION_MODE
              value: {{ print .ProxyConfig.InterceptionMode | quote }}
        {{- with .Values.global.network }}
            - name: ISTIO_META_NETWORK
              value: {{ . | quote }}
        {{- end }}
        {{- with .DeploymentMeta.Name }}
            - name: ISTIO_META_WORKLOAD_NAME
              value: {{ . | quote }}
        {{- end }}
        {{- template "meshctl.owner" . }}
        {{- template "meshctl.bootstrapOverride" . }}
        {{- template "meshctl.meshID" . }}
        {{- template "meshctl.metadataEnv" . }}
        {{- template "meshctl.pullPolicy" . }}
            readinessProbe:
              httpGet: {path: /healthz/ready, port: 15021}
              initialDelaySeconds: {{ $proxy.readinessInitialDelaySeconds }}
              periodSeconds: {{ $proxy.readinessPeriodSeconds }}
              timeoutSeconds: 3
              failureThreshold: {{ $proxy.readinessFailureThreshold }}
            volumeMounts:
            - {name: workload-socket, mountPath: /var/run/secrets/workload-spiffe-uds}
            - {name: credential-socket, mountPath: /var/run/secrets/credential-uds}
        {{- template "meshctl.certsMount" . }}
        {{- if eq (print .Values.global.pilotCertProvider) "istiod" }}
            - {name: istiod-ca-cert, mountPath: /var/run/secrets/istio}
        {{- end }}
            - {name: istio-data, mountPath: /var/lib/istio/data}
        {{- if isset $notes "sidecar.istio.io/bootstrapOverride" }}
            - {name: custom-bootstrap-volume, mountPath: /etc/istio/custom-bootstrap}
        {{- end }}
            - {name: istio-envoy, mountPath: /etc/istio/proxy}
            - {name: istio-token, mountPath: /var/run/secrets/tokens}
        {{- if .Values.global.mountMtlsCerts }}
            - {name: istio-certs, mountPath: /etc/certs/, readOnly: true}
        {{- end }}
            - {name: istio-podinfo, mountPath: /etc/istio/pod}
          volumes:
          - name: workload-socket
          - name: credential-socket
            emptyDir: {}
        {{- if eq (print .Values.global.caName) "GkeWorkloadCertificate" }}
          - name: gke-workload-certificate
            csi: {driver: workloadcertificates.security.cloud.google.com}
        {{- else }}
          - name: workload-certs
            emptyDir: {}
        {{- end }}
        {{- template "meshctl.bootstrapVolume" . }}
          - emptyDir: {medium: Memory}
            name: istio-envoy
        {{- template "meshctl.podVolumes" . }}
        {{- template "meshctl.mtlsVolume" . }}
        {{- template "meshctl.pullSecrets" . }}
        """#
}
