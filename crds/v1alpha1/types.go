package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/crds/v1beta1"
)

// HostRule at ako.vmware.com/v1alpha1, with v1beta1's spec and status.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hostrule;hr
// +kubebuilder:printcolumn:name="Host",type=string,JSONPath=`.spec.virtualhost.fqdn`,description="virtualhost for which the hostrule is valid"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`,description="status of the hostrule object"
// +kubebuilder:printcolumn:name="Error",type=string,JSONPath=`.status.error`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HostRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   v1beta1.HostRuleSpec `json:"spec"`
	Status v1beta1.RuleStatus   `json:"status,omitempty"`
}

// HostRuleList is a list of HostRule.
// +kubebuilder:object:root=true
type HostRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HostRule `json:"items"`
}

// HTTPRule at ako.vmware.com/v1alpha1, with v1beta1's spec and status.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=httprule
// +kubebuilder:printcolumn:name="HOST",type=string,JSONPath=`.spec.fqdn`,description="fqdn associated with the httprule"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`,description="status of the httprule object"
// +kubebuilder:printcolumn:name="Error",type=string,JSONPath=`.status.error`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HTTPRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   v1beta1.HTTPRuleSpec `json:"spec"`
	Status v1beta1.RuleStatus   `json:"status,omitempty"`
}

// HTTPRuleList is a list of HTTPRule.
// +kubebuilder:object:root=true
type HTTPRuleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HTTPRule `json:"items"`
}

func init() {
	SchemeBuilder.Register(&HostRule{}, &HostRuleList{}, &HTTPRule{}, &HTTPRuleList{})
}
