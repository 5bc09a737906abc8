package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Load-balancing algorithms and consistent-hash keys of pools, as the
// controller spells them (Pool.lb_algorithm and lb_algorithm_hash).
const (
	LBAlgorithmConsistentHash   = "LB_ALGORITHM_CONSISTENT_HASH"
	LBAlgorithmLeastConnections = "LB_ALGORITHM_LEAST_CONNECTIONS"
	LBAlgorithmRoundRobin       = "LB_ALGORITHM_ROUND_ROBIN"
	LBHashSourceIP              = "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS"
	LBHashCustomHeader          = "LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER"
	LBHashCustomString          = "LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_STRING"
	LBHashCallID                = "LB_ALGORITHM_CONSISTENT_HASH_CALLID"
)

// TLSTypeReencrypt is the one HTTPRule tls.type: TLS from the Service Engine to the pool's servers.
const TLSTypeReencrypt = "reencrypt"

// HTTPRuleSpec is AKO's HTTPRule spec: pool properties per path of one FQDN.
type HTTPRuleSpec struct {
	// +kubebuilder:validation:MaxLength=253
	Fqdn string `json:"fqdn"`
	// +optional
	Paths []HTTPRulePath `json:"paths,omitempty"`
}

// HTTPRulePath applies to the pools of the Ingress paths that start with Target.
type HTTPRulePath struct {
	// +kubebuilder:validation:Pattern=`^\/.*$`
	Target string `json:"target"`
	// +optional
	LoadBalancerPolicy *HTTPRuleLBPolicy `json:"loadBalancerPolicy,omitempty"`
	// +optional
	HealthMonitors []string `json:"healthMonitors,omitempty"`
	// +optional
	ApplicationPersistence string `json:"applicationPersistence,omitempty"`
	// +optional
	TLS *HTTPRuleTLS `json:"tls,omitempty"`
	// +optional
	EnableHTTP2 *bool `json:"enableHTTP2,omitempty"`
}

// HTTPRuleLBPolicy is the pool's algorithm; Hash applies with
// LB_ALGORITHM_CONSISTENT_HASH, HostHeader with the custom-header hash.
type HTTPRuleLBPolicy struct {
	// +optional
	// +kubebuilder:validation:Enum=LB_ALGORITHM_CONSISTENT_HASH;LB_ALGORITHM_CORE_AFFINITY;LB_ALGORITHM_FASTEST_RESPONSE;LB_ALGORITHM_FEWEST_SERVERS;LB_ALGORITHM_LEAST_CONNECTIONS;LB_ALGORITHM_LEAST_LOAD;LB_ALGORITHM_ROUND_ROBIN
	Algorithm string `json:"algorithm,omitempty"`
	// +optional
	// +kubebuilder:validation:Enum=LB_ALGORITHM_CONSISTENT_HASH_CALLID;LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS;LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS_AND_PORT;LB_ALGORITHM_CONSISTENT_HASH_URI;LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER;LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_STRING
	Hash string `json:"hash,omitempty"`
	// +optional
	HostHeader string `json:"hostHeader,omitempty"`
}

// HTTPRuleTLS re-encrypts traffic to the pool's servers.
type HTTPRuleTLS struct {
	// +kubebuilder:validation:Enum=reencrypt
	Type string `json:"type"`
	// +optional
	SSLProfile string `json:"sslProfile,omitempty"`
	// +optional
	PKIProfile string `json:"pkiProfile,omitempty"`
	// +optional
	DestinationCA string `json:"destinationCA,omitempty"`
}

// HTTPRule is AKO's per-FQDN-and-path customisation of pools.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=httprule
// +kubebuilder:printcolumn:name="HOST",type=string,JSONPath=`.spec.fqdn`,description="fqdn associated with the httprule"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`,description="status of the httprule object"
// +kubebuilder:printcolumn:name="Error",type=string,JSONPath=`.status.error`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HTTPRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   HTTPRuleSpec `json:"spec"`
	Status RuleStatus   `json:"status,omitempty"`
}

// HTTPRuleList is a list of HTTPRule.
// +kubebuilder:object:root=true
type HTTPRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HTTPRule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&HTTPRule{}, &HTTPRuleList{})
}
