{{/*
The otelhouse config: the preset's default with .Values.config merged over it.

Addresses, ports and paths are written as ${env:NAME:-value}: the value is what the chart chose,
and the variable lets the same file run elsewhere (the chart's tests start the daemon with this
ConfigMap on loopback ports). The pod sets none of these variables.
*/}}

{{- define "otelhouse.defaultConfig" -}}
{{- $preset := include "otelhouse.preset" . -}}
{{- $mode := include "otelhouse.mode" . -}}
{{- $host := ternary "127.0.0.1" "0.0.0.0" (eq $mode "sidecar") -}}
{{- $p := .Values.ports -}}
{{- $queueDir := printf "${env:OTELHOUSE_QUEUE_DIR:-%s/queue}" .Values.persistence.mountPath -}}
{{- $receivers := list -}}
receivers:
{{- if or (index $p "otlp-grpc").enabled (index $p "otlp-http").enabled }}
{{- $receivers = append $receivers "otlp" }}
  otlp:
    protocols:
      {{- if (index $p "otlp-grpc").enabled }}
      grpc:
        endpoint: ${env:OTELHOUSE_OTLP_GRPC_ENDPOINT:-{{ $host }}:{{ (index $p "otlp-grpc").containerPort }}}
        {{- if ne $preset "agent" }}
        # Agents forward batches of up to 4000 records; leave room for large ones.
        max_recv_msg_size_mib: 16
        {{- end }}
      {{- end }}
      {{- if (index $p "otlp-http").enabled }}
      http:
        endpoint: ${env:OTELHOUSE_OTLP_HTTP_ENDPOINT:-{{ $host }}:{{ (index $p "otlp-http").containerPort }}}
      {{- end }}
{{- end }}
{{- if or (index $p "syslog-tcp").enabled (index $p "syslog-udp").enabled }}
{{- $receivers = append $receivers "syslog" }}
  syslog:
    protocol: auto
    {{- if (index $p "syslog-tcp").enabled }}
    tcp:
      listen_address: ${env:OTELHOUSE_SYSLOG_TCP_ENDPOINT:-{{ $host }}:{{ (index $p "syslog-tcp").containerPort }}}
    {{- end }}
    {{- if (index $p "syslog-udp").enabled }}
    udp:
      listen_address: ${env:OTELHOUSE_SYSLOG_UDP_ENDPOINT:-{{ $host }}:{{ (index $p "syslog-udp").containerPort }}}
    {{- end }}
{{- end }}
{{- if (index $p "json-ingest").enabled }}
{{- $receivers = append $receivers "json_ingest" }}
  json_ingest:
    endpoint: ${env:OTELHOUSE_JSON_INGEST_ENDPOINT:-{{ $host }}:{{ (index $p "json-ingest").containerPort }}}
{{- end }}
{{- if not $receivers }}
{{- fail "no receiving port is enabled: enable ports.otlp-grpc, otlp-http, syslog-tcp, syslog-udp or json-ingest" }}
{{- end }}
processors:
{{- if eq $preset "agent" }}
  batch:
    send_batch_size: 2000
    send_batch_max_size: 4000
    timeout: 1s
{{- else }}
  templates:
    parallel_threshold: 5000
{{- end }}
exporters:
{{- if eq $preset "agent" }}
  otlp:
    endpoint: ${env:OTELHOUSE_GATEWAY_ENDPOINT:-{{ tpl .Values.gateway.endpoint . }}}
    compression: {{ .Values.gateway.compression }}
    tls:
      insecure: {{ .Values.gateway.insecure }}
    {{- with .Values.gateway.headers }}
    headers:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    sending_queue:
      queue_size: 200000
      {{- if include "otelhouse.persistence" . }}
      storage: {{ $queueDir }}/otlp
      {{- end }}
    retry_on_failure:
      initial_interval: 1s
      max_interval: 10s
      # Keep retrying while the gateway is away; a full queue pushes back on the apps.
      max_elapsed_time: 0
{{- else }}
  clickhouse:
    endpoint: ${env:OTELHOUSE_CLICKHOUSE_ENDPOINT:-{{ .Values.clickhouse.endpoint }}}
    database: {{ .Values.clickhouse.database | quote }}
    username: ${env:OTELHOUSE_CLICKHOUSE_USERNAME}
    password: ${env:OTELHOUSE_CLICKHOUSE_PASSWORD}
    ttl: {{ .Values.clickhouse.ttl | quote }}
    create_schema: {{ .Values.clickhouse.createSchema }}
    sending_queue:
      queue_size: 200000
      {{- if include "otelhouse.persistence" . }}
      storage: {{ $queueDir }}/clickhouse
      {{- end }}
      # Rows are encoded as requests arrive and inserted 20,000 or more at a time, or 500 ms after
      # the first; a request is answered once its rows are in the queue.
      batch:
        min_size: 20000
        max_size: 50000
        flush_timeout: 500ms
    retry_on_failure:
      initial_interval: 1s
      max_interval: 30s
      max_elapsed_time: 10m
{{- end }}
service:
  pipelines:
    logs:
      receivers: [{{ join ", " $receivers }}]
      processors: [{{ ternary "batch" "templates" (eq $preset "agent") }}]
      exporters: [{{ ternary "otlp" "clickhouse" (eq $preset "agent") }}]
  telemetry:
    metrics:
      address: ${env:OTELHOUSE_TELEMETRY_ADDRESS:-0.0.0.0:{{ .Values.ports.metrics.containerPort }}}
    logs:
      level: info
  shutdown_timeout: {{ max 5 (sub (int .Values.terminationGracePeriodSeconds) 15) }}s
{{- end -}}

{{/* Lays src over dst in place: maps merge key by key, other values replace, null deletes. */}}
{{- define "otelhouse.mergeInto" -}}
{{- $dst := index . 0 -}}
{{- $src := index . 1 -}}
{{- range $key, $value := $src -}}
{{- if kindIs "invalid" $value -}}
{{- $_ := unset $dst $key -}}
{{- else if and (kindIs "map" $value) (kindIs "map" (index $dst $key)) -}}
{{- include "otelhouse.mergeInto" (list (index $dst $key) $value) -}}
{{- else -}}
{{- $_ := set $dst $key $value -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The final config as YAML. sprig's mergeOverwrite is not used: it skips empty values, so a user's
`false` or `0` could not replace a default.
*/}}
{{- define "otelhouse.config" -}}
{{- $config := include "otelhouse.defaultConfig" . | fromYaml -}}
{{- if hasKey $config "Error" -}}
{{- fail (printf "internal error: the default config is not YAML: %s" $config.Error) -}}
{{- end -}}
{{- include "otelhouse.mergeInto" (list $config (deepCopy .Values.config)) -}}
{{- toYaml $config -}}
{{- end -}}

{{/* "true" when the final config has a clickhouse exporter: the pod then gets the credentials. */}}
{{- define "otelhouse.usesClickHouse" -}}
{{- $config := include "otelhouse.config" . | fromYaml -}}
{{- range $id, $_ := (default dict $config.exporters) -}}
{{- if regexMatch "^clickhouse(/.*)?$" $id -}}true{{- end -}}
{{- end -}}
{{- end -}}
