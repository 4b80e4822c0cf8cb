{{/*
The Temporal connection of the API and the worker (README, "Temporal connection"): Temporal's
standard variables (TEMPORAL_TLS, TEMPORAL_TLS_*_PATH, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_API_KEY),
pointing at the files of temporal.tls.existingSecret mounted at shipyard.temporalTlsDir. Not in the
ConfigMap: the migration Job does not mount the Secret (and does not talk to Temporal), and Shipyard
refuses at boot a certificate path it cannot read. Each is empty when nothing is configured.
*/}}
{{- define "shipyard.temporalTlsDir" -}}
/etc/shipyard/temporal-tls
{{- end -}}

{{- define "shipyard.temporalTlsMounted" -}}
{{- if and .Values.temporal.tls.enabled .Values.temporal.tls.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "shipyard.temporalEnv" -}}
{{- $tls := .Values.temporal.tls -}}
{{- $dir := include "shipyard.temporalTlsDir" . -}}
{{- if and $tls.existingSecret (not $tls.enabled) -}}
{{- fail "temporal.tls.existingSecret is set while temporal.tls.enabled is false: set temporal.tls.enabled=true to connect to Temporal with TLS" -}}
{{- end -}}
{{- if and $tls.enabled $tls.existingSecret (ne (not $tls.certKey) (not $tls.keyKey)) -}}
{{- fail "temporal.tls.certKey and temporal.tls.keyKey go together: a client certificate needs its key (or set both empty)" -}}
{{- end -}}
{{- if $tls.enabled }}
- name: TEMPORAL_TLS
  value: "true"
{{- if $tls.existingSecret }}
{{- range $variable, $key := dict "TEMPORAL_TLS_SERVER_CA_CERT_PATH" $tls.caKey "TEMPORAL_TLS_CLIENT_CERT_PATH" $tls.certKey "TEMPORAL_TLS_CLIENT_KEY_PATH" $tls.keyKey }}
{{- if $key }}
- name: {{ $variable }}
  value: {{ printf "%s/%s" $dir $key | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with $tls.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- with .Values.temporal.apiKey.existingSecret }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.temporal.apiKey.key }}
{{- end }}
{{- end -}}

{{- define "shipyard.temporalTlsVolumeMount" -}}
{{- if include "shipyard.temporalTlsMounted" . }}
- name: temporal-tls
  mountPath: {{ include "shipyard.temporalTlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* Mode 288 is 0440: readable by the pod's user and fsGroup only. */}}
{{- define "shipyard.temporalTlsVolume" -}}
{{- $tls := .Values.temporal.tls -}}
{{- if include "shipyard.temporalTlsMounted" . }}
- name: temporal-tls
  secret:
    secretName: {{ $tls.existingSecret }}
    defaultMode: 288
    items:
      {{- range $key := list $tls.caKey $tls.certKey $tls.keyKey | compact | uniq }}
      - { key: {{ $key | quote }}, path: {{ $key | quote }} }
      {{- end }}
{{- end }}
{{- end -}}
