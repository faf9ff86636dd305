// The named templates every injection template calls.
extension BuiltinTemplates {
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
