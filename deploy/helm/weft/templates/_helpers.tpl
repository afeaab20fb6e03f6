{{/* Names and labels. */}}
{{- define "weft.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "weft.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "weft.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "weft.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "weft.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weft.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "weft.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "weft.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "weft.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* The address sources listen on: every interface on the node, the pod's
loopback in a sidecar. */}}
{{- define "weft.listenHost" -}}
{{- if eq .Values.mode "sidecar" }}127.0.0.1{{ else }}0.0.0.0{{ end }}
{{- end }}

{{- define "weft.terminationGracePeriodSeconds" -}}
{{- add .Values.shutdownTimeoutSeconds 15 }}
{{- end }}

{{/* Checks of value combinations the schema cannot express. */}}
{{- define "weft.checks" -}}
{{- if and (not .Values.opensearch.enabled) (not .Values.cloudwatch.enabled) }}
{{- fail "enable at least one destination: opensearch.enabled or cloudwatch.enabled" }}
{{- end }}
{{- if and .Values.opensearch.enabled (eq .Values.opensearch.auth "aws") (not .Values.aws.region) }}
{{- fail "opensearch.auth aws needs aws.region" }}
{{- end }}
{{- if and .Values.cloudwatch.enabled (not .Values.aws.region) }}
{{- fail "cloudwatch.enabled needs aws.region" }}
{{- end }}
{{- if and .Values.cloudwatch.enabled (not .Values.cloudwatch.clusterName) }}
{{- fail "cloudwatch.enabled needs cloudwatch.clusterName" }}
{{- end }}
{{- if and .Values.opensearch.enabled (eq .Values.opensearch.auth "basic") .Values.opensearch.credentials.create (or (not .Values.opensearch.credentials.username) (not .Values.opensearch.credentials.password)) }}
{{- fail "opensearch.credentials.create needs opensearch.credentials.username and password" }}
{{- end }}
{{- if and .Values.masking.enabled .Values.masking.create (not .Values.masking.key) }}
{{- fail "masking.create needs masking.key" }}
{{- end }}
{{- if and (eq .Values.mode "sidecar") (eq .Values.sidecar.logs "http") (not .Values.sources.http.enabled) }}
{{- fail "sidecar.logs http needs sources.http.enabled" }}
{{- end }}
{{- if and (eq .Values.mode "daemonset") (not .Values.daemonset.logs.enabled) (not .Values.sources.http.enabled) (not .Values.sources.otlp.enabled) (not .Values.sources.otelTraceSource.enabled) (not .Values.extraPipelines) }}
{{- fail "nothing to run: enable daemonset.logs or a source" }}
{{- end }}
{{- end }}

{{/* Container environment: what the pipelines' ${VARS} refer to. */}}
{{- define "weft.env" -}}
- name: NODE_NAME
  valueFrom:
    fieldRef: {fieldPath: spec.nodeName}
{{- if eq .Values.mode "sidecar" }}
- name: POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef: {fieldPath: metadata.namespace}
{{- end }}
{{- with .Values.aws.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- if .Values.cloudwatch.enabled }}
- name: CLUSTER_NAME
  value: {{ .Values.cloudwatch.clusterName | quote }}
{{- end }}
{{- if .Values.opensearch.enabled }}
- name: OPENSEARCH_URL
  value: {{ .Values.opensearch.url | quote }}
{{- if eq .Values.opensearch.auth "basic" }}
- name: OPENSEARCH_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ .Values.opensearch.credentials.secretName | quote }}, key: {{ .Values.opensearch.credentials.usernameKey | quote }}}
- name: OPENSEARCH_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .Values.opensearch.credentials.secretName | quote }}, key: {{ .Values.opensearch.credentials.passwordKey | quote }}}
{{- end }}
{{- end }}
{{- if .Values.masking.enabled }}
- name: MASK_KEY
  valueFrom:
    secretKeyRef: {name: {{ .Values.masking.secretName | quote }}, key: {{ .Values.masking.secretKey | quote }}}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Listening ports of the chart's pipelines, as container ports. */}}
{{- define "weft.tracing" -}}
{{- if and .Values.opensearch.enabled .Values.opensearch.traceAnalytics }}true{{ end }}
{{- end }}

{{/* Only in daemonset mode: a sidecar's sources listen on the loopback interface. */}}
{{- define "weft.sourcePorts" -}}
{{- $hostPorts := .Values.daemonset.hostPorts }}
{{- $tracing := include "weft.tracing" . }}
{{- if .Values.sources.otlp.enabled }}
- name: otlp-grpc
  containerPort: {{ .Values.sources.otlp.grpcPort }}
  {{- if $hostPorts }}
  hostPort: {{ .Values.sources.otlp.grpcPort }}
  {{- end }}
  protocol: TCP
- name: otlp-http
  containerPort: {{ .Values.sources.otlp.httpPort }}
  {{- if $hostPorts }}
  hostPort: {{ .Values.sources.otlp.httpPort }}
  {{- end }}
  protocol: TCP
{{- end }}
{{- if and $tracing .Values.sources.otelTraceSource.enabled }}
- name: otel-trace
  containerPort: {{ .Values.sources.otelTraceSource.port }}
  {{- if $hostPorts }}
  hostPort: {{ .Values.sources.otelTraceSource.port }}
  {{- end }}
  protocol: TCP
{{- end }}
{{- if .Values.sources.http.enabled }}
- name: http-logs
  containerPort: {{ .Values.sources.http.port }}
  {{- if $hostPorts }}
  hostPort: {{ .Values.sources.http.port }}
  {{- end }}
  protocol: TCP
{{- end }}
{{- end }}

{{- define "weft.probes" -}}
livenessProbe:
  httpGet: {path: /healthz, port: weft-admin}
  initialDelaySeconds: 5
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 6
readinessProbe:
  httpGet: {path: /readyz, port: weft-admin}
  initialDelaySeconds: 2
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
{{- end }}

{{- define "weft.podAnnotations" -}}
checksum/config: {{ include "weft.pipelinesFiles" . | sha256sum }}
{{- if .Values.prometheusScrape }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.admin.port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The sidecar: the pod-spec parts to add to a Deployment (NOTES.txt prints
them; sidecar.example renders them into a demo Deployment). */}}
{{- define "weft.sidecarContainer" -}}
- name: weft
  image: {{ include "weft.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- if .Values.sidecar.native }}
  restartPolicy: Always
  {{- end }}
  args: ["run", "-c", "/etc/weft/", "--data-dir", "/var/lib/weft"]
  env:
    {{- include "weft.env" . | nindent 4 }}
  ports:
    - {name: weft-admin, containerPort: {{ .Values.admin.port }}, protocol: TCP}
    {{- with .Values.extraPorts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  startupProbe:
    httpGet: {path: /healthz, port: weft-admin}
    periodSeconds: 1
    failureThreshold: 30
  {{- include "weft.probes" . | nindent 2 }}
  {{- with .Values.sidecar.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsUser: 65532
    runAsGroup: 65532
    runAsNonRoot: true
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: ["ALL"]
  volumeMounts:
    - {name: weft-config, mountPath: /etc/weft, readOnly: true}
    - {name: weft-state, mountPath: /var/lib/weft}
    {{- if eq .Values.sidecar.logs "tail" }}
    - {name: app-logs, mountPath: {{ .Values.sidecar.logDir | quote }}, readOnly: true}
    {{- end }}
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{- define "weft.sidecarVolumes" -}}
- name: weft-config
  configMap: {name: {{ include "weft.fullname" . }}}
- name: weft-state
  emptyDir: {sizeLimit: 64Mi}
{{- if eq .Values.sidecar.logs "tail" }}
# The app writes (and rotates) its log files here.
- name: app-logs
  emptyDir: {sizeLimit: 256Mi}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod-spec fields a Deployment needs to carry the sidecar. */}}
{{- define "weft.sidecarPodSpec" -}}
serviceAccountName: {{ include "weft.serviceAccountName" . }}
# weft's shutdown_timeout after the app's own shutdown, plus margin.
terminationGracePeriodSeconds: {{ include "weft.terminationGracePeriodSeconds" . }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .Values.sidecar.native }}
initContainers:
  {{- include "weft.sidecarContainer" . | nindent 2 }}
{{- end }}
volumes:
  {{- include "weft.sidecarVolumes" . | nindent 2 }}
{{- end }}

{{/* What NOTES.txt prints: the fields above and, without native sidecars, the container. */}}
{{- define "weft.sidecarSnippet" -}}
{{ include "weft.sidecarPodSpec" . }}
{{- if not .Values.sidecar.native }}
containers:
  {{- include "weft.sidecarContainer" . | nindent 2 }}
{{- end }}
{{- end }}
