/// meshctl's injection templates written as Go templates: what an `istio-sidecar-injector` ConfigMap holds in its
/// `config` key, and meshctl's built-in injection configuration. With the built-in values and mesh defaults they inject
/// what Istio 1.32's default templates inject (meshctl's own wording of them; Istio's are not copied).
public enum BuiltinTemplates {
    /// The template names, in the order the ConfigMap lists them.
    public static let names = ["sidecar", "gateway", "grpc-agent", "grpc-simple"]

    /// The template text by name (each with the shared named templates appended), or nil for an unknown name.
    public static func text(_ name: String) -> String? {
        switch name {
        case "sidecar": return sidecar + "\n" + shared + "\n"
        case "gateway": return gateway + "\n" + shared + "\n"
        case "grpc-agent": return grpcAgent + "\n" + shared + "\n"
        case "grpc-simple": return grpcSimple + "\n" + shared + "\n"
        default: return nil
        }
    }

    /// The `config` key of the injector ConfigMap: injection settings and every template, as Istio's ConfigMap lays them out.
    public static var injectorConfig: String {
        var config = """
            # meshctl's own injection templates (Go templates, rendered with data.values and the mesh config).
            defaultTemplates: [sidecar]
            policy: enabled
            alwaysInjectSelector: []
            neverInjectSelector: []
            injectedAnnotations: {}
            template: ""
            templates:

            """
        for name in names {
            config += "  \(name): |\n"
            for line in (text(name) ?? "").split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                config += line.isEmpty ? "\n" : "    \(line)\n"
            }
        }
        return config
    }

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

    /// Named templates the others call: the proxy's resources, the pod ports JSON, owner and mesh ids, the CA volume.
    static let shared = #"""
        {{- define "meshctl.resources" }}
        {{- $notes := .ObjectMeta.Annotations }}
        {{- if or (isset $notes "sidecar.istio.io/proxyCPU") (isset $notes "sidecar.istio.io/proxyMemory") (isset $notes "sidecar.istio.io/proxyCPULimit") (isset $notes "sidecar.istio.io/proxyMemoryLimit") }}
        {{- $requests := list }}
        {{- with index $notes "sidecar.istio.io/proxyCPU" }}{{ $requests = append $requests (print "\"cpu\": " (toJson .)) }}{{ end }}
        {{- with index $notes "sidecar.istio.io/proxyMemory" }}{{ $requests = append $requests (print "\"memory\": " (toJson .)) }}{{ end }}
        {{- $limits := list }}
        {{- with index $notes "sidecar.istio.io/proxyCPULimit" }}{{ $limits = append $limits (print "\"cpu\": " (toJson .)) }}{{ end }}
        {{- with index $notes "sidecar.istio.io/proxyMemoryLimit" }}{{ $limits = append $limits (print "\"memory\": " (toJson .)) }}{{ end -}}
        { {{- if $requests }}"requests": { {{- join ", " $requests -}} }{{ end }}{{ if and $requests $limits }}, {{ end }}{{ if $limits }}"limits": { {{- join ", " $limits -}} }{{ end -}} }
        {{- else if .Values.global.proxy.resources }}{{ toJson .Values.global.proxy.resources }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.podPorts" }}
        {{- $text := "[" }}
        {{- $first := true }}
        {{- range .Spec.Containers }}{{ range .Ports }}{{ $text = print $text "\n    " (ternary "" "," $first) (structToJSON .) }}{{ $first = false }}{{ end }}{{ end }}
        {{- print $text "\n]" | toJson }}
        {{- end }}
        {{- define "meshctl.owner" }}
        {{- if and .TypeMeta.APIVersion .DeploymentMeta.Name }}
            - name: ISTIO_META_OWNER
              value: kubernetes://apis/{{ .TypeMeta.APIVersion }}/namespaces/{{ default "default" .DeploymentMeta.Namespace }}/{{ lower .TypeMeta.Kind }}s/{{ .DeploymentMeta.Name }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.bootstrapOverride" }}
        {{- if isset .ObjectMeta.Annotations "sidecar.istio.io/bootstrapOverride" }}
            - name: ISTIO_BOOTSTRAP_OVERRIDE
              value: /etc/istio/custom-bootstrap/custom_bootstrap.json
        {{- end }}
        {{- end }}
        {{- define "meshctl.meshID" }}
        {{- $trustDomain := default "" (coalesce .MeshConfig.TrustDomain .Values.global.trustDomain) }}
        {{- if .Values.global.meshID }}
            - name: ISTIO_META_MESH_ID
              value: {{ .Values.global.meshID | quote }}
        {{- else if $trustDomain }}
            - name: ISTIO_META_MESH_ID
              value: {{ $trustDomain | quote }}
        {{- end }}
        {{- with $trustDomain }}
            - name: TRUST_DOMAIN
              value: {{ . | quote }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.caVolume" }}
        {{- if eq (print .Values.global.pilotCertProvider) "istiod" }}
          - name: istiod-ca-cert
        {{- if eq (print .Values.pilot.env.ENABLE_CLUSTER_TRUST_BUNDLE_API) "true" }}
            projected:
              sources:
              - clusterTrustBundle:
                  name: {{ print "istio.io:istiod-ca:" (default "root-cert" .Values.global.trustBundleName) | quote }}
                  path: root-cert.pem
        {{- else }}
            configMap:
              name: {{ default "istio-ca-root-cert" .Values.global.trustBundleName | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.agentEnv" }}
            - name: PILOT_CERT_PROVIDER
              value: {{ .Values.global.pilotCertProvider }}
            - name: CA_ADDR
        {{- if .Values.global.caAddress }}
              value: {{ .Values.global.caAddress }}
        {{- else }}
              value: {{ print "istiod" (ternary (print "-" .Values.revision) "" (ne (print (default "" .Values.revision)) "")) "." .Values.global.istioNamespace ".svc:15012" | quote }}
        {{- end }}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: POD_NAMESPACE
              valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
            - name: INSTANCE_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}
            - name: SERVICE_ACCOUNT
              valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}
            - name: HOST_IP
              valueFrom: {fieldRef: {fieldPath: status.hostIP}}
        {{- end }}
        {{- define "meshctl.defaultContainers" }}
        {{- $notes := .ObjectMeta.Annotations }}
        {{- $apps := list }}
        {{- range .Spec.Containers }}{{ if ne .Name "istio-proxy" }}{{ $apps = append $apps .Name }}{{ end }}{{ end }}
        {{- if $apps }}
        {{- if not (isset $notes "kubectl.kubernetes.io/default-logs-container") }}
            kubectl.kubernetes.io/default-logs-container: {{ first $apps | quote }}
        {{- end }}
        {{- if not (isset $notes "kubectl.kubernetes.io/default-container") }}
            kubectl.kubernetes.io/default-container: {{ first $apps | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.canonicalLabels" }}
        {{- $labels := .ObjectMeta.Labels }}
            service.istio.io/canonical-name: {{ default "" (coalesce (index $labels "service.istio.io/canonical-name") (index $labels "app.kubernetes.io/name") (index $labels "app") .DeploymentMeta.Name) | quote }}
            service.istio.io/canonical-revision: {{ default "latest" (coalesce (index $labels "service.istio.io/canonical-revision") (index $labels "app.kubernetes.io/version") (index $labels "version")) | quote }}
        {{- end }}
        {{- define "meshctl.agentArgs" }}
        {{- $proxy := .Values.global.proxy }}
            - {{ print "$(POD_NAMESPACE).svc." $proxy.clusterDomain | quote }}
            - {{ print "--proxyLogLevel=" (annotation .ObjectMeta "sidecar.istio.io/logLevel" $proxy.logLevel) | quote }}
            - {{ print "--proxyComponentLogLevel=" (annotation .ObjectMeta "sidecar.istio.io/componentLogLevel" $proxy.componentLogLevel) | quote }}
        {{- end }}
        {{- define "meshctl.agentFlags" }}
            - {{ print "--log_output_level=" (annotation .ObjectMeta "sidecar.istio.io/agentLogLevel" .Values.global.logging.level) | quote }}
        {{- if .Values.global.sts.servicePort }}
            - {{ print "--stsPort=" .Values.global.sts.servicePort | quote }}
        {{- end }}
        {{- if .Values.global.logAsJson }}
            - "--log_as_json"
        {{- end }}
        {{- end }}
        {{- define "meshctl.configEnv" }}
            - name: PROXY_CONFIG
              value: {{ print (protoToJSON .ProxyConfig) "\n" | toJson }}
            - name: ISTIO_META_POD_PORTS
              value: {{ template "meshctl.podPorts" . }}
        {{- end }}
        {{- define "meshctl.nodeEnv" }}
            - name: ISTIO_META_CLUSTER_ID
              value: {{ default "Kubernetes" .Values.global.multiCluster.clusterName | quote }}
            - name: ISTIO_META_NODE_NAME
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        {{- end }}
        {{- define "meshctl.compliance" }}
        {{- with .CompliancePolicy }}
            - name: COMPLIANCE_POLICY
              value: {{ . | quote }}
        {{- if eq . "fips-140-3" }}
            - name: GODEBUG
              value: fips140=only
        {{- end }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.localhostProbes" }}
        {{- if eq .InboundTrafficPolicyMode "localhost" }}
            - name: REWRITE_PROBE_LEGACY_LOCALHOST_DESTINATION
              value: "true"
        {{- end }}
        {{- end }}
        {{- define "meshctl.pullPolicy" }}
        {{- with .Values.global.imagePullPolicy }}
            imagePullPolicy: {{ . | quote }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.certsMount" }}
        {{- if eq (print .Values.global.caName) "GkeWorkloadCertificate" }}
            - {name: gke-workload-certificate, mountPath: /var/run/secrets/workload-spiffe-credentials, readOnly: true}
        {{- else }}
            - {name: workload-certs, mountPath: /var/run/secrets/workload-spiffe-credentials}
        {{- end }}
        {{- end }}
        {{- define "meshctl.bootstrapVolume" }}
        {{- $notes := .ObjectMeta.Annotations }}
        {{- with index $notes "sidecar.istio.io/bootstrapOverride" }}
          - name: custom-bootstrap-volume
            configMap: {name: {{ . | quote }}}
        {{- end }}
        {{- end }}
        {{- define "meshctl.podVolumes" }}
          - name: istio-data
            emptyDir: {}
          - name: istio-podinfo
            downwardAPI:
              items:
              - path: labels
                fieldRef: {fieldPath: metadata.labels}
              - path: annotations
                fieldRef: {fieldPath: metadata.annotations}
          - name: istio-token
            projected:
              sources:
              - serviceAccountToken:
                  path: istio-token
                  expirationSeconds: 43200
                  audience: {{ .Values.global.sds.token.aud }}
        {{- template "meshctl.caVolume" . }}
        {{- end }}
        {{- define "meshctl.mtlsVolume" }}
        {{- if .Values.global.mountMtlsCerts }}
          - name: istio-certs
            secret:
              optional: true
              secretName: {{ print "istio." (default "default" .Spec.ServiceAccountName) | quote }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.userVolumes" }}
        {{- $userVolumes := fromJSON (default "{}" (index .ObjectMeta.Annotations "sidecar.istio.io/userVolume")) }}
        {{- range $name, $volume := $userVolumes }}
          - name: {{ $name | quote }}
        {{- range $key, $value := $volume }}
            {{ $key }}: {{ toJson $value }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.userMounts" }}
        {{- $userMounts := fromJSON (default "{}" (index .ObjectMeta.Annotations "sidecar.istio.io/userVolumeMount")) }}
        {{- range $name, $mount := $userMounts }}
            - name: {{ $name | quote }}
        {{- range $key, $value := $mount }}
              {{ $key }}: {{ toJson $value }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.pullSecrets" }}
        {{- with .Values.global.imagePullSecrets }}
          imagePullSecrets:
        {{- range . }}
          - name: {{ . | quote }}
        {{- end }}
        {{- end }}
        {{- end }}
        {{- define "meshctl.metadataEnv" }}
        {{- range $name, $value := .ProxyConfig.ProxyMetadata }}
            - name: {{ $name | quote }}
              value: {{ $value | quote }}
        {{- end }}
        {{- end }}
        """#
}
