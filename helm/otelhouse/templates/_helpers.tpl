{{/* Names, labels and the choices every template shares. */}}

{{- define "otelhouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* release-chart, or the release name alone when it already contains the chart name. */}}
{{- define "otelhouse.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "otelhouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "otelhouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "otelhouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "otelhouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ include "otelhouse.preset" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The mode, checked: required and one of three. */}}
{{- define "otelhouse.mode" -}}
{{- $mode := required "mode is required: set mode to daemonset, deployment or sidecar" .Values.mode -}}
{{- if not (has $mode (list "daemonset" "deployment" "sidecar")) -}}
{{- fail (printf "mode %q is not one of daemonset, deployment, sidecar" $mode) -}}
{{- end -}}
{{- $mode -}}
{{- end -}}

{{/* The preset: the one asked for, or the mode's own. */}}
{{- define "otelhouse.preset" -}}
{{- if .Values.preset -}}
{{- if not (has .Values.preset (list "agent" "gateway" "standalone")) -}}
{{- fail (printf "preset %q is not one of agent, gateway, standalone" .Values.preset) -}}
{{- end -}}
{{- .Values.preset -}}
{{- else if eq (include "otelhouse.mode" .) "deployment" -}}
gateway
{{- else -}}
agent
{{- end -}}
{{- end -}}

{{/* "true" when the disk queue is on: persistence.enabled, or by default in daemonset and sidecar modes. */}}
{{- define "otelhouse.persistence" -}}
{{- $enabled := .Values.persistence.enabled -}}
{{- if kindIs "invalid" $enabled -}}
{{- $enabled = ne (include "otelhouse.mode" .) "deployment" -}}
{{- end -}}
{{- if $enabled -}}true{{- end -}}
{{- end -}}

{{- define "otelhouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "otelhouse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "otelhouse.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the ClickHouse credentials. */}}
{{- define "otelhouse.clickhouseSecret" -}}
{{- default (printf "%s-clickhouse" (include "otelhouse.fullname" .)) .Values.clickhouse.existingSecret -}}
{{- end -}}

{{/* Every port name, in the order containers and Services list them. */}}
{{- define "otelhouse.portNames" -}}
otlp-grpc otlp-http syslog-tcp syslog-udp json-ingest metrics
{{- end -}}
