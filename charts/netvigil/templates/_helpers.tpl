{{- define "netvigil.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "netvigil.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "netvigil.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "netvigil.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* settings every component shares: bus, graph, tickets, log (secrets by reference) */}}
{{- define "netvigil.env" -}}
- name: NETVIGIL_BUS__URL
  value: {{ printf "kafka://%s" .Values.kafka.bootstrapServers | quote }}
- name: NETVIGIL_KAFKA__PROCESSING_GUARANTEE
  value: {{ .Values.kafka.processingGuarantee | quote }}
- name: NETVIGIL_KAFKA__WORKER_PROCESSORS
  value: {{ toJson .Values.workers.processors | quote }}
- name: NETVIGIL_GRAPH__URL
  value: {{ .Values.neo4j.uri | quote }}
- name: NETVIGIL_GRAPH__USER
  value: {{ .Values.neo4j.user | quote }}
- name: NETVIGIL_GRAPH__PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.neo4j.existingSecret }}
      key: {{ .Values.neo4j.passwordKey }}
{{- if .Values.servicenow.enabled }}
- name: NETVIGIL_TICKETS__URL
  value: {{ printf "servicenow://%s" .Values.servicenow.instance | quote }}
- name: NETVIGIL_TICKETS__USER
  valueFrom:
    secretKeyRef:
      name: {{ .Values.servicenow.existingSecret }}
      key: {{ .Values.servicenow.userKey }}
- name: NETVIGIL_TICKETS__PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.servicenow.existingSecret }}
      key: {{ .Values.servicenow.passwordKey }}
{{- end }}
- name: NETVIGIL_LOG__LEVEL
  value: {{ .Values.log.level | quote }}
- name: NETVIGIL_STORAGE__DATA_DIR
  value: /data
{{- end -}}

{{- define "netvigil.coordinatorEnv" -}}
- name: NETVIGIL_COORDINATOR__PHASE
  value: {{ .Values.coordinator.phase | quote }}
- name: NETVIGIL_COORDINATOR__PARTITIONS
  value: {{ .Values.coordinator.partitions | quote }}
{{- end -}}

{{- define "netvigil.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "netvigil.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
