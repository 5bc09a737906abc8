{{/*
Name of the release's objects: the release name, with the chart name appended
unless the release name already contains it.
*/}}
{{- define "vipgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vipgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "vipgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vipgate.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The webhook Service; the serving certificate is issued for its DNS names. */}}
{{- define "vipgate.webhookServiceName" -}}
{{- printf "%s-webhook" (include "vipgate.fullname" .) -}}
{{- end -}}

{{/* Secret the self-managed certificates live in: certs.SecretNameFor(serviceName). */}}
{{- define "vipgate.selfManagedCertSecret" -}}
{{- printf "%s-certs" (include "vipgate.webhookServiceName" .) -}}
{{- end -}}

{{- define "vipgate.servingCertName" -}}
{{- printf "%s-webhook" (include "vipgate.fullname" .) -}}
{{- end -}}

{{- define "vipgate.servingSecretName" -}}
{{- printf "%s-webhook-tls" (include "vipgate.fullname" .) -}}
{{- end -}}

{{- define "vipgate.credentialsSecretName" -}}
{{- default (printf "%s-avi-credentials" (include "vipgate.fullname" .)) .Values.vipgate.existingCredentialsSecret -}}
{{- end -}}

{{- define "vipgate.image" -}}
{{- $img := .Values.vipgate.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* "true" when an AKO boolean (true or the string 'true') is set, else "". */}}
{{- define "vipgate.true" -}}
{{- if eq (toString .) "true" -}}true{{- end -}}
{{- end -}}

{{/*
Whether the IngressClass is the cluster default: vipgate.ingressClass.isDefault
when set, else L7Settings.defaultIngController (AKO's behaviour).
*/}}
{{- define "vipgate.ingressClassIsDefault" -}}
{{- $v := .Values.vipgate.ingressClass.isDefault -}}
{{- if or (kindIs "invalid" $v) (eq (toString $v) "") -}}
{{- include "vipgate.true" .Values.L7Settings.defaultIngController -}}
{{- else -}}
{{- include "vipgate.true" $v -}}
{{- end -}}
{{- end -}}

{{/*
The settings keys vipgate reads, per section: exactly the JSON keys of
config.Settings (a test keeps them equal). vipgate parses settings strictly, so
AKO keys it does not know are left out here rather than failing start-up.
*/}}
{{- define "vipgate.settingsKeys" -}}
AKOSettings: [primaryInstance, enableEvents, logLevel, fullSyncFrequency, apiServerPort, deleteConfig, disableStaticRouteSync, clusterName, cniPlugin, enableEVH, layer7Only, namespaceSelector, servicesAPI, vipPerNamespace, istioEnabled, blockedNamespaceList, ipFamily, useDefaultSecretsOnly, adoptAKOObjects, akoNamespace]
NetworkSettings: [nodeNetworkList, vipNetworkList, enableRHI, nsxtT1LR, bgpPeerLabels, defaultDomain]
L7Settings: [defaultIngController, noPGForSNI, serviceType, shardVSSize, passthroughShardSize, fqdnReusePolicy]
L4Settings: [defaultDomain, autoFQDN, defaultLBController]
ControllerSettings: [serviceEngineGroupName, controllerVersion, cloudName, controllerHost, tenantName, vrfName, insecureSkipVerify]
nodePortSelector: [key, value]
{{- end -}}

{{/* The settings document: the known keys of each AKO section that are set. */}}
{{- define "vipgate.settings" -}}
{{- $known := include "vipgate.settingsKeys" . | fromYaml -}}
{{- $out := dict -}}
{{- range $section, $keys := $known -}}
{{- $values := index $.Values $section | default dict -}}
{{- $picked := dict -}}
{{- range $keys -}}
{{- if and (hasKey $values .) (not (kindIs "invalid" (index $values .))) -}}
{{- $_ := set $picked . (index $values .) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $out $section $picked -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* AKO keys in the settings sections that vipgate ignores, for NOTES.txt. */}}
{{- define "vipgate.ignoredKeys" -}}
{{- $known := include "vipgate.settingsKeys" . | fromYaml -}}
{{- $ignored := list -}}
{{- range $section, $keys := $known -}}
{{- $values := index $.Values $section | default dict -}}
{{- range $key, $_ := $values -}}
{{- if not (has $key $keys) -}}
{{- $ignored = append $ignored (printf "%s.%s" $section $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- join ", " $ignored -}}
{{- end -}}

{{/*
Webhook namespaceSelector: never kube-system nor vipgate's own namespace, so a
broken vipgate cannot block the cluster's or its own recovery. Mirrors
webhooks.ConfigOptions.namespaceSelector.
*/}}
{{- define "vipgate.webhookNamespaceSelector" -}}
namespaceSelector:
  matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
    - kube-system
    {{- if ne .Release.Namespace "kube-system" }}
    - {{ .Release.Namespace }}
    {{- end }}
{{- end -}}

{{/* Webhook clientConfig for a path; caBundle is injected later. */}}
{{- define "vipgate.webhookClientConfig" -}}
clientConfig:
  service:
    namespace: {{ .root.Release.Namespace }}
    name: {{ include "vipgate.webhookServiceName" .root }}
    path: {{ .path }}
    port: 443
{{- end -}}

{{/*
Mirrors webhooks.ConfigOptions.ServiceMatchConditions: class-less Services only
with L4Settings.defaultLBController, none with AKOSettings.layer7Only.
*/}}
{{- define "vipgate.serviceMatchConditions" -}}
matchConditions:
- name: is-load-balancer
  expression: "(has(object.spec.type) && object.spec.type == 'LoadBalancer') || (oldObject != null && has(oldObject.spec.type) && oldObject.spec.type == 'LoadBalancer')"
- name: owned-by-vipgate
  {{- if include "vipgate.true" .Values.AKOSettings.layer7Only }}
  expression: "false"
  {{- else if include "vipgate.true" .Values.L4Settings.defaultLBController }}
  expression: "!has(object.spec.loadBalancerClass) || object.spec.loadBalancerClass == 'ako.vmware.com/avi-lb'"
  {{- else }}
  expression: "has(object.spec.loadBalancerClass) && object.spec.loadBalancerClass == 'ako.vmware.com/avi-lb'"
  {{- end }}
{{- end -}}

{{/*
Mirrors webhooks.IngressCondition for the chart's IngressClass: what
webhooks.ClassSync writes when that class is vipgate's only one: class-less
Ingresses are vipgate's when the class is the cluster default
(vipgate.ingressClassIsDefault) and L7Settings.defaultIngController is on. With
vipgate.webhook.followIngressClasses, the leader then keeps the condition equal
to every IngressClass of controller ako.vmware.com/avi-lb.
*/}}
{{- define "vipgate.ingressMatchConditions" -}}
{{- $classes := printf "['%s']" .Values.vipgate.ingressClass.name -}}
matchConditions:
- name: vipgate-ingress-class
  {{- if and (include "vipgate.ingressClassIsDefault" .) (include "vipgate.true" .Values.L7Settings.defaultIngController) }}
  expression: {{ printf "!has(object.spec.ingressClassName) || object.spec.ingressClassName in %s" $classes | quote }}
  {{- else }}
  expression: {{ printf "has(object.spec.ingressClassName) && object.spec.ingressClassName in %s" $classes | quote }}
  {{- end }}
{{- end -}}

{{/*
Mirrors webhooks.GatewayCondition: Gateways of vipgate.gatewayAPI.gatewayClasses.
*/}}
{{- define "vipgate.gatewayCondition" -}}
{{- $quoted := list -}}
{{- range .Values.vipgate.gatewayAPI.gatewayClasses -}}
{{- $quoted = append $quoted (printf "'%s'" .) -}}
{{- end -}}
{{- printf "object.spec.gatewayClassName in [%s]" (join ", " $quoted) -}}
{{- end -}}

{{- define "vipgate.webhookAnnotations" -}}
{{- if .Values.vipgate.certManager.enabled -}}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "vipgate.servingCertName" .) }}
{{- end -}}
{{- end -}}

{{/* PromQL label matchers selecting this release's vipgate series (alerts). */}}
{{- define "vipgate.ruleSelector" -}}
{{- default (printf "namespace=%q" .Release.Namespace) .Values.vipgate.prometheusRule.selector -}}
{{- end -}}
