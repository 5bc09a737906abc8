package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AviInfraSettingSpec selects the SE group, VIP networks and L7 shard size for
// the Services, Ingresses and namespaces that name this setting. It has every
// field of AKO's schema, so any AKO manifest applies; the ones vipgate does
// not act on are reported, never refused.
type AviInfraSettingSpec struct {
	// +optional
	Network AviInfraSettingNetwork `json:"network,omitempty"`
	// +optional
	SeGroup AviInfraSettingSeGroup `json:"seGroup,omitempty"`
	// +optional
	L7Settings AviInfraL7Settings `json:"l7Settings,omitempty"`
	// NSXSettings is AKO's NSX-T setting (the tier-1 router); vipgate does
	// not act on it.
	// +optional
	NSXSettings AviInfraNSXSettings `json:"nsxSettings,omitempty"`
}

// AviInfraNSXSettings names the NSX-T tier-1 logical router (AKO's t1lr).
type AviInfraNSXSettings struct {
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	T1LR *string `json:"t1lr,omitempty"`
}

// AviInfraSettingNetwork names the VIP networks and routing options.
// Uniqueness compares only entries that carry the field, so an entry with
// neither name nor UUID gets the "exactly one of" message alone.
// +kubebuilder:validation:XValidation:rule="!has(self.vipNetworks) || (self.vipNetworks.all(a, !has(a.networkName) || self.vipNetworks.exists_one(b, has(b.networkName) && b.networkName == a.networkName)) && self.vipNetworks.all(a, !has(a.networkUUID) || self.vipNetworks.exists_one(b, has(b.networkUUID) && b.networkUUID == a.networkUUID)))",message="vipNetworks must not name the same network twice"
type AviInfraSettingNetwork struct {
	// +optional
	// +kubebuilder:validation:MaxItems=16
	VipNetworks []AviInfraSettingVipNetwork `json:"vipNetworks,omitempty"`
	// +optional
	EnableRhi *bool `json:"enableRhi,omitempty"`
	// +optional
	EnablePublicIP *bool `json:"enablePublicIP,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=64
	BgpPeerLabels []string `json:"bgpPeerLabels,omitempty"`
	// NodeNetworks are AKO's node networks for NodePort pools; vipgate
	// does not act on them.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	NodeNetworks []AviInfraSettingNodeNetwork `json:"nodeNetworks,omitempty"`
	// Listeners are AKO's extra ports of the L7 shard virtual services;
	// vipgate does not act on them.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Listeners []AviInfraListeners `json:"listeners,omitempty"`
}

// AviInfraSettingNodeNetwork is a node network by name or UUID with its CIDRs.
type AviInfraSettingNodeNetwork struct {
	// +optional
	// +kubebuilder:validation:MaxLength=256
	NetworkName string `json:"networkName,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=256
	NetworkUUID string `json:"networkUUID,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=43
	Cidrs []string `json:"cidrs,omitempty"`
}

// AviInfraListeners is one listening port of the L7 shard virtual services.
type AviInfraListeners struct {
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int `json:"port"`
	// +optional
	EnableSSL *bool `json:"enableSSL,omitempty"`
	// +optional
	EnableHTTP2 *bool `json:"enableHTTP2,omitempty"`
}

// AviInfraSettingVipNetwork is one VIP network, by name or by UUID, with an
// optional subnet of that network to allocate from.
// +kubebuilder:validation:XValidation:rule="has(self.networkName) != has(self.networkUUID)",message="exactly one of networkName or networkUUID must be set"
type AviInfraSettingVipNetwork struct {
	// +optional
	// +kubebuilder:validation:MaxLength=256
	NetworkName string `json:"networkName,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=256
	NetworkUUID string `json:"networkUUID,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4",message="cidr must be an IPv4 CIDR such as 10.50.0.0/24"
	Cidr string `json:"cidr,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 6",message="v6cidr must be an IPv6 CIDR such as 2001:db8::/64"
	V6Cidr string `json:"v6cidr,omitempty"`
}

// AviInfraSettingSeGroup names the Service Engine group.
type AviInfraSettingSeGroup struct {
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name,omitempty"`
}

// AviInfraL7Settings sets the L7 shard size for Ingresses using this setting.
type AviInfraL7Settings struct {
	// +optional
	// +kubebuilder:validation:Enum=SMALL;MEDIUM;LARGE;DEDICATED
	ShardSize string `json:"shardSize,omitempty"`
}

// AviInfraSettingStatus carries AKO's status/error pair plus standard conditions.
type AviInfraSettingStatus struct {
	// Accepted or Rejected.
	// +optional
	Status string `json:"status,omitempty"`
	// Why the setting was rejected.
	// +optional
	Error string `json:"error,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// AviInfraSetting is AKO's cluster-scoped infrastructure selection, served
// at v1alpha1 and v1beta1 (stored) with one schema.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ais
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="SEGroup",type=string,JSONPath=`.spec.seGroup.name`
// +kubebuilder:printcolumn:name="Error",type=string,JSONPath=`.status.error`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AviInfraSetting struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AviInfraSettingSpec   `json:"spec,omitempty"`
	Status AviInfraSettingStatus `json:"status,omitempty"`
}

// AviInfraSettingList is a list of AviInfraSetting.
// +kubebuilder:object:root=true
type AviInfraSettingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AviInfraSetting `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AviInfraSetting{}, &AviInfraSettingList{})
}
