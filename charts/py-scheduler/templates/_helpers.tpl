{{/*
Chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "py-scheduler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name: the release name, plus the chart name unless the release name
already contains it (release "py-scheduler" gives "py-scheduler").
*/}}
{{- define "py-scheduler.fullname" -}}
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

{{- define "py-scheduler.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "py-scheduler.labels" -}}
helm.sh/chart: {{ include "py-scheduler.chart" . }}
{{ include "py-scheduler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: scheduler
app.kubernetes.io/part-of: py-scheduler
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: immutable on a Deployment, so nothing here may change between releases.
*/}}
{{- define "py-scheduler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "py-scheduler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "py-scheduler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "py-scheduler.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Lease name: one value for the scheduler's config and the lease Role's resourceNames.
*/}}
{{- define "py-scheduler.leaseName" -}}
{{- default (include "py-scheduler.fullname" .) .Values.leaderElection.resourceName }}
{{- end }}

{{/*
registry/owner/repository:tag, or @digest when a digest is given; empty parts are left
out. Takes an image values map and the default tag.
*/}}
{{- define "py-scheduler.imageRef" -}}
{{- $name := list .image.registry .image.owner .image.repository | compact | join "/" }}
{{- if .image.digest }}
{{- printf "%s@%s" $name .image.digest }}
{{- else }}
{{- printf "%s:%s" $name (default .default .image.tag) }}
{{- end }}
{{- end }}

{{/*
The Prometheus job label of this release's series: its ServiceMonitor or PodMonitor sets
it, and its PrometheusRule selects it.
*/}}
{{- define "py-scheduler.metricsJob" -}}
{{- default (include "py-scheduler.fullname" .) .Values.metricsJob }}
{{- end }}

{{/*
The KubeSchedulerConfiguration, as YAML. Profiles come from config.profiles; each gets
its scoreWeights as plugins.score.enabled, and DefaultPreemption's args (or its removal)
from .Values.preemption, so the RBAC rules and the eviction mode cannot disagree.
*/}}
{{- define "py-scheduler.schedulerConfig" -}}
{{- $root := . }}
{{- $profiles := list }}
{{- range .Values.config.profiles }}
{{- $plugins := deepCopy (default (dict) .plugins) }}
{{- if .scoreWeights }}
{{- $score := default (dict) (get $plugins "score") }}
{{- $enabled := default (list) (get $score "enabled") }}
{{- range $name, $weight := .scoreWeights }}
{{- $enabled = append $enabled (dict "name" $name "weight" (int64 $weight)) }}
{{- end }}
{{- $_ := set $score "enabled" $enabled }}
{{- $_ := set $plugins "score" $score }}
{{- end }}
{{- $pluginConfig := default (list) .pluginConfig }}
{{- if $root.Values.preemption.enabled }}
{{- $args := dict "evictionMode" $root.Values.preemption.evictionMode "minCandidateNodesPercentage" (int64 $root.Values.preemption.minCandidateNodesPercentage) "minCandidateNodesAbsolute" (int64 $root.Values.preemption.minCandidateNodesAbsolute) }}
{{- $pluginConfig = append $pluginConfig (dict "name" "DefaultPreemption" "args" $args) }}
{{- else }}
{{- $multiPoint := default (dict) (get $plugins "multiPoint") }}
{{- $disabled := append (default (list) (get $multiPoint "disabled")) (dict "name" "DefaultPreemption") }}
{{- $_ := set $multiPoint "disabled" $disabled }}
{{- $_ := set $plugins "multiPoint" $multiPoint }}
{{- end }}
{{- $profile := dict "schedulerName" .schedulerName }}
{{- if $plugins }}
{{- $_ := set $profile "plugins" $plugins }}
{{- end }}
{{- if $pluginConfig }}
{{- $_ := set $profile "pluginConfig" $pluginConfig }}
{{- end }}
{{- if not (kindIs "invalid" .percentageOfNodesToScore) }}
{{- $_ := set $profile "percentageOfNodesToScore" (int64 .percentageOfNodesToScore) }}
{{- end }}
{{- $profiles = append $profiles $profile }}
{{- end }}
{{- $leaderElection := dict "leaderElect" .Values.leaderElection.enabled }}
{{- if .Values.leaderElection.enabled }}
{{- $_ := set $leaderElection "resourceName" (include "py-scheduler.leaseName" .) }}
{{- $_ := set $leaderElection "resourceNamespace" .Release.Namespace }}
{{- if eq .Values.leaderElection.profile "fast" }}
{{- /* Failover in about 6 s after a crash instead of about 17 s; 1 lease renewal a second. */}}
{{- $_ := set $leaderElection "leaseDuration" "5s" }}
{{- $_ := set $leaderElection "renewDeadline" "3s" }}
{{- $_ := set $leaderElection "retryPeriod" "1s" }}
{{- else }}
{{- $_ := set $leaderElection "leaseDuration" .Values.leaderElection.leaseDuration }}
{{- $_ := set $leaderElection "renewDeadline" .Values.leaderElection.renewDeadline }}
{{- $_ := set $leaderElection "retryPeriod" .Values.leaderElection.retryPeriod }}
{{- end }}
{{- end }}
{{- $config := dict
  "apiVersion" "kubescheduler.config.k8s.io/v1"
  "kind" "KubeSchedulerConfiguration"
  "parallelism" (int64 .Values.config.parallelism)
  "percentageOfNodesToScore" (int64 .Values.config.percentageOfNodesToScore)
  "podInitialBackoffSeconds" (int64 .Values.config.podInitialBackoffSeconds)
  "podMaxBackoffSeconds" (int64 .Values.config.podMaxBackoffSeconds)
  "clientConnection" .Values.config.clientConnection
  "leaderElection" $leaderElection
  "profiles" $profiles
}}
{{- toYaml $config }}
{{- end }}

{{/*
The scheduler names pods can use, comma-separated.
*/}}
{{- define "py-scheduler.schedulerNames" -}}
{{- $names := list }}
{{- range .Values.config.profiles }}
{{- $names = append $names .schedulerName }}
{{- end }}
{{- join ", " $names }}
{{- end }}
