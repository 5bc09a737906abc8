package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HostRule fqdnType values (AKO's): how spec.virtualhost.fqdn matches the
// hosts vipgate serves.
const (
	FqdnTypeExact    = "Exact"
	FqdnTypeWildcard = "Wildcard"
	FqdnTypeContains = "Contains"
)

// Certificate sources of spec.virtualhost.tls.sslKeyCertificate.type: an
// SSLKeyAndCertificate already on the controller, or a Kubernetes TLS Secret.
const (
	CertTypeRef    = "ref"
	CertTypeSecret = "secret"
)

// HostRuleSpec is AKO's HostRule spec: properties of one virtual host.
type HostRuleSpec struct {
	VirtualHost HostRuleVirtualHost `json:"virtualhost"`
}

// HostRuleVirtualHost names the FQDN and what to change on its virtual
// service. Every controller object is named, as in AKO; vipgate checks at
// admission that each exists and is of a usable kind.
type HostRuleVirtualHost struct {
	// +kubebuilder:validation:MaxLength=253
	Fqdn string `json:"fqdn"`
	// +optional
	// +kubebuilder:validation:Enum=Exact;Wildcard;Contains
	// +kubebuilder:default=Exact
	FqdnType string `json:"fqdnType,omitempty"`
	// +optional
	EnableVirtualHost *bool `json:"enableVirtualHost,omitempty"`
	// +optional
	TLS *HostRuleTLS `json:"tls,omitempty"`
	// +optional
	HTTPPolicy *HostRuleHTTPPolicy `json:"httpPolicy,omitempty"`
	// +optional
	WAFPolicy string `json:"wafPolicy,omitempty"`
	// +optional
	ApplicationProfile string `json:"applicationProfile,omitempty"`
	// +optional
	ICAPProfile []string `json:"icapProfile,omitempty"`
	// +optional
	AnalyticsProfile string `json:"analyticsProfile,omitempty"`
	// +optional
	ErrorPageProfile string `json:"errorPageProfile,omitempty"`
	// +optional
	Datascripts []string `json:"datascripts,omitempty"`
	// +optional
	GSLB *HostRuleGSLB `json:"gslb,omitempty"`
	// +optional
	AnalyticsPolicy *HostRuleAnalyticsPolicy `json:"analyticsPolicy,omitempty"`
	// +optional
	TCPSettings *HostRuleTCPSettings `json:"tcpSettings,omitempty"`
	// +optional
	Aliases []string `json:"aliases,omitempty"`
	// +optional
	NetworkSecurityPolicy string `json:"networkSecurityPolicy,omitempty"`
	// L7Rule names an AKO L7Rule; vipgate does not implement L7Rule and says so at admission.
	// +optional
	L7Rule string `json:"l7Rule,omitempty"`
	// +optional
	UseRegex bool `json:"useRegex,omitempty"`
	// +optional
	ApplicationRootPath string `json:"applicationRootPath,omitempty"`
}

// HostRuleTLS replaces the certificate and SSL profile of the host.
type HostRuleTLS struct {
	SSLKeyCertificate HostRuleSSLKeyCertificate `json:"sslKeyCertificate"`
	// +optional
	SSLProfile string `json:"sslProfile,omitempty"`
	// +optional
	// +kubebuilder:validation:Enum=edge
	Termination string `json:"termination,omitempty"`
}

// HostRuleSSLKeyCertificate is a certificate by name: type ref names an
// SSLKeyAndCertificate on the controller, type secret a TLS Secret in the
// HostRule's namespace.
type HostRuleSSLKeyCertificate struct {
	Name string `json:"name"`
	// +kubebuilder:validation:Enum=ref;secret
	Type string `json:"type"`
	// +optional
	AlternateCertificate *HostRuleAlternateCertificate `json:"alternateCertificate,omitempty"`
}

// HostRuleAlternateCertificate is the second certificate (RSA and EC side by side).
type HostRuleAlternateCertificate struct {
	Name string `json:"name"`
	// +kubebuilder:validation:Enum=ref;secret
	Type string `json:"type"`
}

// HostRuleHTTPPolicy adds HTTP policy sets to the host's virtual service;
// overwrite replaces vipgate's own routing policy with them.
type HostRuleHTTPPolicy struct {
	// +optional
	Overwrite bool `json:"overwrite,omitempty"`
	// +optional
	PolicySets []string `json:"policySets,omitempty"`
}

// HostRuleGSLB is AMKO's global FQDN for the host.
type HostRuleGSLB struct {
	// +optional
	Fqdn string `json:"fqdn,omitempty"`
	// +optional
	// +kubebuilder:default=false
	IncludeAliases bool `json:"includeAliases,omitempty"`
}

// HostRuleAnalyticsPolicy sets client logging of the virtual service.
type HostRuleAnalyticsPolicy struct {
	// +optional
	FullClientLogs *HostRuleFullClientLogs `json:"fullClientLogs,omitempty"`
	// +optional
	// +kubebuilder:default=false
	LogAllHeaders *bool `json:"logAllHeaders,omitempty"`
}

// HostRuleFullClientLogs turns on logging of non-significant requests.
type HostRuleFullClientLogs struct {
	// +optional
	// +kubebuilder:default=false
	Enabled *bool `json:"enabled,omitempty"`
	// +optional
	// +kubebuilder:validation:Enum=LOW;MEDIUM;HIGH;DISABLED
	// +kubebuilder:default=HIGH
	Throttle string `json:"throttle,omitempty"`
	// Minutes; 0 is infinite.
	// +optional
	// +kubebuilder:default=0
	Duration *uint32 `json:"duration,omitempty"`
}

// HostRuleTCPSettings are the listening ports and requested VIP of a shared
// or dedicated parent virtual service.
type HostRuleTCPSettings struct {
	// +optional
	Listeners []HostRuleListener `json:"listeners,omitempty"`
	// +optional
	LoadBalancerIP string `json:"loadBalancerIP,omitempty"`
}

// HostRuleListener is one listening port.
type HostRuleListener struct {
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int `json:"port,omitempty"`
	// +optional
	EnableSSL bool `json:"enableSSL,omitempty"`
}

// RuleStatus is the status of HostRule, HTTPRule and L4Rule: AKO's
// status/error pair plus standard conditions.
type RuleStatus struct {
	// Accepted or Rejected.
	// +optional
	Status string `json:"status,omitempty"`
	// Why the rule was rejected.
	// +optional
	Error string `json:"error,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// HostRule is AKO's per-FQDN customisation of a virtual service.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=hostrule;hr
// +kubebuilder:printcolumn:name="Host",type=string,JSONPath=`.spec.virtualhost.fqdn`,description="virtualhost for which the hostrule is valid"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`,description="status of the hostrule object"
// +kubebuilder:printcolumn:name="Error",type=string,JSONPath=`.status.error`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HostRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   HostRuleSpec `json:"spec"`
	Status RuleStatus   `json:"status,omitempty"`
}

// HostRuleList is a list of HostRule.
// +kubebuilder:object:root=true
type HostRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HostRule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&HostRule{}, &HostRuleList{})
}
