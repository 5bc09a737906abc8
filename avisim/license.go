package avisim

import (
	"net/http"
	"sort"
	"strings"

	"github.com/vmware/alb-sdk/go/models"
)

// License tiers (systemconfiguration.default_license_tier, cloud and SE
// group license_tier).
const (
	tierEnterprise   = "ENTERPRISE"
	tierEssentials   = "ESSENTIALS"
	tierBasic        = "BASIC"
	tierEnterpriseCS = "ENTERPRISE_WITH_CLOUD_SERVICES"
)

var licenseTiers = []string{"ENTERPRISE_16", tierEnterprise, "ENTERPRISE_18", tierBasic, tierEssentials, tierEnterpriseCS}

// restricted reports whether a tier limits what objects may hold; every
// ENTERPRISE flavour allows everything.
func restricted(tier string) bool { return tier == tierEssentials || tier == tierBasic }

// editionRule limits one field in the ESSENTIALS and BASIC tiers, from the
// swagger's "Allowed in ... edition" notes. For each tier: "" means the
// field may not be set at all (a false, 0 or empty value counts as unset),
// "*" any value, otherwise the comma-separated values allowed.
type editionRule struct {
	field             string // dotted JSON path; lists are descended
	essentials, basic string
}

// editionRules holds the limits of the fields clients such as AKO and
// vipgate send (and of the profile fields that decide what a virtual
// service does), by object type.
var editionRules = map[string][]editionRule{
	"virtualservice": {
		{"type", "VS_TYPE_NORMAL", "VS_TYPE_NORMAL,VS_TYPE_VH_PARENT"},
		{"vh_type", "", "*"},
		{"pool_group_ref", "", "*"},
		{"vs_datascripts", "", "*"},
		{"connections_rate_limit", "", "*"},
		{"snat_ip", "", "*"},
		{"use_vip_as_snat", "false", "*"},
		{"waf_policy_ref", "", ""},
		{"enable_rhi", "", ""},
		{"enable_rhi_snat", "", ""},
		{"dns_info", "", ""},
		{"fqdn", "", ""},
		{"dns_policies", "", ""},
		{"static_dns_records", "", ""},
		{"ssl_profile_selectors", "", ""},
		{"service_pool_select", "", ""},
		{"content_rewrite", "", ""},
		{"requests_rate_limit", "", ""},
		{"topology_policies", "", ""},
		{"traffic_clone_profile_ref", "", ""},
		{"security_policy_ref", "", ""},
		{"sso_policy_ref", "", ""},
		{"saml_sp_config", "", ""},
		{"oauth_vs_config", "", ""},
		{"jwt_config", "", ""},
		{"ldap_vs_config", "", ""},
		{"icap_request_profile_refs", "", ""},
		{"csrf_policy_ref", "", ""},
		{"bgp_peer_labels", "", ""},
		{"microservice_ref", "", ""},
		{"server_network_profile_ref", "", ""},
		{"snat_ip6_addresses", "", ""},
		{"vh_matches", "", ""},
		{"host_name_xlate", "", ""},
		{"sideband_profile", "", ""},
		{"revoke_vip_route", "", ""},
		{"enable_session", "", ""},
		{"services.override_network_profile_ref", "", ""},
		{"services.override_application_profile_ref", "", ""},
		{"services.horizon_internal_ports", "", ""},
		{"services.is_active_ftp_data_port", "", ""},
		{"services.enable_http2", "false", "false"},
		{"east_west_placement", "false", "false"},
		{"advertise_down_vs", "false", "false"},
		{"allow_invalid_client_cert", "false", "false"},
		{"bulk_sync_kvcache", "false", "false"},
		{"close_client_conn_on_config_update", "false", "false"},
		{"delay_fairness", "false", "false"},
		{"enable_autogw", "false", "false"},
		{"use_bridge_ip_as_vip", "false", "false"},
		{"flow_dist", "LOAD_AWARE", "LOAD_AWARE"},
		{"weight", "1", "1"},
	},
	"vsvip": {
		{"dns_info", "", ""},
		{"bgp_local_preference", "", ""},
		{"bgp_num_as_path_prepend", "", ""},
		{"bgp_peer_labels", "", ""},
		{"ipam_selector", "", ""},
		{"use_standard_alb", "", ""},
		{"east_west_placement", "false", "false"},
		{"vip.auto_allocate_floating_ip", "false", "false"},
		{"vip.auto_allocate_ip_type", "V4_ONLY", "V4_ONLY"},
		{"vip.avi_allocated_vip", "false", "false"},
		{"vip.floating_ip", "", ""},
		{"vip.floating_subnet_uuid", "", ""},
		{"vip.prefix_length", "32", "32"},
		{"vip.subnet6", "", "*"},
		{"vip.availability_zone", "", ""},
	},
	// HTTPHdrAction.action: "Essentials edition(Allowed values-
	// HTTP_REMOVE_HDR,HTTP_REPLACE_HDR), Basic edition(...the same)".
	"httppolicyset": {
		{"http_request_policy.rules.hdr_action.action", "HTTP_REMOVE_HDR,HTTP_REPLACE_HDR", "HTTP_REMOVE_HDR,HTTP_REPLACE_HDR"},
		{"http_response_policy.rules.hdr_action.action", "HTTP_REMOVE_HDR,HTTP_REPLACE_HDR", "HTTP_REMOVE_HDR,HTTP_REPLACE_HDR"},
	},
	"pool": {
		{"append_port", "NEVER", "NEVER"},
		{"capacity_estimation", "false", "false"},
		{"capacity_estimation_ttfb_thresh", "0", "0"},
		{"connection_ramp_duration", "0", "0"},
		{"delete_server_on_dns_refresh", "true", "true"},
		{"enable_http2", "false", "false"},
		{"lb_algorithm", "LB_ALGORITHM_LEAST_CONNECTIONS,LB_ALGORITHM_ROUND_ROBIN,LB_ALGORITHM_CONSISTENT_HASH", "LB_ALGORITHM_LEAST_CONNECTIONS,LB_ALGORITHM_ROUND_ROBIN,LB_ALGORITHM_CONSISTENT_HASH"},
		{"lb_algorithm_core_nonaffinity", "2", "2"},
		{"lb_algorithm_hash", "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS", "LB_ALGORITHM_CONSISTENT_HASH_SOURCE_IP_ADDRESS"},
		{"lookup_server_by_name", "false", "false"},
		{"request_queue_depth", "128", "128"},
		{"request_queue_enabled", "false", "false"},
		{"use_service_port", "false", "*"},
		{"use_service_ssl_mode", "", ""},
		{"autoscale_launch_config_ref", "", ""},
		{"autoscale_networks", "", ""},
		{"autoscale_policy_ref", "", ""},
		{"graceful_hm_down_disable_timeout", "", ""},
		{"gslb_sp_enabled", "", ""},
		{"horizon_profile", "", ""},
		{"lb_algo_rr_per_se", "", ""},
		{"max_conn_rate_per_server", "", ""},
		{"min_health_monitors_up", "", ""},
		{"pool_type", "", ""},
		{"server_disable_type", "", ""},
	},
	"poolgroup": {
		{"deactivate_primary_pool_on_down", "", ""},
		{"deployment_policy_ref", "", ""},
		{"fail_action", "", ""},
		{"min_servers", "0", "0"},
		{"priority_labels_ref", "", ""},
	},
	"applicationprofile": {
		{"type", "APPLICATION_PROFILE_TYPE_L4", "APPLICATION_PROFILE_TYPE_L4,APPLICATION_PROFILE_TYPE_HTTP"},
		{"http_profile", "", "*"},
		{"l4_ssl_profile", "", ""},
		{"dns_service_profile", "", ""},
		{"dos_rl_profile", "", ""},
		{"sip_service_profile", "", ""},
		{"app_service_type", "", ""},
		{"preserve_dest_ip_port", "false", "false"},
		{"tcp_app_profile.proxy_protocol_enabled", "false", "false"},
		{"tcp_app_profile.pki_profile_ref", "", ""},
		{"tcp_app_profile.ftp_profile", "", ""},
	},
	"networkprofile": {
		{"profile.type", "PROTOCOL_TYPE_TCP_FAST_PATH,PROTOCOL_TYPE_UDP_FAST_PATH", "PROTOCOL_TYPE_TCP_PROXY,PROTOCOL_TYPE_TCP_FAST_PATH,PROTOCOL_TYPE_UDP_FAST_PATH"},
		{"profile.tcp_proxy_profile", "", "*"},
		{"profile.udp_proxy_profile", "", ""},
		{"profile.sctp_proxy_profile", "", ""},
		{"profile.sctp_fast_path_profile", "", ""},
		{"profile.udp_fast_path_profile.per_pkt_loadbalance", "false", "false"},
		{"connection_mirror", "false", "*"},
	},
	"healthmonitor": {
		{"type", "HEALTH_MONITOR_PING,HEALTH_MONITOR_TCP,HEALTH_MONITOR_UDP", "HEALTH_MONITOR_PING,HEALTH_MONITOR_TCP,HEALTH_MONITOR_UDP,HEALTH_MONITOR_HTTP,HEALTH_MONITOR_HTTPS"},
		{"http_monitor", "", "*"},
		{"https_monitor", "", "*"},
		{"sctp_monitor", "", ""},
		{"dns_monitor", "", ""},
		{"authentication", "", ""},
		{"disable_quickstart", "false", "false"},
		{"is_federated", "false", "false"},
	},
	"applicationpersistenceprofile": {
		{"persistence_type", "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS,PERSISTENCE_TYPE_HTTP_COOKIE", "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS,PERSISTENCE_TYPE_HTTP_COOKIE"},
		{"server_hm_down_recovery", "HM_DOWN_PICK_NEW_SERVER", "HM_DOWN_PICK_NEW_SERVER"},
		{"hdr_persistence_profile", "", ""},
	},
	"vsdatascriptset": {
		{"pool_refs", "", ""},
		{"string_group_refs", "", ""},
		{"ipgroup_refs", "", ""},
		{"protocol_parser_refs", "", ""},
		{"ssl_key_certificate_refs", "", ""},
		{"ssl_profile_refs", "", ""},
		{"pki_profile_refs", "", ""},
		{"rate_limiters", "", ""},
	},
	"cloud": {
		{"vtype", "CLOUD_NONE,CLOUD_VCENTER", "CLOUD_NONE,CLOUD_NSXT"},
	},
}

// profileKinds are the referenced types whose contents decide what a
// virtual service or pool does; their fields are judged by the tier of the
// object that uses them.
var profileKinds = map[string]bool{"applicationprofile": true, "networkprofile": true, "healthmonitor": true, "applicationpersistenceprofile": true}

// isSet reports whether a decoded JSON value is more than its zero value.
func isSet(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return t != ""
	case bool:
		return t
	case float64:
		return t != 0
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

// checkEdition refuses what the tier does not allow in an object of
// kindName; what names the object and tier in the message.
func checkEdition(kindName, tier string, doc map[string]any, what string) *apiError {
	if !restricted(tier) {
		return nil
	}
	for _, r := range editionRules[kindName] {
		allowed := r.essentials
		if tier == tierBasic {
			allowed = r.basic
		}
		if allowed == "*" {
			continue
		}
		for _, v := range valuesAt(doc, strings.Split(r.field, ".")) {
			if allowed == "" {
				if isSet(v) {
					return errf(http.StatusBadRequest, "%s: field '%s' is not available in the %s license tier", what, r.field, tier)
				}
				continue
			}
			if sv := scalarString(v); !contains(strings.Split(allowed, ","), sv) {
				return errf(http.StatusBadRequest, "%s: value '%s' of field '%s' is not allowed in the %s license tier (allowed: %s)", what, sv, r.field, tier, strings.ReplaceAll(allowed, ",", ", "))
			}
		}
	}
	return nil
}

// systemTier is the controller's default license tier.
func (s *store) systemTier() string {
	if t := str(s.sysconf.DefaultLicenseTier); t != "" {
		return t
	}
	return tierEnterprise
}

// cloudTier is the tier of the cloud with the given uuid: its license_tier,
// else the system default.
func (s *store) cloudTier(cloudUUID string) string {
	if c := s.all[cloudUUID]; c != nil {
		if cm, ok := c.model.(*models.Cloud); ok && str(cm.LicenseTier) != "" {
			return str(cm.LicenseTier)
		}
	}
	return s.systemTier()
}

// tierOf returns the license tier that governs m: a virtual service's SE
// group (which inherits from its cloud), the cloud of cloud-scoped objects,
// a cloud's or SE group's own tier, the system default for the rest.
func (s *store) tierOf(k *kind, m any) string {
	switch o := m.(type) {
	case *models.Cloud:
		if t := str(o.LicenseTier); t != "" {
			return t
		}
	case *models.ServiceEngineGroup:
		if t := str(o.LicenseTier); t != "" {
			return t
		}
		return s.cloudTier(uuidOfRef(str(o.CloudRef)))
	case *models.VirtualService:
		if o.SeGroupRef != nil {
			if g := s.all[uuidOfRef(*o.SeGroupRef)]; g != nil {
				return s.tierOf(g.kind, g.model)
			}
		}
		return s.cloudTier(uuidOfRef(str(o.CloudRef)))
	}
	if k.fCloudRef >= 0 && k.name != "cloud" {
		if c := k.getStr(m, k.fCloudRef); c != "" {
			return s.cloudTier(uuidOfRef(c))
		}
	}
	return s.systemTier()
}

// checkLicense applies the tier of m to its own fields and, for virtual
// services and pools, to the profiles and monitors they use. Seeding skips
// it: a fresh ESSENTIALS controller still ships System-TCP-Proxy and its
// kin, it only refuses their use.
func (s *store) checkLicense(k *kind, m any, name string) *apiError {
	if s.loading {
		return nil
	}
	tier := s.tierOf(k, m)
	if !restricted(tier) {
		return nil
	}
	if _, ok := editionRules[k.name]; !ok && k.name != "virtualservice" && k.name != "pool" {
		return nil
	}
	doc, err := toMap(m)
	if err != nil {
		return errf(http.StatusBadRequest, "Invalid request body: %v", err)
	}
	what := k.display + " " + name
	if aerr := checkEdition(k.name, tier, doc, what); aerr != nil {
		return aerr
	}
	if k.name != "virtualservice" && k.name != "pool" {
		return nil
	}
	type use struct{ field, uuid string }
	var uses []use
	_ = walkRefs(m, func(path string, ref *string) error {
		uses = append(uses, use{path, uuidOfRef(*ref)})
		return nil
	})
	sort.SliceStable(uses, func(i, j int) bool { return uses[i].field < uses[j].field })
	for _, u := range uses {
		o := s.all[u.uuid]
		if o == nil || !profileKinds[o.kind.name] {
			continue
		}
		pdoc, err := toMap(o.model)
		if err != nil {
			continue
		}
		if aerr := checkEdition(o.kind.name, tier, pdoc, what+": "+u.field+" "+o.name); aerr != nil {
			return aerr
		}
	}
	return nil
}
