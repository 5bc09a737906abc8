package avisim

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/vmware/alb-sdk/go/models"
	"sigs.k8s.io/yaml"
)

//go:embed seeds/*.yaml
var seedFS embed.FS

// Seed is the initial controller inventory, loaded from YAML.
type Seed struct {
	// Version overrides the controller version reported to clients.
	Version string `json:"version,omitempty"`
	// LicenseTier is systemconfiguration.default_license_tier (ENTERPRISE
	// when empty; ESSENTIALS, BASIC, ENTERPRISE_WITH_CLOUD_SERVICES, ...).
	// Clouds created by the seed take it unless they name their own.
	LicenseTier string        `json:"license_tier,omitempty"`
	Tenants     []string      `json:"tenants,omitempty"`
	Users       []SeedUser    `json:"users,omitempty"`
	Clouds      []SeedCloud   `json:"clouds,omitempty"`
	VRFs        []SeedVRF     `json:"vrfs,omitempty"`
	SEGroups    []SeedSEGroup `json:"se_groups,omitempty"`
	Networks    []SeedNetwork `json:"networks,omitempty"`
	// Objects are created last, in order, through the same path as a POST
	// (strict decoding, references by name, required fields), e.g. a custom
	// WAF policy. The license tier does not refuse them (an admin may have
	// made them on another tier); virtual services that use them are judged
	// by it.
	Objects []SeedObject `json:"objects,omitempty"`
}

// SeedObject is one object of any served type, given as the JSON body a
// client would POST to /api/<type> in the admin tenant.
type SeedObject struct {
	Type string          `json:"type"`
	Body json.RawMessage `json:"body"`
}

// SeedUser is a local user accepted by POST /login.
type SeedUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// SeedCloud is a cloud. IPAMNetworks names the usable networks of an IPAM
// profile ("<cloud>-ipam" unless IPAMProfile is set) that the cloud
// references; VsVips that name no network allocate from them.
//
// IPAMType is the profile's type: IPAMDNS_TYPE_INTERNAL (the default: Avi
// hands out addresses from the networks' static ranges), or a provider's,
// IPAMDNS_TYPE_AWS, IPAMDNS_TYPE_AZURE or IPAMDNS_TYPE_GCP (with
// use_gcp_network), where the provider hands out any free address of the
// network's subnets and static ranges play no part. On AWS, the networks'
// availability zones become the profile's zones.
//
// DNSDomains, when set, become the service domains of an internal DNS
// profile ("<cloud>-dns") the cloud references as its dns_provider_ref.
// LicenseTier overrides the seed's tier for this cloud.
type SeedCloud struct {
	Name         string   `json:"name"`
	Vtype        string   `json:"vtype"`
	IPAMNetworks []string `json:"ipam_networks,omitempty"`
	IPAMProfile  string   `json:"ipam_profile,omitempty"`
	IPAMType     string   `json:"ipam_type,omitempty"`
	DNSDomains   []string `json:"dns_domains,omitempty"`
	LicenseTier  string   `json:"license_tier,omitempty"`
}

// SeedVRF is a VRF context of a cloud.
type SeedVRF struct {
	Name  string `json:"name"`
	Cloud string `json:"cloud"`
}

// SeedSEGroup is a service engine group with optional labels. The cloud
// overrides of two-arm mode name, per SE group, where its SEs attach:
// AzureDataSubnet (data_network_id, a seeded network) on Azure, and the
// backend VPC and subnet of gcp_config on GCP, so each cluster's SEs sit in
// that cluster's network.
type SeedSEGroup struct {
	Name             string      `json:"name"`
	Cloud            string      `json:"cloud"`
	Labels           []SeedLabel `json:"labels,omitempty"`
	AzureDataSubnet  string      `json:"azure_data_subnet,omitempty"`
	GCPBackendVPC    string      `json:"gcp_backend_vpc,omitempty"`
	GCPBackendSubnet string      `json:"gcp_backend_subnet,omitempty"`
}

// SeedLabel is a key/value label.
type SeedLabel struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// SeedNetwork is a network with configured subnets. AvailabilityZone (AWS)
// is stored as the network attribute "availability_zone" and copied into
// the vips allocated from it.
type SeedNetwork struct {
	Name             string       `json:"name"`
	Cloud            string       `json:"cloud"`
	VRF              string       `json:"vrf,omitempty"`
	AvailabilityZone string       `json:"availability_zone,omitempty"`
	Subnets          []SeedSubnet `json:"subnets,omitempty"`
}

// SeedSubnet is a configured subnet ("10.50.0.0/24") with static ranges.
type SeedSubnet struct {
	Prefix       string      `json:"prefix"`
	StaticRanges []SeedRange `json:"static_ranges,omitempty"`
}

// SeedRange is a static IP range; Type defaults to STATIC_IPS_FOR_VIP.
type SeedRange struct {
	Begin string `json:"begin"`
	End   string `json:"end"`
	Type  string `json:"type,omitempty"`
}

// ParseSeed parses a YAML seed, rejecting unknown keys so that a typo does
// not silently leave a network out.
func ParseSeed(data []byte) (*Seed, error) {
	var s Seed
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return nil, fmt.Errorf("avisim seed: %w", err)
	}
	return &s, nil
}

// LoadSeedFile reads a YAML seed file.
func LoadSeedFile(path string) (*Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSeed(data)
}

// EmbeddedSeeds names the seeds shipped with avisim.
var EmbeddedSeeds = []string{"demo", "loopback", "aws", "aws-provider", "azure", "gcp"}

// EmbeddedSeed returns one of the seeds shipped with avisim (EmbeddedSeeds).
func EmbeddedSeed(name string) (*Seed, error) {
	data, err := seedFS.ReadFile("seeds/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("avisim: no embedded seed %q (have %s)", name, strings.Join(EmbeddedSeeds, ", "))
	}
	return ParseSeed(data)
}

// LoadSeed resolves a --seed argument: an embedded seed name or a file.
func LoadSeed(nameOrPath string) (*Seed, error) {
	if !strings.ContainsAny(nameOrPath, "/.") {
		return EmbeddedSeed(nameOrPath)
	}
	return LoadSeedFile(nameOrPath)
}

func mustSeed(name string) *Seed {
	s, err := EmbeddedSeed(name)
	if err != nil {
		panic(err)
	}
	return s
}

// DemoSeed is seeds/demo.yaml: an ENTERPRISE controller with a vCenter cloud
// Default-Cloud with IPAM networks vip-net-a (10.50.0.0/24, VIPs .10-.200)
// and vip-net-b (10.60.0.0/28, VIPs .2-.5), VRF global, SE groups
// Default-Group and edge-seg, tenant admin, user admin/admin, and an
// admin's custom WAF policy demo-waf and HTTP application profile demo-http.
func DemoSeed() *Seed { return mustSeed("demo") }

// LoopbackSeed is seeds/loopback.yaml: the demo seed with VIP networks in
// 127.0.0.0/8 (vip-net-a 127.77.0.0/22, VIPs .0.10-.3.250; vip-net-b
// 127.78.0.0/28, VIPs .2-.5), so the data plane serves VIPs at their own
// addresses.
func LoopbackSeed() *Seed { return mustSeed("loopback") }

// AWSSeed is seeds/aws.yaml: an AWS cloud Default-Cloud with three VIP
// networks in three availability zones, for multi-vip VsVips.
func AWSSeed() *Seed { return mustSeed("aws") }

// AWSProviderSeed is seeds/aws-provider.yaml: an AWS cloud with AWS's IPAM
// (no static ranges) and three VIP subnets in three availability zones,
// vip-az-a 10.75.1.0/24, vip-az-b 10.75.2.0/24, vip-az-c 10.75.3.0/24.
func AWSProviderSeed() *Seed { return mustSeed("aws-provider") }

// AzureSeed is seeds/azure.yaml: an Azure cloud with Azure's IPAM (no
// static ranges), VIP subnets vip-subnet-a 10.80.0.0/24 and vip-subnet-b
// 10.80.1.0/24, and one SE group per cluster (demo-seg, prod-seg) in
// two-arm mode.
func AzureSeed() *Seed { return mustSeed("azure") }

// GCPSeed is seeds/gcp.yaml: a Google Cloud cloud with Google's IPAM (no
// static ranges), frontend VIP subnets frontend-a 10.90.0.0/24 and
// frontend-b 10.90.1.0/24, and one SE group per cluster (demo-seg,
// prod-seg) with its backend VPC in two-arm mode.
func GCPSeed() *Seed { return mustSeed("gcp") }

// load creates the admin tenant, the System-* profiles and the seed's
// objects through the same save path as API calls, so seeded objects obey
// the same rules.
func (s *Sim) load(seed *Seed) error {
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	st.loading = true
	defer func() { st.loading = false }()
	st.tenants[adminTenant] = map[string]*table{}
	st.sysconf.LastModified = ptr(st.nextLastModified())
	if seed != nil && seed.LicenseTier != "" {
		if !contains(licenseTiers, seed.LicenseTier) {
			return fmt.Errorf("avisim seed: license_tier %q is not one of %s", seed.LicenseTier, strings.Join(licenseTiers, ", "))
		}
		st.sysconf.DefaultLicenseTier = ptr(seed.LicenseTier)
	}
	mk := func(kind string, m any) (*object, error) {
		o, aerr := st.save(adminTenant, kinds[kind], m, nil)
		if aerr != nil {
			return nil, fmt.Errorf("avisim seed: %s %s: %s", kind, kinds[kind].getStr(m, kinds[kind].fName), aerr.msg)
		}
		return o, nil
	}
	// The admin tenant object itself; its table was created above.
	if _, err := mk("tenant", &models.Tenant{Name: ptr(adminTenant), Local: ptr(true)}); err != nil {
		return err
	}
	for _, o := range systemObjects() {
		if _, err := mk(o.kind, o.model); err != nil {
			return err
		}
	}
	if seed == nil {
		return nil
	}
	for _, u := range seed.Users {
		s.users[u.Username] = u.Password
	}
	for _, t := range seed.Tenants {
		if t == adminTenant {
			continue
		}
		if _, err := mk("tenant", &models.Tenant{Name: ptr(t), Local: ptr(true)}); err != nil {
			return err
		}
	}
	clouds := map[string]*object{}
	for _, c := range seed.Clouds {
		cm := &models.Cloud{Name: ptr(c.Name), Vtype: ptr(c.Vtype)}
		if c.LicenseTier != "" {
			cm.LicenseTier = ptr(c.LicenseTier)
		}
		o, err := mk("cloud", cm)
		if err != nil {
			return err
		}
		clouds[c.Name] = o
	}
	cloudRef := func(name string) (*string, error) {
		if name == "" {
			name = defaultCloud
		}
		if clouds[name] == nil {
			return nil, fmt.Errorf("avisim seed: unknown cloud %q", name)
		}
		return ptr("/api/cloud/" + clouds[name].uuid), nil
	}
	vrfs := map[string]string{}
	for _, v := range seed.VRFs {
		cr, err := cloudRef(v.Cloud)
		if err != nil {
			return err
		}
		o, err := mk("vrfcontext", &models.VrfContext{Name: ptr(v.Name), CloudRef: cr})
		if err != nil {
			return err
		}
		vrfs[v.Name] = o.uuid
	}
	networks := map[string]string{}
	for _, n := range seed.Networks {
		cr, err := cloudRef(n.Cloud)
		if err != nil {
			return err
		}
		nw := &models.Network{Name: ptr(n.Name), CloudRef: cr, DhcpEnabled: ptr(false)}
		if n.VRF != "" {
			if vrfs[n.VRF] == "" {
				return fmt.Errorf("avisim seed: network %s: unknown vrf %q", n.Name, n.VRF)
			}
			nw.VrfContextRef = ptr("/api/vrfcontext/" + vrfs[n.VRF])
		}
		// AWS's IPAM knows the zones (its profile's zones); the internal
		// one learns them from the network attribute.
		if n.AvailabilityZone != "" && ipamTypeOf(seed, n.Cloud) != ipamAWS {
			nw.Attrs = []*models.KeyValue{{Key: ptr(azAttr), Value: ptr(n.AvailabilityZone)}}
		}
		for _, sn := range n.Subnets {
			pf, err := netip.ParsePrefix(sn.Prefix)
			if err != nil || !pf.Addr().Is4() {
				return fmt.Errorf("avisim seed: network %s: invalid IPv4 prefix %q", n.Name, sn.Prefix)
			}
			sub := &models.Subnet{Prefix: &models.IPAddrPrefix{
				IPAddr: &models.IPAddr{Addr: ptr(pf.Masked().Addr().String()), Type: ptr("V4")},
				Mask:   ptr(int32(pf.Bits())),
			}}
			for _, r := range sn.StaticRanges {
				b, err1 := netip.ParseAddr(r.Begin)
				e, err2 := netip.ParseAddr(r.End)
				if err1 != nil || err2 != nil || !pf.Contains(b) || !pf.Contains(e) || e.Less(b) {
					return fmt.Errorf("avisim seed: network %s: invalid range %s-%s in %s", n.Name, r.Begin, r.End, sn.Prefix)
				}
				typ := r.Type
				if typ == "" {
					typ = "STATIC_IPS_FOR_VIP"
				}
				sub.StaticIPRanges = append(sub.StaticIPRanges, &models.StaticIPRange{
					Range: &models.IPAddrRange{Begin: &models.IPAddr{Addr: ptr(b.String()), Type: ptr("V4")}, End: &models.IPAddr{Addr: ptr(e.String()), Type: ptr("V4")}},
					Type:  ptr(typ),
				})
			}
			nw.ConfiguredSubnets = append(nw.ConfiguredSubnets, sub)
		}
		o, err := mk("network", nw)
		if err != nil {
			return err
		}
		networks[n.Name] = o.uuid
	}
	for _, c := range seed.Clouds {
		if len(c.IPAMNetworks) == 0 && len(c.DNSDomains) == 0 {
			continue
		}
		cm := *clouds[c.Name].model.(*models.Cloud)
		if len(c.IPAMNetworks) > 0 {
			prof, err := seedIPAMProfile(seed, c, networks)
			if err != nil {
				return err
			}
			po, err := mk("ipamdnsproviderprofile", prof)
			if err != nil {
				return err
			}
			cm.IPAMProviderRef = ptr("/api/ipamdnsproviderprofile/" + po.uuid)
		}
		if len(c.DNSDomains) > 0 {
			prof := &models.IPAMDNSProviderProfile{Name: ptr(c.Name + "-dns"), Type: ptr("IPAMDNS_TYPE_INTERNAL_DNS"), InternalProfile: &models.IPAMDNSInternalProfile{}}
			for _, d := range c.DNSDomains {
				prof.InternalProfile.DNSServiceDomain = append(prof.InternalProfile.DNSServiceDomain, &models.DNSServiceDomain{DomainName: ptr(d)})
			}
			po, err := mk("ipamdnsproviderprofile", prof)
			if err != nil {
				return err
			}
			cm.DNSProviderRef = ptr("/api/ipamdnsproviderprofile/" + po.uuid)
		}
		cm.LastModified = nil
		o, aerr := st.save(adminTenant, kinds["cloud"], &cm, clouds[c.Name])
		if aerr != nil {
			return fmt.Errorf("avisim seed: cloud %s: %s", c.Name, aerr.msg)
		}
		clouds[c.Name] = o
	}
	for _, g := range seed.SEGroups {
		cr, err := cloudRef(g.Cloud)
		if err != nil {
			return err
		}
		seg := &models.ServiceEngineGroup{Name: ptr(g.Name), CloudRef: cr}
		if g.AzureDataSubnet != "" {
			if networks[g.AzureDataSubnet] == "" {
				return fmt.Errorf("avisim seed: SE group %s: unknown azure_data_subnet %q", g.Name, g.AzureDataSubnet)
			}
			seg.DataNetworkID = ptr(g.AzureDataSubnet)
		}
		if g.GCPBackendVPC != "" || g.GCPBackendSubnet != "" {
			seg.GcpConfig = &models.GCPSeGroupConfig{BackendDataVpcNetworkName: ptr(g.GCPBackendVPC), BackendDataVpcSubnetName: ptr(g.GCPBackendSubnet)}
		}
		for _, l := range g.Labels {
			seg.Labels = append(seg.Labels, &models.KeyValue{Key: ptr(l.Key), Value: ptr(l.Value)})
		}
		if _, err := mk("serviceenginegroup", seg); err != nil {
			return err
		}
	}
	// Custom objects skip the license checks like the system ones: an admin
	// may have made them before the tier changed. Using them from a virtual
	// service is still judged by the tier.
	for i, o := range seed.Objects {
		k := kinds[o.Type]
		if k == nil {
			return fmt.Errorf("avisim seed: objects[%d]: unknown type %q", i, o.Type)
		}
		m, aerr := decodeStrict(k, o.Body)
		if aerr != nil {
			return fmt.Errorf("avisim seed: objects[%d] (%s): %s", i, o.Type, aerr.msg)
		}
		if _, err := mk(o.Type, m); err != nil {
			return err
		}
	}
	return nil
}

// ipamTypeOf is the IPAM type the seed gives the named cloud ("" is the
// default cloud), IPAMDNS_TYPE_INTERNAL unless it says otherwise.
func ipamTypeOf(seed *Seed, cloud string) string {
	if cloud == "" {
		cloud = defaultCloud
	}
	for _, c := range seed.Clouds {
		if c.Name == cloud {
			return orDefault(c.IPAMType, ipamInternal)
		}
	}
	return ipamInternal
}

// seedIPAMProfile builds a cloud's IPAM profile of its seed type with its
// usable networks (networks maps seeded names to UUIDs).
func seedIPAMProfile(seed *Seed, c SeedCloud, networks map[string]string) (*models.IPAMDNSProviderProfile, error) {
	typ := orDefault(c.IPAMType, ipamInternal)
	prof := &models.IPAMDNSProviderProfile{Name: ptr(orDefault(c.IPAMProfile, c.Name+"-ipam")), Type: ptr(typ)}
	var uuids []string
	for _, n := range c.IPAMNetworks {
		if networks[n] == "" {
			return nil, fmt.Errorf("avisim seed: cloud %s: unknown IPAM network %q", c.Name, n)
		}
		uuids = append(uuids, networks[n])
	}
	switch typ {
	case ipamInternal:
		prof.InternalProfile = &models.IPAMDNSInternalProfile{}
		for _, u := range uuids {
			prof.InternalProfile.UsableNetworks = append(prof.InternalProfile.UsableNetworks, &models.IPAMUsableNetwork{NwRef: ptr("/api/network/" + u)})
		}
	case ipamAWS:
		prof.AwsProfile = &models.IPAMDNSAwsProfile{VpcID: ptr("vpc-avisim"), Region: ptr("us-west-2")}
		zones := map[string]*models.AwsZoneNetwork{}
		for i, n := range c.IPAMNetworks {
			az := ""
			for _, sn := range seed.Networks {
				if sn.Name == n {
					az = sn.AvailabilityZone
				}
			}
			if az == "" {
				prof.AwsProfile.UsableNetworkUuids = append(prof.AwsProfile.UsableNetworkUuids, uuids[i])
				continue
			}
			z := zones[az]
			if z == nil {
				z = &models.AwsZoneNetwork{AvailabilityZone: ptr(az)}
				zones[az] = z
				prof.AwsProfile.Zones = append(prof.AwsProfile.Zones, z)
			}
			z.UsableNetworkUuids = append(z.UsableNetworkUuids, uuids[i])
		}
	case ipamAzure:
		prof.AzureProfile = &models.IPAMDNSAzureProfile{UsableNetworkUuids: uuids, VirtualNetworkIds: []string{"avisim-vnet"}}
	case ipamGCP:
		prof.GcpProfile = &models.IPAMDNSGCPProfile{UseGcpNetwork: ptr(true), VpcNetworkName: ptr("frontend-vpc")}
		for _, u := range uuids {
			prof.GcpProfile.UsableNetworkRefs = append(prof.GcpProfile.UsableNetworkRefs, "/api/network/"+u)
		}
	default:
		return nil, fmt.Errorf("avisim seed: cloud %s: ipam_type %q is not one of %s, %s, %s, %s", c.Name, typ, ipamInternal, ipamAWS, ipamAzure, ipamGCP)
	}
	return prof, nil
}
