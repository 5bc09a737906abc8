package v1alpha2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/crds/v1beta1"
)

// AnnL4Rule on a Service of type LoadBalancer names its L4Rule: "name" (in
// the Service's namespace) or "namespace/name".
const AnnL4Rule = "ako.vmware.com/l4rule"

// The profiles AKO's schema defaults an L4Rule to.
const (
	DefaultAnalyticsProfile   = "System-Analytics-Profile"
	DefaultApplicationProfile = "System-L4-Application"
	DefaultNetworkProfile     = "System-TCP-Proxy"
)

// L4RuleSpec is AKO's L4Rule spec: virtual service and per-port pool
// properties of the Services that name the rule.
type L4RuleSpec struct {
	// +optional
	AnalyticsPolicy *L4RuleAnalyticsPolicy `json:"analyticsPolicy,omitempty"`
	// +optional
	// +kubebuilder:default=System-Analytics-Profile
	AnalyticsProfileRef string `json:"analyticsProfileRef,omitempty"`
	// +optional
	// +kubebuilder:default=System-L4-Application
	ApplicationProfileRef string `json:"applicationProfileRef,omitempty"`
	// +optional
	BackendProperties []BackendProperties `json:"backendProperties,omitempty"`
	// +optional
	ListenerProperties []ListenerProperties `json:"listenerProperties,omitempty"`
	// +optional
	LoadBalancerIP string `json:"loadBalancerIP,omitempty"`
	// +optional
	// +kubebuilder:default=System-TCP-Proxy
	NetworkProfileRef string `json:"networkProfileRef,omitempty"`
	// +optional
	NetworkSecurityPolicyRef string `json:"networkSecurityPolicyRef,omitempty"`
	// +optional
	PerformanceLimits *PerformanceLimits `json:"performanceLimits,omitempty"`
	// +optional
	SecurityPolicyRef string `json:"securityPolicyRef,omitempty"`
	// +optional
	SSLKeyAndCertificateRefs []string `json:"sslKeyAndCertificateRefs,omitempty"`
	// +optional
	SSLProfileRef string `json:"sslProfileRef,omitempty"`
	// +optional
	VSDatascriptRefs []string `json:"vsDatascriptRefs,omitempty"`
	// +optional
	// +kubebuilder:default=false
	RevokeVipRoute *bool `json:"revokeVipRoute,omitempty"`
}

// L4RuleAnalyticsPolicy sets client logging of the virtual service.
type L4RuleAnalyticsPolicy struct {
	// +optional
	FullClientLogs *L4RuleFullClientLogs `json:"fullClientLogs,omitempty"`
}

// L4RuleFullClientLogs turns on logging of non-significant connections.
type L4RuleFullClientLogs struct {
	// Minutes; 0 is infinite.
	// +optional
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Duration *uint32 `json:"duration,omitempty"`
	Enabled  bool    `json:"enabled"`
	// Logs per second per SE; 0 turns throttling off.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Throttle *uint32 `json:"throttle,omitempty"`
}

// BackendProperties apply to the pool of one Service port.
type BackendProperties struct {
	// +optional
	AnalyticsPolicy *PoolAnalyticsPolicy `json:"analyticsPolicy,omitempty"`
	// +optional
	ApplicationPersistenceProfileRef string `json:"applicationPersistenceProfileRef,omitempty"`
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`
	// +optional
	HealthMonitorRefs []string `json:"healthMonitorRefs,omitempty"`
	// +optional
	// +kubebuilder:default=LB_ALGORITHM_LEAST_CONNECTIONS
	// +kubebuilder:validation:Enum=LB_ALGORITHM_LEAST_CONNECTIONS;LB_ALGORITHM_ROUND_ROBIN;LB_ALGORITHM_FASTEST_RESPONSE;LB_ALGORITHM_CONSISTENT_HASH;LB_ALGORITHM_LEAST_LOAD;LB_ALGORITHM_FEWEST_SERVERS;LB_ALGORITHM_RANDOM;LB_ALGORITHM_FEWEST_TASKS;LB_ALGORITHM_NEAREST_SERVER;LB_ALGORITHM_CORE_AFFINITY;LB_ALGORITHM_TOPOLOGY
	LBAlgorithm string `json:"lbAlgorithm,omitempty"`
	// +optional
	LBAlgorithmConsistentHashHdr string `json:"lbAlgorithmConsistentHashHdr,omitempty"`
	// +optional
	// +kubebuilder:validation:Enum=LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS;LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS_AND_PORT;LB_ALGORITHM_CONSISTENT_HASH_URI;LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER;LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_STRING;LB_ALGORITHM_CONSISTENT_HASH_CALLID
	LBAlgorithmHash string `json:"lbAlgorithmHash,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	MinServersUp *int32 `json:"minServersUp,omitempty"`
	// +optional
	PKIProfileRef string `json:"pkiProfileRef,omitempty"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// +kubebuilder:validation:Enum=TCP;UDP;SCTP
	Protocol string `json:"protocol"`
	// +optional
	SSLKeyAndCertificateRef string `json:"sslKeyAndCertificateRef,omitempty"`
	// +optional
	SSLProfileRef string `json:"sslProfileRef,omitempty"`
	// HealthMonitorCrdRefs name AKO CRD Operator HealthMonitor objects, which vipgate does not implement.
	// +optional
	HealthMonitorCrdRefs []string `json:"healthMonitorCrdRefs,omitempty"`
}

// PoolAnalyticsPolicy sets the pool's real-time metrics.
type PoolAnalyticsPolicy struct {
	// +optional
	// +kubebuilder:default=false
	EnableRealtimeMetrics *bool `json:"enableRealtimeMetrics,omitempty"`
}

// ListenerProperties turn SSL on for one Service port.
type ListenerProperties struct {
	// +optional
	// +kubebuilder:default=false
	EnableSSL *bool `json:"enableSsl,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// +kubebuilder:validation:Enum=TCP
	Protocol string `json:"protocol"`
}

// PerformanceLimits bound connections and throughput of the virtual service.
type PerformanceLimits struct {
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	MaxConcurrentConnections *int32 `json:"maxConcurrentConnections,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	MaxThroughput *int32 `json:"maxThroughput,omitempty"`
}

// L4Rule is AKO's customisation of the virtual services and pools of the
// Services annotated with ako.vmware.com/l4rule.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=l4rule
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`,description="Status of the L4Rule object."
// +kubebuilder:printcolumn:name="Error",type=string,JSONPath=`.status.error`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`,description="Creation timestamp of the L4Rule object."
type L4Rule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec   L4RuleSpec         `json:"spec,omitempty"`
	Status v1beta1.RuleStatus `json:"status,omitempty"`
}

// L4RuleList is a list of L4Rule.
// +kubebuilder:object:root=true
type L4RuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []L4Rule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&L4Rule{}, &L4RuleList{})
}
