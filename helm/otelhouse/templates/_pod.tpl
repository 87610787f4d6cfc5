{{/* The otelhouse container: the DaemonSet's, the Deployment's and the sidecar snippet's. */}}
{{- define "otelhouse.container" -}}
{{- $mode := include "otelhouse.mode" . -}}
name: otelhouse
image: {{ include "otelhouse.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
args:
  - run
  - --config
  - /etc/otelhouse/config.yaml
  {{- range .Values.extraArgs }}
  - {{ . | quote }}
  {{- end }}
ports:
{{- range $name := splitList " " (include "otelhouse.portNames" .) }}
{{- $port := index $.Values.ports $name }}
{{- if $port.enabled }}
  - name: {{ $name }}
    containerPort: {{ $port.containerPort }}
    protocol: {{ $port.protocol }}
    {{- if and (eq $mode "daemonset") $port.hostPort }}
    hostPort: {{ $port.hostPort }}
    {{- end }}
{{- end }}
{{- end }}
env:
  # Downward API: who and where this pod is (resource detection reads these names).
  - name: K8S_NODE_NAME
    valueFrom:
      fieldRef:
        fieldPath: spec.nodeName
  - name: K8S_POD_NAME
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: K8S_POD_NAMESPACE
    valueFrom:
      fieldRef:
        fieldPath: metadata.namespace
  - name: K8S_POD_UID
    valueFrom:
      fieldRef:
        fieldPath: metadata.uid
  - name: K8S_POD_IP
    valueFrom:
      fieldRef:
        fieldPath: status.podIP
  - name: K8S_HOST_IP
    valueFrom:
      fieldRef:
        fieldPath: status.hostIP
  {{- if include "otelhouse.usesClickHouse" . }}
  - name: OTELHOUSE_CLICKHOUSE_USERNAME
    valueFrom:
      secretKeyRef:
        name: {{ include "otelhouse.clickhouseSecret" . }}
        key: {{ ternary .Values.clickhouse.secretKeys.username "username" (ne .Values.clickhouse.existingSecret "") }}
  - name: OTELHOUSE_CLICKHOUSE_PASSWORD
    valueFrom:
      secretKeyRef:
        name: {{ include "otelhouse.clickhouseSecret" . }}
        key: {{ ternary .Values.clickhouse.secretKeys.password "password" (ne .Values.clickhouse.existingSecret "") }}
  {{- end }}
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .Values.extraEnvFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- range $kind := list "startup" "liveness" "readiness" }}
{{- $probe := index $.Values.probes $kind }}
{{- if $probe.enabled }}
{{ $kind }}Probe:
  httpGet:
    path: /health
    port: {{ $.Values.ports.metrics.containerPort }}
  periodSeconds: {{ $probe.periodSeconds }}
  timeoutSeconds: {{ $probe.timeoutSeconds }}
  failureThreshold: {{ $probe.failureThreshold }}
{{- end }}
{{- end }}
volumeMounts:
  - name: otelhouse-config
    mountPath: /etc/otelhouse
    readOnly: true
  # The root filesystem is read-only.
  - name: otelhouse-tmp
    mountPath: /tmp
  {{- if include "otelhouse.persistence" . }}
  - name: otelhouse-data
    mountPath: {{ .Values.persistence.mountPath }}
  {{- end }}
  {{- with .Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* The pod's volumes; `data` depends on the mode. */}}
{{- define "otelhouse.volumes" -}}
{{- $mode := include "otelhouse.mode" . -}}
- name: otelhouse-config
  configMap:
    name: {{ include "otelhouse.fullname" . }}
- name: otelhouse-tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if include "otelhouse.persistence" . }}
- name: otelhouse-data
{{- if eq $mode "daemonset" }}
  hostPath:
    path: {{ printf "%s/%s-%s" (trimSuffix "/" .Values.persistence.hostPath.path) .Release.Namespace (include "otelhouse.fullname" .) }}
    type: DirectoryOrCreate
{{- else if eq $mode "deployment" }}
  persistentVolumeClaim:
    claimName: {{ default (include "otelhouse.fullname" .) .Values.persistence.existingClaim }}
{{- else }}
  emptyDir:
    sizeLimit: {{ .Values.persistence.sidecarSizeLimit }}
{{- end }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The pod template of the DaemonSet and the Deployment. */}}
{{- define "otelhouse.podTemplate" -}}
{{- $mode := include "otelhouse.mode" . -}}
metadata:
  labels:
    {{- include "otelhouse.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/component: {{ include "otelhouse.preset" . }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A config change rolls the pods.
    checksum/config: {{ include "otelhouse.config" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "otelhouse.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- if eq $mode "daemonset" }}
  {{- if .Values.hostNetwork }}
  hostNetwork: true
  {{- end }}
  dnsPolicy: {{ default (ternary "ClusterFirstWithHostNet" "ClusterFirst" .Values.hostNetwork) .Values.dnsPolicy }}
  {{- else if .Values.dnsPolicy }}
  dnsPolicy: {{ .Values.dnsPolicy }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if and (eq $mode "deployment") .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml .Values.topologySpreadConstraints | nindent 4 }}
  {{- end }}
  {{- if and (eq $mode "daemonset") (include "otelhouse.persistence" .) .Values.persistence.hostPath.initChown }}
  initContainers:
    # kubelet creates the hostPath directory owned by root; hand it to the container's user.
    - name: queue-dir-owner
      image: {{ include "otelhouse.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command:
        - chown
        - {{ printf "%v:%v" .Values.securityContext.runAsUser .Values.securityContext.runAsGroup | quote }}
        - {{ .Values.persistence.mountPath }}
      securityContext:
        runAsUser: 0
        runAsNonRoot: false
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        capabilities:
          drop:
            - ALL
          add:
            - CHOWN
      volumeMounts:
        - name: otelhouse-data
          mountPath: {{ .Values.persistence.mountPath }}
  {{- end }}
  containers:
    - {{ include "otelhouse.container" . | indent 6 | trim }}
  volumes:
    {{- include "otelhouse.volumes" . | nindent 4 }}
{{- end -}}
