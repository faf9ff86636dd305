// The sidecar template: what an application pod gets.
extension BuiltinTemplates {
    /// An application pod: `istio-init` sets up traffic capture and `istio-proxy` runs beside the app (in the init
    /// containers with `restartPolicy: Always` when native sidecars are on).
    static let sidecar = #"""
        {{- /* meshctl's sidecar template: an application pod gets istio-init (traffic capture) and the istio-proxy container. */ -}}
        {{- $notes := .ObjectMeta.Annotations }}
        {{- $labels := .ObjectMeta.Labels }}
        {{- $proxy := .Values.global.proxy }}
        {{- $meshMode := print .ProxyConfig.InterceptionMode }}
        {{- $mode := annotation .ObjectMeta "sidecar.istio.io/interceptionMode" $meshMode }}
        {{- $tproxy := eq $mode "TPROXY" }}
        {{- $native := .NativeSidecars }}
        {{- with index $notes "sidecar.istio.io/nativeSidecar" }}{{ $native = ne . "false" }}{{ end }}
        {{- $cni := .Values.pilot.cni.enabled }}
        {{- $bindService := eq (annotation .ObjectMeta "sidecar.istio.io/capNetBindService" $proxy.capNetBindService) "true" }}
        {{- $hold := and (or .ProxyConfig.GetHoldApplicationUntilProxyStarts.GetValue $proxy.holdApplicationUntilProxyStarts) (not $native) }}
        {{- $statusPort := annotation .ObjectMeta "status.sidecar.istio.io/port" $proxy.statusPort }}
        {{- $inboundExcluded := excludeInboundPort $statusPort (annotation .ObjectMeta "traffic.sidecar.istio.io/excludeInboundPorts" $proxy.excludeInboundPorts) }}
        {{- $includeIPs := annotation .ObjectMeta "traffic.sidecar.istio.io/includeOutboundIPRanges" $proxy.includeIPRanges }}
        {{- $excludeIPs := annotation .ObjectMeta "traffic.sidecar.istio.io/excludeOutboundIPRanges" $proxy.excludeIPRanges }}
        {{- $includeInbound := annotation .ObjectMeta "traffic.sidecar.istio.io/includeInboundPorts" $proxy.includeInboundPorts }}
        {{- $hasIncludeOutbound := or (isset $notes "traffic.sidecar.istio.io/includeOutboundPorts") (ne (print (default "" $proxy.includeOutboundPorts)) "") }}
        {{- $includeOutbound := annotation .ObjectMeta "traffic.sidecar.istio.io/includeOutboundPorts" $proxy.includeOutboundPorts }}
        {{- $hasExcludeOutbound := or (isset $notes "traffic.sidecar.istio.io/excludeOutboundPorts") (ne (print (default "" $proxy.excludeOutboundPorts)) "") }}
        {{- $excludeOutbound := annotation .ObjectMeta "traffic.sidecar.istio.io/excludeOutboundPorts" $proxy.excludeOutboundPorts }}
        {{- $agentLog := annotation .ObjectMeta "sidecar.istio.io/agentLogLevel" .Values.global.logging.level }}
        {{- $metadata := .ProxyConfig.ProxyMetadata }}
        {{- $apps := list }}
        {{- range .Spec.Containers }}{{ if ne .Name "istio-proxy" }}{{ $apps = append $apps .Name }}{{ end }}{{ end }}
        {{- $canonical := default "" (coalesce (index $labels "service.istio.io/canonical-name") (index $labels "app.kubernetes.io/name") (index $labels "app") .DeploymentMeta.Name) | trunc 63 | trimAll "-_." }}
        {{- $proxyImage := annotation .ObjectMeta "sidecar.istio.io/proxyImage" $proxy.image }}
        {{- if not (contains "/" $proxyImage) }}{{ $proxyImage = .ProxyImage }}{{ end }}
        {{- $initImage := annotation .ObjectMeta "sidecar.istio.io/proxyImage" .Values.global.proxy_init.image }}
        {{- if not (contains "/" $initImage) }}{{ $initImage = .ProxyInitImage }}{{ end }}
        {{- $lightstep := and (eq (print $proxy.tracer) "lightstep") .ProxyConfig.GetTracing.GetTlsSettings }}
        metadata:
          labels:
            security.istio.io/tlsMode: {{ default "istio" (index $labels "security.istio.io/tlsMode") | quote }}
        {{- if eq (print (index $metadata "ISTIO_META_ENABLE_HBONE")) "true" }}
            networking.istio.io/tunnel: {{ default "http" (index $labels "networking.istio.io/tunnel") | quote }}
        {{- end }}
            service.istio.io/canonical-name: {{ $canonical | quote }}
            service.istio.io/canonical-revision: {{ default "latest" (coalesce (index $labels "service.istio.io/canonical-revision") (index $labels "app.kubernetes.io/version") (index $labels "version")) | quote }}
          annotations:
            istio.io/rev: {{ default "default" .Revision | quote }}
        {{- template "meshctl.defaultContainers" . }}
        {{- if $cni }}
        {{- if eq (print .Values.pilot.cni.provider) "multus" }}
            k8s.v1.cni.cncf.io/networks: {{ appendMultusNetwork (default "" (index $notes "k8s.v1.cni.cncf.io/networks")) "default/istio-cni" | quote }}
        {{- end }}
            sidecar.istio.io/interceptionMode: {{ $mode | quote }}
        {{- with $includeIPs }}
            traffic.sidecar.istio.io/includeOutboundIPRanges: {{ . | quote }}
        {{- end }}
        {{- with $excludeIPs }}
            traffic.sidecar.istio.io/excludeOutboundIPRanges: {{ . | quote }}
        {{- end }}
            traffic.sidecar.istio.io/includeInboundPorts: {{ $includeInbound | quote }}
            traffic.sidecar.istio.io/excludeInboundPorts: {{ $inboundExcluded | quote }}
        {{- if $hasIncludeOutbound }}
            traffic.sidecar.istio.io/includeOutboundPorts: {{ $includeOutbound | quote }}
        {{- end }}
        {{- if $hasExcludeOutbound }}
            traffic.sidecar.istio.io/excludeOutboundPorts: {{ $excludeOutbound | quote }}
        {{- end }}
        {{- range $name := list "traffic.sidecar.istio.io/kubevirtInterfaces" "istio.io/reroute-virtual-interfaces" "traffic.sidecar.istio.io/excludeInterfaces" }}
        {{- with index $notes $name }}
            {{ $name }}: {{ . | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        spec:
          initContainers:{{ if and (eq $mode "NONE") (not $native) }} []{{ end }}
        {{- if ne $mode "NONE" }}
          - name: {{ if $cni }}istio-validation{{ else }}istio-init{{ end }}
            image: {{ $initImage | quote }}
            args:
            - istio-iptables
            - "-p"
            - {{ if .MeshConfig.ProxyListenPort }}{{ .MeshConfig.ProxyListenPort | quote }}{{ else }}"15001"{{ end }}
            - "-z"
            - {{ if .MeshConfig.ProxyInboundListenPort }}{{ .MeshConfig.ProxyInboundListenPort | quote }}{{ else }}"15006"{{ end }}
            - "-u"
            - {{ if $tproxy }}"1337"{{ else }}{{ .ProxyUID | quote }}{{ end }}
            - "-m"
            - {{ $mode | quote }}
            - "-i"
            - {{ $includeIPs | quote }}
            - "-x"
            - {{ $excludeIPs | quote }}
            - "-b"
            - {{ $includeInbound | quote }}
            - "-d"
            - {{ if $inboundExcluded }}{{ print "15090,15021," $inboundExcluded | quote }}{{ else }}"15090,15021"{{ end }}
        {{- if $hasIncludeOutbound }}
            - "-q"
            - {{ $includeOutbound | quote }}
        {{- end }}
        {{- if $hasExcludeOutbound }}
            - "-o"
            - {{ $excludeOutbound | quote }}
        {{- end }}
        {{- with coalesce (index $notes "istio.io/reroute-virtual-interfaces") (index $notes "traffic.sidecar.istio.io/kubevirtInterfaces") }}
            - "-k"
            - {{ . | quote }}
        {{- end }}
        {{- if isset $notes "traffic.sidecar.istio.io/excludeInterfaces" }}
            - "-c"
            - {{ index $notes "traffic.sidecar.istio.io/excludeInterfaces" | quote }}
        {{- end }}
            - {{ print "--log_output_level=" $agentLog | quote }}
        {{- if .Values.global.logAsJson }}
            - "--log_as_json"
        {{- end }}
        {{- if $cni }}
            - "--run-validation"
            - "--skip-rule-apply"
        {{- else if .Values.global.proxy_init.forceApplyIptables }}
            - "--force-apply"
        {{- end }}
        {{- if .Values.global.nativeNftables }}
            - "--native-nftables"
        {{- end }}
        {{- template "meshctl.pullPolicy" . }}
        {{- if $metadata }}
            env:
        {{- range $name, $value := $metadata }}
            - name: {{ $name | quote }}
              value: {{ $value | quote }}
        {{- end }}
        {{- end }}
            resources: {{ template "meshctl.resources" . }}
            securityContext:
              allowPrivilegeEscalation: {{ $proxy.privileged }}
              privileged: {{ $proxy.privileged }}
              capabilities:
        {{- if not $cni }}
                add: [NET_ADMIN, NET_RAW]
        {{- end }}
                drop: [ALL]
        {{- if not $cni }}
              readOnlyRootFilesystem: false
              runAsGroup: 0
              runAsNonRoot: false
              runAsUser: 0
        {{- else }}
              readOnlyRootFilesystem: true
              runAsGroup: {{ if $tproxy }}1337{{ else }}{{ .ProxyGID }}{{ end }}
              runAsUser: {{ if $tproxy }}1337{{ else }}{{ .ProxyUID }}{{ end }}
              runAsNonRoot: true
        {{- end }}
        {{- with $proxy.seccompProfile }}
              seccompProfile: {{ toJson . }}
        {{- end }}
        {{- end }}
        {{- if not $native }}
          containers:
        {{- end }}
          - name: istio-proxy
            image: {{ $proxyImage | quote }}
        {{- if $native }}
            restartPolicy: Always
        {{- end }}
            ports:
            - containerPort: 15090
              protocol: TCP
              name: http-envoy-prom
            args:
            - proxy
            - sidecar
            - "--domain"
        {{- template "meshctl.agentArgs" . }}
        {{- template "meshctl.agentFlags" . }}
        {{- if $proxy.outlierLogPath }}
            - {{ print "--outlierLogPath=" $proxy.outlierLogPath | quote }}
        {{- end }}
        {{- if $proxy.lifecycle }}
            lifecycle: {{ toJson $proxy.lifecycle }}
        {{- else if $hold }}
            lifecycle:
              postStart:
                exec:
                  command: [pilot-agent, wait]
        {{- else if $native }}
            lifecycle:
              preStop:
                exec:
                  command: [pilot-agent, request, {{ print "--debug-port=" $statusPort | quote }}, POST, drain]
        {{- end }}
            env:
        {{- template "meshctl.localhostProbes" . }}
        {{- template "meshctl.agentEnv" . }}
            - name: ISTIO_CPU_LIMIT
              valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: "1"}}
        {{- template "meshctl.configEnv" . }}
            - name: ISTIO_META_APP_CONTAINERS
              value: {{ join "," $apps | quote }}
            - name: GOMEMLIMIT
              valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: "1"}}
        {{- template "meshctl.compliance" . }}
        {{- template "meshctl.nodeEnv" . }}
            - name: ISTIO_META_INTERCEPTION_MODE
              value: {{ default $meshMode (index $notes "sidecar.istio.io/interceptionMode") | quote }}
        {{- with .Values.global.network }}
            - name: ISTIO_META_NETWORK
              value: {{ . | quote }}
        {{- end }}
        {{- with default "" (coalesce (index $labels "service.istio.io/workload-name") .DeploymentMeta.Name) }}
            - name: ISTIO_META_WORKLOAD_NAME
              value: {{ . | quote }}
        {{- end }}
        {{- template "meshctl.owner" . }}
        {{- template "meshctl.bootstrapOverride" . }}
        {{- template "meshctl.meshID" . }}
        {{- if eq (print $proxy.tracer) "datadog" }}
        {{- with index $notes "apm.datadoghq.com/env" }}
        {{- $datadog := fromJSON . }}
        {{- if hasPrefix "{" (trim .) }}
        {{- range $name, $value := $datadog }}
            - name: {{ $name | quote }}
              value: {{ print $value | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- with otelResourceAttributes .MeshConfig .ObjectMeta.Annotations .ObjectMeta.Labels .DeploymentMeta.Namespace .Spec.Containers }}
            - name: OTEL_RESOURCE_ATTRIBUTES
              value: {{ . | quote }}
        {{- end }}
        {{- template "meshctl.metadataEnv" . }}
        {{- template "meshctl.pullPolicy" . }}
        {{- if ne $statusPort "0" }}
        {{- if $proxy.startupProbe.enabled }}
            startupProbe:
              httpGet: {path: /healthz/ready, port: 15021}
              initialDelaySeconds: 0
              periodSeconds: 1
              timeoutSeconds: 3
              failureThreshold: {{ $proxy.startupProbe.failureThreshold }}
        {{- end }}
            readinessProbe:
              httpGet: {path: /healthz/ready, port: 15021}
              initialDelaySeconds: {{ annotation .ObjectMeta "readiness.status.sidecar.istio.io/initialDelaySeconds" $proxy.readinessInitialDelaySeconds }}
              periodSeconds: {{ annotation .ObjectMeta "readiness.status.sidecar.istio.io/periodSeconds" $proxy.readinessPeriodSeconds }}
              timeoutSeconds: 3
              failureThreshold: {{ annotation .ObjectMeta "readiness.status.sidecar.istio.io/failureThreshold" $proxy.readinessFailureThreshold }}
        {{- end }}
            securityContext:
        {{- if eq (print (index $metadata "IPTABLES_TRACE_LOGGING")) "true" }}
              allowPrivilegeEscalation: true
              capabilities: {add: [NET_ADMIN], drop: [ALL]}
              privileged: true
              readOnlyRootFilesystem: true
              runAsGroup: {{ .ProxyGID }}
              runAsNonRoot: false
              runAsUser: 0
        {{- else }}
              allowPrivilegeEscalation: {{ $proxy.privileged }}
              capabilities:
        {{- if or $tproxy $bindService }}
                add:
        {{- if $tproxy }}
                - NET_ADMIN
        {{- end }}
        {{- if $bindService }}
                - NET_BIND_SERVICE
        {{- end }}
        {{- end }}
                drop: [ALL]
              privileged: {{ $proxy.privileged }}
              readOnlyRootFilesystem: true
        {{- if or $tproxy $bindService }}
              runAsNonRoot: false
              runAsUser: 0
              runAsGroup: 1337
        {{- else }}
              runAsNonRoot: true
              runAsUser: {{ .ProxyUID }}
              runAsGroup: {{ .ProxyGID }}
        {{- end }}
        {{- end }}
        {{- with $proxy.seccompProfile }}
              seccompProfile: {{ toJson . }}
        {{- end }}
            resources: {{ template "meshctl.resources" . }}
            volumeMounts:
            - {name: workload-socket, mountPath: /var/run/secrets/workload-spiffe-uds}
            - {name: credential-socket, mountPath: /var/run/secrets/credential-uds}
        {{- template "meshctl.certsMount" . }}
        {{- if eq (print .Values.global.pilotCertProvider) "istiod" }}
            - {name: istiod-ca-cert, mountPath: /var/run/secrets/istio}
            - {name: istio-ca-crl, mountPath: /var/run/secrets/istio/crl}
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
        {{- if $lightstep }}
            - name: lightstep-certs
              mountPath: {{ directory (default "" .ProxyConfig.GetTracing.GetTlsSettings.GetCaCertificates) | quote }}
              readOnly: true
        {{- end }}
        {{- template "meshctl.userMounts" . }}
          volumes:
          - name: workload-socket
          - name: credential-socket
        {{- if eq (print .Values.global.caName) "GkeWorkloadCertificate" }}
          - name: gke-workload-certificate
            csi: {driver: workloadcertificates.security.cloud.google.com}
        {{- else }}
          - name: workload-certs
        {{- end }}
        {{- template "meshctl.bootstrapVolume" . }}
          - emptyDir: {medium: Memory}
            name: istio-envoy
        {{- template "meshctl.podVolumes" . }}
          - name: istio-ca-crl
            configMap:
              name: {{ default "istio-ca-crl" .Values.pilot.crlConfigMapName | quote }}
              optional: true
        {{- template "meshctl.mtlsVolume" . }}
        {{- template "meshctl.userVolumes" . }}
        {{- if $lightstep }}
          - name: lightstep-certs
            secret: {optional: true, secretName: lightstep.cacert}
        {{- end }}
        {{- template "meshctl.pullSecrets" . }}
        """#
}
