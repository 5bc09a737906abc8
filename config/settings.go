// Package config holds vipgate's settings: one YAML document whose sections and
// keys are AKO's Helm values, so an AKO values.yaml carries over unchanged.
// Credentials never live here; they come from a Secret or a file.
package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Settings is the whole settings file. Section and key names are AKO's.
type Settings struct {
	AKOSettings        AKOSettings        `json:"AKOSettings"`
	NetworkSettings    NetworkSettings    `json:"NetworkSettings"`
	L7Settings         L7Settings         `json:"L7Settings"`
	L4Settings         L4Settings         `json:"L4Settings"`
	ControllerSettings ControllerSettings `json:"ControllerSettings"`
	NodePortSelector   NodePortSelector   `json:"nodePortSelector"`

	// ClusterID is the cluster's stable identity (the kube-system
	// Namespace's UID), read at start-up, not from the settings file. It
	// marks every controller object vipgate writes, so two clusters that
	// share a clusterName never take each other's objects.
	ClusterID string `json:"-"`
}

// AKOSettings is AKO's general section.
type AKOSettings struct {
	PrimaryInstance        Bool              `json:"primaryInstance"`
	EnableEvents           Bool              `json:"enableEvents"`
	LogLevel               string            `json:"logLevel" validate:"omitempty,oneof=INFO DEBUG WARN ERROR"`
	FullSyncFrequency      string            `json:"fullSyncFrequency" validate:"omitempty,number"`
	APIServerPort          int               `json:"apiServerPort" validate:"omitempty,min=1,max=65535"`
	DeleteConfig           Bool              `json:"deleteConfig"`
	DisableStaticRouteSync Bool              `json:"disableStaticRouteSync"`
	ClusterName            string            `json:"clusterName" validate:"required,max=32,clustername"`
	CNIPlugin              string            `json:"cniPlugin" validate:"omitempty,oneof=calico canal flannel antrea ncp openshift ovn-kubernetes cilium"`
	EnableEVH              Bool              `json:"enableEVH"`
	Layer7Only             Bool              `json:"layer7Only"`
	NamespaceSelector      NamespaceSelector `json:"namespaceSelector"`
	ServicesAPI            Bool              `json:"servicesAPI"`
	VIPPerNamespace        Bool              `json:"vipPerNamespace"`
	IstioEnabled           Bool              `json:"istioEnabled"`
	BlockedNamespaceList   []string          `json:"blockedNamespaceList" validate:"dive,dns1123label"`
	IPFamily               string            `json:"ipFamily" validate:"omitempty,oneof=V4 V6"`
	UseDefaultSecretsOnly  Bool              `json:"useDefaultSecretsOnly"`
	// AdoptAKOObjects is vipgate's own key: the controller objects AKO
	// created under this clusterName for Kubernetes objects vipgate now
	// owns are taken over in place (VIPs kept), and AKO's Ingress finalizer
	// is removed. false leaves AKO's objects alone, and refuses the names
	// and addresses they hold.
	AdoptAKOObjects Bool `json:"adoptAKOObjects"`
	// AKONamespace is vipgate's own key: where AKO runs (its StatefulSet
	// "ako" and its Lease "ako-lease-lock"); nothing is adopted while it runs.
	AKONamespace string `json:"akoNamespace" validate:"omitempty,dns1123label"`
}

// NamespaceSelector limits vipgate to namespaces carrying one label.
type NamespaceSelector struct {
	LabelKey   string `json:"labelKey" validate:"required_with=LabelValue"`
	LabelValue string `json:"labelValue"`
}

// NetworkSettings names the networks VIPs and nodes live on.
type NetworkSettings struct {
	NodeNetworkList []NodeNetwork `json:"nodeNetworkList" validate:"dive"`
	VIPNetworkList  []VIPNetwork  `json:"vipNetworkList" validate:"dive"`
	EnableRHI       Bool          `json:"enableRHI"`
	NSXTT1LR        string        `json:"nsxtT1LR"`
	BGPPeerLabels   []string      `json:"bgpPeerLabels"`
	DefaultDomain   string        `json:"defaultDomain" validate:"omitempty,fqdn"`
}

// VIPNetwork is one entry of vipNetworkList (AKO's shape).
type VIPNetwork struct {
	NetworkName string `json:"networkName" validate:"required_without=NetworkUUID"`
	NetworkUUID string `json:"networkUUID"`
	CIDR        string `json:"cidr" validate:"omitempty,cidrv4"`
	V6CIDR      string `json:"v6cidr" validate:"omitempty,cidrv6"`
}

// NodeNetwork is one entry of nodeNetworkList.
type NodeNetwork struct {
	NetworkName string   `json:"networkName" validate:"required_without=NetworkUUID"`
	NetworkUUID string   `json:"networkUUID"`
	CIDRs       []string `json:"cidrs" validate:"dive,cidr"`
}

// L7Settings governs Ingress handling.
type L7Settings struct {
	DefaultIngController Bool   `json:"defaultIngController"`
	NoPGForSNI           Bool   `json:"noPGForSNI"`
	ServiceType          string `json:"serviceType" validate:"oneof=ClusterIP NodePort NodePortLocal"`
	ShardVSSize          string `json:"shardVSSize" validate:"oneof=LARGE MEDIUM SMALL DEDICATED"`
	PassthroughShardSize string `json:"passthroughShardSize" validate:"omitempty,oneof=LARGE MEDIUM SMALL"`
	FQDNReusePolicy      string `json:"fqdnReusePolicy" validate:"oneof=InterNamespaceAllowed Strict"`
}

// L4Settings governs Services of type LoadBalancer.
type L4Settings struct {
	DefaultDomain       string `json:"defaultDomain" validate:"omitempty,fqdn"`
	AutoFQDN            string `json:"autoFQDN" validate:"oneof=default flat disabled"`
	DefaultLBController Bool   `json:"defaultLBController"`
}

// ControllerSettings says which controller, cloud and tenant to use.
type ControllerSettings struct {
	ServiceEngineGroupName string `json:"serviceEngineGroupName" validate:"required"`
	ControllerVersion      string `json:"controllerVersion" validate:"omitempty,aviversion"`
	CloudName              string `json:"cloudName" validate:"required"`
	ControllerHost         string `json:"controllerHost" validate:"required,hostport"`
	TenantName             string `json:"tenantName" validate:"required"`
	VRFName                string `json:"vrfName"`
	// InsecureSkipVerify turns off the verification of the controller's TLS
	// certificate. It is vipgate's own key: AKO skips verification whenever
	// the credentials carry no certificateAuthorityData, which sends the
	// password to whoever answers; vipgate verifies unless told not to here.
	InsecureSkipVerify Bool `json:"insecureSkipVerify"`
}

// NodePortSelector picks the nodes used as pool servers in NodePort mode.
type NodePortSelector struct {
	Key   string `json:"key" validate:"required_with=Value"`
	Value string `json:"value"`
}

// Bool accepts both YAML booleans and AKO's quoted 'true'/'false' strings,
// because AKO's values.yaml uses both forms.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (b *Bool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(data), `"`)
	if s == "" || s == "null" {
		*b = false
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("must be true or false, got %s", string(data))
	}
	*b = Bool(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (b Bool) MarshalJSON() ([]byte, error) { return json.Marshal(bool(b)) }

// Defaults returns AKO's values.yaml defaults.
func Defaults() Settings {
	return Settings{
		AKOSettings: AKOSettings{
			PrimaryInstance:   true,
			EnableEvents:      true,
			LogLevel:          "WARN",
			FullSyncFrequency: "1800",
			APIServerPort:     8080,
			AdoptAKOObjects:   true,
			AKONamespace:      "avi-system",
		},
		L7Settings: L7Settings{
			DefaultIngController: true,
			ServiceType:          "ClusterIP",
			ShardVSSize:          "LARGE",
			PassthroughShardSize: "SMALL",
			FQDNReusePolicy:      "InterNamespaceAllowed",
		},
		L4Settings: L4Settings{
			AutoFQDN:            "default",
			DefaultLBController: true,
		},
		ControllerSettings: ControllerSettings{
			ServiceEngineGroupName: "Default-Group",
			CloudName:              "Default-Cloud",
			TenantName:             "admin",
		},
	}
}

// AKOCreatedBy is the created_by AKO writes for this clusterName.
func (s *Settings) AKOCreatedBy() string { return "ako-" + s.AKOSettings.ClusterName }

// AdoptFromAKO returns AKOCreatedBy when AKO's objects are to be adopted, else "".
func (s *Settings) AdoptFromAKO() string {
	if !s.AKOSettings.AdoptAKOObjects {
		return ""
	}
	return s.AKOCreatedBy()
}

// VRF returns the VRF context to use: the configured one, else "global".
func (s *Settings) VRF() string {
	if s.ControllerSettings.VRFName != "" {
		return s.ControllerSettings.VRFName
	}
	return "global"
}

// CreatedBy is the created_by marker on every controller object of this cluster.
func (s *Settings) CreatedBy() string { return "vipgate-" + s.AKOSettings.ClusterName }

// ShardCount is the number of shared L7 virtual services for shardVSSize;
// 0 means DEDICATED (one virtual service per host).
func (s *Settings) ShardCount() int { return ShardCount(s.L7Settings.ShardVSSize) }

// ShardCount maps a shard size name to its number of shared virtual services.
func ShardCount(size string) int {
	switch size {
	case "LARGE":
		return 8
	case "MEDIUM":
		return 4
	case "SMALL":
		return 1
	}
	return 0
}
