{{/* Chart name. */}}
{{- define "igz-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, prefixed with the chart name unless it already contains it. */}}
{{- define "igz-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "igz-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "igz-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "igz-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "igz-operator.labels" -}}
helm.sh/chart: {{ include "igz-operator.chart" . }}
{{ include "igz-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "igz-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "igz-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image: repository@digest when a digest is given, else repository:tag (tag default:
the chart's appVersion). */}}
{{- define "igz-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* PodDisruptionBudget: when asked (true/false), else only with more than one replica. */}}
{{- define "igz-operator.pdb" -}}
{{- $enabled := .Values.podDisruptionBudget.enabled }}
{{- if kindIs "invalid" $enabled }}
{{- if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- else if $enabled }}true{{ end }}
{{- end }}

{{/* The port of one management API URL as its endpoints see it (443 for https, 80 for http,
unless the URL names one). */}}
{{- define "igz-operator.urlPort" -}}
{{- $u := urlParse . }}
{{- $parts := splitList ":" $u.host }}
{{- if gt (len $parts) 1 }}{{ last $parts | int }}
{{- else if eq $u.scheme "http" }}80
{{- else }}443
{{- end }}
{{- end }}

{{/* The management APIs' ports as their endpoints see them: networkPolicy.mgmt.ports, else the
port of mgmt.url (443 for the in-pod default) and of every connection's spec.url. */}}
{{- define "igz-operator.mgmtPorts" -}}
{{- if .Values.networkPolicy.mgmt.ports }}
{{- toJson .Values.networkPolicy.mgmt.ports }}
{{- else }}
{{- $ports := list }}
{{- if .Values.mgmt.url }}
{{- $ports = append $ports (include "igz-operator.urlPort" .Values.mgmt.url | int) }}
{{- else }}
{{- $ports = append $ports 443 }}
{{- end }}
{{- range .Values.connections }}
{{- $ports = append $ports (include "igz-operator.urlPort" .spec.url | int) }}
{{- end }}
{{- toJson ($ports | uniq) }}
{{- end }}
{{- end }}

{{/* Leader election: on when asked, and always with more than one replica. */}}
{{- define "igz-operator.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/*
What the controller does to Group resources and Events, and nothing else (verified against the
code by tests/rbac.rs on a real kube-apiserver):
- groups list/watch: the controller's watch (and the start-up check, a list_metadata).
- groups patch: adding/removing the finalizer and the create record annotation (merge patches).
- groups/status patch: status is written by server-side apply on the status subresource.
- events.k8s.io events create/patch: kube-runtime's Recorder creates Events and patches a
  repeated Event's series.
*/}}
{{- define "igz-operator.controllerRules" -}}
- apiGroups: ["igz-operator.io"]
  resources: ["groups"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["igz-operator.io"]
  resources: ["groups/status"]
  verbs: ["patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
Tenancy, cluster-wide whatever namespaces are watched (verified by tests/operator/rbac.rs):
- groupgrants get/list/watch: the grants cache.
- namespaces get/list/watch: namespace labels, which grants select on (metadata only).
- validatingadmissionpolicies and -bindings get/patch, by name: the admission policy the
  operator keeps in line with the grants. The chart creates both (templates/
  admission-policy.yaml), so no right to create admission policies is needed.
*/}}
{{- define "igz-operator.tenancyRules" -}}
- apiGroups: ["igz-operator.io"]
  resources: ["groupgrants"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["admissionregistration.k8s.io"]
  resources: ["validatingadmissionpolicies", "validatingadmissionpolicybindings"]
  resourceNames: ["igz-operator-group-grants"]
  verbs: ["get", "patch"]
{{- end }}
