// Package objects holds Go types for the Avi REST objects vipgate builds and
// reads back: the subset of each object's fields that vipgate sets or looks
// at, with the controller's JSON names. The model builder and the rule book
// use these plain types, so neither links the alb-sdk; the applier sends them
// as JSON, and the controller (avisim too) decodes them strictly, so a
// misspelt field is refused, never ignored.
//
// Every optional field is a pointer or a slice with omitempty, as in the
// controller's own models: a field vipgate does not set is not sent, and the
// controller keeps its default.
package objects

// Ref values are controller references: "/api/<type>/?name=<name>" when
// vipgate builds them, "https://<host>/api/<type>/<uuid>#<name>" as the
// controller returns them (with include_name).

// IPAddr is an address with its family ("V4" or "V6").
type IPAddr struct {
	Addr *string `json:"addr"`
	Type *string `json:"type"`
}

// IPAddrPrefix is a subnet.
type IPAddrPrefix struct {
	IPAddr *IPAddr `json:"ip_addr"`
	Mask   *int32  `json:"mask"`
}

// IPNetworkSubnet names the network (and subnet) a vip is allocated from.
type IPNetworkSubnet struct {
	NetworkRef *string       `json:"network_ref,omitempty"`
	Subnet     *IPAddrPrefix `json:"subnet,omitempty"`
	Subnet6    *IPAddrPrefix `json:"subnet6,omitempty"`
}

// RoleFilterMatchLabel is a marker: a key with values. Markers carry the
// owning cluster and Kubernetes object (AKO's and vipgate's).
type RoleFilterMatchLabel struct {
	Key    *string  `json:"key"`
	Values []string `json:"values,omitempty"`
}

// KeyValue is a label (static routes, SE groups).
type KeyValue struct {
	Key   *string `json:"key"`
	Value *string `json:"value,omitempty"`
}

// DNSInfo is one FQDN a VsVip publishes.
type DNSInfo struct {
	Fqdn *string `json:"fqdn,omitempty"`
	Type *string `json:"type,omitempty"`
}

// Vip is one address of a VsVip.
type Vip struct {
	VipID              *string          `json:"vip_id"`
	AutoAllocateIP     *bool            `json:"auto_allocate_ip,omitempty"`
	AutoAllocateIPType *string          `json:"auto_allocate_ip_type,omitempty"`
	AviAllocatedVip    *bool            `json:"avi_allocated_vip,omitempty"`
	AvailabilityZone   *string          `json:"availability_zone,omitempty"`
	Enabled            *bool            `json:"enabled,omitempty"`
	IPAddress          *IPAddr          `json:"ip_address,omitempty"`
	Ip6Address         *IPAddr          `json:"ip6_address,omitempty"`
	IPAMNetworkSubnet  *IPNetworkSubnet `json:"ipam_network_subnet,omitempty"`
	// SubnetUUID names the subnet (UUID, name or prefix) on clouds whose
	// provider allocates by subnet (AWS, Azure).
	SubnetUUID *string `json:"subnet_uuid,omitempty"`
}

// VsVip holds the addresses virtual services listen on.
type VsVip struct {
	Name          *string                 `json:"name"`
	UUID          *string                 `json:"uuid,omitempty"`
	TenantRef     *string                 `json:"tenant_ref,omitempty"`
	CloudRef      *string                 `json:"cloud_ref,omitempty"`
	VrfContextRef *string                 `json:"vrf_context_ref,omitempty"`
	Vip           []*Vip                  `json:"vip,omitempty"`
	DNSInfo       []*DNSInfo              `json:"dns_info,omitempty"`
	BgpPeerLabels []string                `json:"bgp_peer_labels,omitempty"`
	Markers       []*RoleFilterMatchLabel `json:"markers,omitempty"`
}

// Service is one listening port of a virtual service.
type Service struct {
	Port                      *uint32 `json:"port"`
	EnableSsl                 *bool   `json:"enable_ssl,omitempty"`
	OverrideNetworkProfileRef *string `json:"override_network_profile_ref,omitempty"`
}

// ServicePoolSelector sends one port and protocol to a pool.
type ServicePoolSelector struct {
	ServicePort     *uint32 `json:"service_port"`
	ServiceProtocol *string `json:"service_protocol,omitempty"`
	ServicePoolRef  *string `json:"service_pool_ref,omitempty"`
}

// HTTPPolicies attaches an HTTPPolicySet to a virtual service.
type HTTPPolicies struct {
	Index            *int32  `json:"index"`
	HTTPPolicySetRef *string `json:"http_policy_set_ref"`
}

// VirtualService is a listener on a VsVip with its profiles and routing.
type VirtualService struct {
	Name                        *string                 `json:"name"`
	UUID                        *string                 `json:"uuid,omitempty"`
	TenantRef                   *string                 `json:"tenant_ref,omitempty"`
	Type                        *string                 `json:"type,omitempty"`
	Enabled                     *bool                   `json:"enabled,omitempty"`
	CloudRef                    *string                 `json:"cloud_ref,omitempty"`
	VrfContextRef               *string                 `json:"vrf_context_ref,omitempty"`
	SeGroupRef                  *string                 `json:"se_group_ref,omitempty"`
	VsvipRef                    *string                 `json:"vsvip_ref,omitempty"`
	CreatedBy                   *string                 `json:"created_by,omitempty"`
	ApplicationProfileRef       *string                 `json:"application_profile_ref,omitempty"`
	NetworkProfileRef           *string                 `json:"network_profile_ref,omitempty"`
	Services                    []*Service              `json:"services,omitempty"`
	ServicePoolSelect           []*ServicePoolSelector  `json:"service_pool_select,omitempty"`
	PoolRef                     *string                 `json:"pool_ref,omitempty"`
	PoolGroupRef                *string                 `json:"pool_group_ref,omitempty"`
	HTTPPolicies                []*HTTPPolicies         `json:"http_policies,omitempty"`
	SslProfileRef               *string                 `json:"ssl_profile_ref,omitempty"`
	SslKeyAndCertificateRefs    []string                `json:"ssl_key_and_certificate_refs,omitempty"`
	VhParentVsRef               *string                 `json:"vh_parent_vs_ref,omitempty"`
	VhDomainName                []string                `json:"vh_domain_name,omitempty"`
	EnableRhi                   *bool                   `json:"enable_rhi,omitempty"`
	BgpPeerLabels               []string                `json:"bgp_peer_labels,omitempty"`
	RemoveListeningPortOnVsDown *bool                   `json:"remove_listening_port_on_vs_down,omitempty"`
	Markers                     []*RoleFilterMatchLabel `json:"markers,omitempty"`

	// Set by the rule CRDs (HostRule, L4Rule); see avi/model's rules.go.
	WafPolicyRef             *string            `json:"waf_policy_ref,omitempty"`
	AnalyticsProfileRef      *string            `json:"analytics_profile_ref,omitempty"`
	AnalyticsPolicy          *AnalyticsPolicy   `json:"analytics_policy,omitempty"`
	ErrorPageProfileRef      *string            `json:"error_page_profile_ref,omitempty"`
	VsDatascripts            []*VSDataScripts   `json:"vs_datascripts,omitempty"`
	IcapRequestProfileRefs   []string           `json:"icap_request_profile_refs,omitempty"`
	NetworkSecurityPolicyRef *string            `json:"network_security_policy_ref,omitempty"`
	SecurityPolicyRef        *string            `json:"security_policy_ref,omitempty"`
	PerformanceLimits        *PerformanceLimits `json:"performance_limits,omitempty"`
}

// AnalyticsPolicy is a virtual service's logging; vipgate sets only the
// client log part (the controller defaults the rest).
type AnalyticsPolicy struct {
	FullClientLogs *FullClientLogs `json:"full_client_logs,omitempty"`
	AllHeaders     *bool           `json:"all_headers,omitempty"`
}

// FullClientLogs turns on logging of non-significant requests.
type FullClientLogs struct {
	Enabled  *bool   `json:"enabled"`
	Duration *uint32 `json:"duration,omitempty"`
	Throttle *uint32 `json:"throttle,omitempty"`
}

// VSDataScripts attaches a DataScript set to a virtual service, in index order.
type VSDataScripts struct {
	Index              *int32  `json:"index"`
	VsDatascriptSetRef *string `json:"vs_datascript_set_ref"`
}

// PerformanceLimits bound a virtual service's connections and throughput.
type PerformanceLimits struct {
	MaxConcurrentConnections *int32 `json:"max_concurrent_connections,omitempty"`
	MaxThroughput            *int32 `json:"max_throughput,omitempty"`
}

// PoolAnalyticsPolicy turns a pool's real-time metrics on.
type PoolAnalyticsPolicy struct {
	EnableRealtimeMetrics *bool `json:"enable_realtime_metrics,omitempty"`
}

// Server is one pool member.
type Server struct {
	IP      *IPAddr `json:"ip"`
	Port    *int32  `json:"port,omitempty"`
	Enabled *bool   `json:"enabled,omitempty"`
}

// Pool is a set of servers.
type Pool struct {
	Name              *string                 `json:"name"`
	UUID              *string                 `json:"uuid,omitempty"`
	TenantRef         *string                 `json:"tenant_ref,omitempty"`
	CloudRef          *string                 `json:"cloud_ref,omitempty"`
	VrfRef            *string                 `json:"vrf_ref,omitempty"`
	CreatedBy         *string                 `json:"created_by,omitempty"`
	Servers           []*Server               `json:"servers,omitempty"`
	HealthMonitorRefs []string                `json:"health_monitor_refs,omitempty"`
	Markers           []*RoleFilterMatchLabel `json:"markers,omitempty"`

	// Set by the rule CRDs (HTTPRule, L4Rule); see avi/model's rules.go.
	Enabled                          *bool                `json:"enabled,omitempty"`
	LbAlgorithm                      *string              `json:"lb_algorithm,omitempty"`
	LbAlgorithmHash                  *string              `json:"lb_algorithm_hash,omitempty"`
	LbAlgorithmConsistentHashHdr     *string              `json:"lb_algorithm_consistent_hash_hdr,omitempty"`
	ApplicationPersistenceProfileRef *string              `json:"application_persistence_profile_ref,omitempty"`
	SslProfileRef                    *string              `json:"ssl_profile_ref,omitempty"`
	PkiProfileRef                    *string              `json:"pki_profile_ref,omitempty"`
	SslKeyAndCertificateRef          *string              `json:"ssl_key_and_certificate_ref,omitempty"`
	MinServersUp                     *uint32              `json:"min_servers_up,omitempty"`
	EnableHTTP2                      *bool                `json:"enable_http2,omitempty"`
	AnalyticsPolicy                  *PoolAnalyticsPolicy `json:"analytics_policy,omitempty"`
}

// PoolGroupMember is one pool of a pool group.
type PoolGroupMember struct {
	PoolRef *string `json:"pool_ref"`
	Ratio   *uint32 `json:"ratio,omitempty"`
}

// PoolGroup groups pools (L7 routes switch to pool groups).
type PoolGroup struct {
	Name      *string                 `json:"name"`
	UUID      *string                 `json:"uuid,omitempty"`
	TenantRef *string                 `json:"tenant_ref,omitempty"`
	CloudRef  *string                 `json:"cloud_ref,omitempty"`
	CreatedBy *string                 `json:"created_by,omitempty"`
	Members   []*PoolGroupMember      `json:"members,omitempty"`
	Markers   []*RoleFilterMatchLabel `json:"markers,omitempty"`
}

// HostHdrMatch matches the Host header.
type HostHdrMatch struct {
	MatchCriteria *string  `json:"match_criteria"`
	MatchCase     *string  `json:"match_case,omitempty"`
	Value         []string `json:"value,omitempty"`
}

// PathMatch matches the request path.
type PathMatch struct {
	MatchCriteria *string  `json:"match_criteria"`
	MatchCase     *string  `json:"match_case,omitempty"`
	MatchStr      []string `json:"match_str,omitempty"`
}

// PortMatch matches the virtual service port a request arrived on.
type PortMatch struct {
	MatchCriteria *string `json:"match_criteria"`
	Ports         []int64 `json:"ports,omitempty"`
}

// HdrMatch matches a request header.
type HdrMatch struct {
	Hdr           *string  `json:"hdr"`
	MatchCriteria *string  `json:"match_criteria"`
	MatchCase     *string  `json:"match_case,omitempty"`
	Value         []string `json:"value,omitempty"`
}

// MethodMatch matches the request method (HTTP_METHOD_GET, ...).
type MethodMatch struct {
	MatchCriteria *string  `json:"match_criteria"`
	Methods       []string `json:"methods,omitempty"`
}

// MatchTarget is what an HTTP request rule matches.
type MatchTarget struct {
	HostHdr *HostHdrMatch `json:"host_hdr,omitempty"`
	Path    *PathMatch    `json:"path,omitempty"`
	VsPort  *PortMatch    `json:"vs_port,omitempty"`
	Hdrs    []*HdrMatch   `json:"hdrs,omitempty"`
	Method  *MethodMatch  `json:"method,omitempty"`
}

// URIParamToken is one part of a URIParam: a constant string, or host
// labels or path segments of the request.
type URIParamToken struct {
	Type       *string `json:"type"`
	StrValue   *string `json:"str_value,omitempty"`
	StartIndex *uint32 `json:"start_index,omitempty"`
	EndIndex   *uint32 `json:"end_index,omitempty"`
}

// URIParam builds a URI part (a redirect's host or path) from tokens.
type URIParam struct {
	Type   *string          `json:"type"`
	Tokens []*URIParamToken `json:"tokens,omitempty"`
}

// HTTPSwitchingAction selects a pool group (or pool) for a request.
type HTTPSwitchingAction struct {
	Action       *string `json:"action"`
	PoolGroupRef *string `json:"pool_group_ref,omitempty"`
	PoolRef      *string `json:"pool_ref,omitempty"`
}

// HTTPRedirectAction answers a request with a redirect.
type HTTPRedirectAction struct {
	Protocol   *string   `json:"protocol"`
	Host       *URIParam `json:"host,omitempty"`
	Port       *uint32   `json:"port,omitempty"`
	KeepQuery  *bool     `json:"keep_query,omitempty"`
	StatusCode *string   `json:"status_code,omitempty"`
}

// HTTPHdrValue is the value an HTTPHdrAction writes.
type HTTPHdrValue struct {
	Val *string `json:"val,omitempty"`
}

// HTTPHdrData names a header and, to add or replace it, its value.
type HTTPHdrData struct {
	Name  *string       `json:"name,omitempty"`
	Value *HTTPHdrValue `json:"value,omitempty"`
}

// HTTPHdrAction adds, replaces or removes a header (HTTP_ADD_HDR,
// HTTP_REPLACE_HDR, HTTP_REMOVE_HDR).
type HTTPHdrAction struct {
	Action   *string      `json:"action"`
	Hdr      *HTTPHdrData `json:"hdr,omitempty"`
	HdrIndex *uint32      `json:"hdr_index,omitempty"`
}

// URIParamQuery says what a rewritten URL keeps of the query.
type URIParamQuery struct {
	KeepQuery *bool `json:"keep_query,omitempty"`
}

// HTTPRewriteURLAction rewrites the Host header and path a request is
// forwarded with.
type HTTPRewriteURLAction struct {
	HostHdr *URIParam      `json:"host_hdr,omitempty"`
	Path    *URIParam      `json:"path,omitempty"`
	Query   *URIParamQuery `json:"query,omitempty"`
}

// HTTPRequestRule is one rule of an HTTP request policy.
type HTTPRequestRule struct {
	Name             *string               `json:"name"`
	Enable           *bool                 `json:"enable"`
	Index            *int32                `json:"index"`
	Match            *MatchTarget          `json:"match,omitempty"`
	SwitchingAction  *HTTPSwitchingAction  `json:"switching_action,omitempty"`
	RedirectAction   *HTTPRedirectAction   `json:"redirect_action,omitempty"`
	HdrAction        []*HTTPHdrAction      `json:"hdr_action,omitempty"`
	RewriteURLAction *HTTPRewriteURLAction `json:"rewrite_url_action,omitempty"`
}

// HTTPResponseRule is one rule of an HTTP response policy; its match
// criteria about the request see the request as the client sent it.
type HTTPResponseRule struct {
	Name      *string          `json:"name"`
	Enable    *bool            `json:"enable"`
	Index     *int32           `json:"index"`
	Match     *MatchTarget     `json:"match,omitempty"`
	HdrAction []*HTTPHdrAction `json:"hdr_action,omitempty"`
}

// HTTPResponsePolicy is the ordered response rules of a policy set.
type HTTPResponsePolicy struct {
	Rules []*HTTPResponseRule `json:"rules,omitempty"`
}

// HTTPRequestPolicy is the ordered request rules of a policy set.
type HTTPRequestPolicy struct {
	Rules []*HTTPRequestRule `json:"rules,omitempty"`
}

// HTTPPolicySet routes L7 requests.
type HTTPPolicySet struct {
	Name              *string            `json:"name"`
	UUID              *string            `json:"uuid,omitempty"`
	TenantRef         *string            `json:"tenant_ref,omitempty"`
	CreatedBy         *string            `json:"created_by,omitempty"`
	HTTPRequestPolicy *HTTPRequestPolicy `json:"http_request_policy,omitempty"`
	// HTTPResponsePolicy changes the headers of answers (Gateway
	// ResponseHeaderModifier filters).
	HTTPResponsePolicy *HTTPResponsePolicy     `json:"http_response_policy,omitempty"`
	Markers            []*RoleFilterMatchLabel `json:"markers,omitempty"`
}

// SSLCertificate is the PEM certificate of an SSLKeyAndCertificate.
type SSLCertificate struct {
	Certificate *string `json:"certificate,omitempty"`
}

// SSLKeyAndCertificate is a certificate with its private key. Key is
// write-only: the controller never returns it as sent.
type SSLKeyAndCertificate struct {
	Name        *string                 `json:"name"`
	UUID        *string                 `json:"uuid,omitempty"`
	TenantRef   *string                 `json:"tenant_ref,omitempty"`
	Type        *string                 `json:"type,omitempty"`
	Certificate *SSLCertificate         `json:"certificate"`
	Key         *string                 `json:"key,omitempty"`
	CreatedBy   *string                 `json:"created_by,omitempty"`
	Markers     []*RoleFilterMatchLabel `json:"markers,omitempty"`
}

// StaticRoute is one route of a VrfContext.
type StaticRoute struct {
	RouteID *string       `json:"route_id"`
	Prefix  *IPAddrPrefix `json:"prefix"`
	NextHop *IPAddr       `json:"next_hop"`
	IfName  *string       `json:"if_name,omitempty"`
	Labels  []*KeyValue   `json:"labels,omitempty"`
}
