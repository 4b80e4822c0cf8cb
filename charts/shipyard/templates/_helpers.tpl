{{- define "shipyard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "shipyard.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "shipyard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "shipyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "shipyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "shipyard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Name of the chart's cluster-scoped objects (ClusterRole, ClusterRoleBinding, admission policy and
binding): the release's namespace is part of it, so releases of one name in two namespaces do not collide.
*/}}
{{- define "shipyard.clusterScopedName" -}}
{{- printf "%s-%s" .Release.Namespace (include "shipyard.fullname" .) -}}
{{- end -}}

{{- define "shipyard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "shipyard.secretName" -}}
{{- default (include "shipyard.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/*
Non-secret settings as environment variables; empty ones are left out so Shipyard's defaults apply,
except those for which empty is a value of its own (an empty backup prefix: objects at the bucket's root).
Whole numbers go through `int`: Helm reads numbers as floats, and a large float prints as 1e+06.
*/}}
{{- define "shipyard.configEnv" -}}
{{- $c := .Values.config -}}
{{- $b := .Values.backups -}}
{{- $keptEmpty := list "SHIPYARD_BACKUP_PREFIX" -}}
{{- $env := dict
  "TEMPORAL_ADDRESS" $c.temporalAddress
  "TEMPORAL_NAMESPACE" $c.temporalNamespace
  "SHIPYARD_TASK_QUEUE" $c.taskQueue
  "SHIPYARD_BASE_DOMAIN" $c.baseDomain
  "SHIPYARD_HOSTED_ZONE_ID" $c.hostedZoneId
  "SHIPYARD_INGRESS_TARGET" $c.ingressTarget
  "SHIPYARD_INGRESS_NAMESPACE" $c.ingressNamespace
  "SHIPYARD_INGRESS_CLASS" $c.ingressClass
  "SHIPYARD_CERT_ISSUER" $c.certIssuer
  "SHIPYARD_APP_IMAGE" $c.appImage
  "SHIPYARD_DEFAULT_VERSION" $c.defaultVersion
  "SHIPYARD_ROLLOUT_TIMEOUT_SECONDS" (toString (int $c.rolloutTimeoutSeconds))
  "SHIPYARD_DNS_TTL_SECONDS" (toString (int $c.dnsTtlSeconds))
  "AWS_REGION" $c.awsRegion
  "ROUTE53_ENDPOINT" $c.route53Endpoint
  "SHIPYARD_LOG_LEVEL" $c.logLevel
  "SHIPYARD_CODEC_AUTH" $c.codecAuth
  "SHIPYARD_CODEC_CORS_ORIGINS" (join "," $c.codecCorsOrigins)
  "SHIPYARD_API_HOST" "0.0.0.0"
  "SHIPYARD_API_PORT" (toString (int .Values.api.port))
  "SHIPYARD_WORKER_METRICS_HOST" "0.0.0.0"
  "SHIPYARD_WORKER_METRICS_PORT" (toString (int .Values.worker.metricsPort))
  "SHIPYARD_WORKER_DRAIN_SECONDS" (toString (int .Values.worker.drainSeconds))
  "SHIPYARD_BACKUP_BUCKET" (required "backups.bucket is required: the S3 bucket tenant backups are written to (it must exist already)" $b.bucket)
  "SHIPYARD_BACKUP_PREFIX" $b.prefix
  "SHIPYARD_S3_ENDPOINT" $b.s3Endpoint
  "SHIPYARD_DELETE_GRACE_HOURS" (toString $b.deleteGraceHours)
  "SHIPYARD_FINAL_BACKUP_RETENTION_DAYS" (toString (int $b.finalBackupRetentionDays))
  "SHIPYARD_BACKUP_SWEEP_INTERVAL_SECONDS" (toString (int $b.sweepIntervalSeconds))
  "SHIPYARD_BACKUP_PARALLELISM" (toString (int $b.parallelism))
-}}
{{- $env = merge (deepCopy $c.extraEnv) $env -}}
{{- range $name := keys $env | sortAlpha }}
{{- $value := get $env $name }}
{{- if or (ne (toString $value) "") (has $name $keptEmpty) }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Secret settings: only the keys given a value. */}}
{{- define "shipyard.secretData" -}}
{{- $s := .Values.secrets -}}
{{- $data := dict "DATABASE_URL" $s.databaseUrl "TENANT_DATABASE_URL" $s.tenantDatabaseUrl "SHIPYARD_ADMIN_KEY" $s.adminKey "SHIPYARD_ENCRYPTION_KEYS" $s.encryptionKeys "AWS_ACCESS_KEY_ID" $s.awsAccessKeyId "AWS_SECRET_ACCESS_KEY" $s.awsSecretAccessKey -}}
{{- range $name := keys $data | sortAlpha }}
{{- $value := get $data $name }}
{{- if $value }}
{{ $name }}: {{ $value | b64enc | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "shipyard.podSecurity" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A cluster worker's labels as SHIPYARD_CLUSTER_LABELS wants them: key=value,key=value, sorted. */}}
{{- define "shipyard.clusterLabels" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}
