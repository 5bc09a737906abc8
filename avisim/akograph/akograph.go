// Package akograph writes, through a controller client, the objects AKO 2.x
// builds for Kubernetes objects: names, created_by "ako-<cluster>", AKO's
// markers and the shapes of AKO's own requests (an L4PolicySet routing an L4
// virtual service, a shared L7 parent with its redirect policy set,
// datascript and pool group, an SNI child with one policy set per
// namespace). Tests of adoption preload avisim with it, as a cluster
// switching from AKO finds the controller.
package akograph

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/vipgate/vipgate/avi"
)

// Writer creates AKO's objects for one cluster.
type Writer struct {
	C       avi.Client
	Cluster string
	// Tenant, Cloud, VRF, SEGroup and Network are where AKO placed them
	// ("admin", "Default-Cloud", "global", "Default-Group" and the VIP
	// network when empty).
	Tenant, Cloud, VRF, SEGroup, Network string
}

// Server is a pool member.
type Server struct {
	IP   string
	Port int32
}

// Port is one port of an L4 Service and its backends.
type Port struct {
	Protocol string // TCP, UDP or SCTP
	Port     int32
	Servers  []Server
}

type obj = map[string]any

func ref(typ, name string) string { return "/api/" + typ + "/?name=" + name }

func (w *Writer) or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (w *Writer) prefix() string    { return w.Cluster + "--" }
func (w *Writer) createdBy() string { return "ako-" + w.Cluster }

// markers renders AKO's markers: clustername first, then kv pairs in order.
func (w *Writer) markers(kv ...string) []obj {
	out := []obj{{"key": "clustername", "values": []string{w.Cluster}}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			out = append(out, obj{"key": kv[i], "values": strings.Split(kv[i+1], ",")})
		}
	}
	return out
}

func (w *Writer) create(ctx context.Context, typ string, body obj) (obj, error) {
	var out obj
	if err := w.C.Create(ctx, typ, body, w.or(w.Tenant, "admin"), &out); err != nil {
		return nil, fmt.Errorf("creating AKO's %s %v: %w", typ, body["name"], err)
	}
	return out, nil
}

// vsvip creates a VsVip as AKO does: clustername marker only, one
// auto-allocated vip "0" on the VIP network, DNS records for fqdns.
func (w *Writer) vsvip(ctx context.Context, name string, fqdns []string) (obj, error) {
	body := obj{"name": name, "cloud_ref": ref("cloud", w.or(w.Cloud, "Default-Cloud")), "vrf_context_ref": ref("vrfcontext", w.or(w.VRF, "global")),
		"markers": w.markers(),
		"vip":     []obj{{"vip_id": "0", "auto_allocate_ip": true, "ipam_network_subnet": obj{"network_ref": ref("network", w.or(w.Network, "vip-net-a"))}}}}
	for _, f := range fqdns {
		body["dns_info"] = append(asList(body["dns_info"]), obj{"fqdn": f})
	}
	return w.create(ctx, "vsvip", body)
}

func asList(v any) []obj {
	l, _ := v.([]obj)
	return l
}

// pool creates a pool with AKO's protocol health monitor.
func (w *Writer) pool(ctx context.Context, name, proto string, servers []Server, markers []obj) error {
	hm := map[string]string{"UDP": "System-UDP", "SCTP": "System-SCTP"}[proto]
	if hm == "" {
		hm = "System-TCP"
	}
	body := obj{"name": name, "cloud_ref": ref("cloud", w.or(w.Cloud, "Default-Cloud")), "vrf_ref": ref("vrfcontext", w.or(w.VRF, "global")),
		"created_by": w.createdBy(), "markers": markers, "health_monitor_refs": []string{ref("healthmonitor", hm)}}
	var ss []obj
	for _, s := range servers {
		ss = append(ss, obj{"ip": obj{"addr": s.IP, "type": "V4"}, "port": s.Port})
	}
	if ss != nil {
		body["servers"] = ss
	}
	_, err := w.create(ctx, "pool", body)
	return err
}

// L4 creates what AKO builds for a LoadBalancer Service: VsVip and virtual
// service "<c>--<ns>-<svc>", a pool per port "<c>--<ns>-<svc>-<PROTO>-<port>",
// and the L4PolicySet "<c>--<ns>-<svc>" routing each port to its pool. It
// returns the VsVip as the controller answered (with its address).
func (w *Writer) L4(ctx context.Context, ns, svc string, ports []Port) (obj, error) {
	base := w.prefix() + ns + "-" + svc
	var pools []string
	for _, p := range ports {
		name := base + "-" + p.Protocol + "-" + strconv.Itoa(int(p.Port))
		if err := w.pool(ctx, name, p.Protocol, p.Servers, w.markers("Namespace", ns, "ServiceName", svc, "Port", strconv.Itoa(int(p.Port)))); err != nil {
			return nil, err
		}
		pools = append(pools, name)
	}
	return w.l4VS(ctx, base, ports, pools, w.markers("Namespace", ns, "ServiceName", svc))
}

// SharedL4 creates what AKO builds for Services sharing a VIP with key:
// VsVip and virtual service "<c>--<ns>-<key>", a pool per member port
// "<c>--<ns>-<svc>-<key>-<PROTO>-<port>", and the L4PolicySet.
func (w *Writer) SharedL4(ctx context.Context, ns, key string, members map[string][]Port) (obj, error) {
	base := w.prefix() + ns + "-" + key
	var ports []Port
	var pools []string
	for svc, ps := range members {
		for _, p := range ps {
			name := w.prefix() + ns + "-" + svc + "-" + key + "-" + p.Protocol + "-" + strconv.Itoa(int(p.Port))
			if err := w.pool(ctx, name, p.Protocol, p.Servers, w.markers("Namespace", ns, "ServiceName", svc, "Port", strconv.Itoa(int(p.Port)), "Protocol", p.Protocol, "GatewayName", key)); err != nil {
				return nil, err
			}
			ports, pools = append(ports, p), append(pools, name)
		}
	}
	return w.l4VS(ctx, base, ports, pools, w.markers("Namespace", ns, "GatewayName", key))
}

// l4VS creates the VsVip, L4PolicySet and virtual service of an L4 owner.
func (w *Writer) l4VS(ctx context.Context, base string, ports []Port, pools []string, markers []obj) (obj, error) {
	vip, err := w.vsvip(ctx, base, nil)
	if err != nil {
		return nil, err
	}
	var rules []obj
	tcp, other := false, false
	var services []obj
	for i, p := range ports {
		rules = append(rules, obj{"name": pools[i], "index": i, "action": obj{"select_pool": obj{"action_type": "L4_RULE_ACTION_SELECT_POOL", "pool_ref": ref("pool", pools[i])}},
			"match": obj{"port": obj{"match_criteria": "IS_IN", "ports": []int32{p.Port}}, "protocol": obj{"match_criteria": "IS_IN", "protocol": "PROTOCOL_" + p.Protocol}}})
		svc := obj{"port": p.Port, "port_range_end": p.Port, "enable_ssl": false}
		switch p.Protocol {
		case "TCP":
			tcp = true
		case "UDP":
			other = true
			svc["override_network_profile_ref"] = ref("networkprofile", "System-UDP-Fast-Path")
		}
		services = append(services, svc)
	}
	if _, err := w.create(ctx, "l4policyset", obj{"name": base, "created_by": w.createdBy(), "markers": markers,
		"l4_connection_policy": obj{"rules": rules}}); err != nil {
		return nil, err
	}
	netProfile := "System-TCP-Proxy"
	if !tcp && other {
		netProfile = "System-UDP-Fast-Path"
		for _, s := range services {
			delete(s, "override_network_profile_ref")
		}
	}
	_, err = w.create(ctx, "virtualservice", obj{"name": base, "cloud_ref": ref("cloud", w.or(w.Cloud, "Default-Cloud")),
		"vrf_context_ref": ref("vrfcontext", w.or(w.VRF, "global")), "se_group_ref": ref("serviceenginegroup", w.or(w.SEGroup, "Default-Group")),
		"vsvip_ref": ref("vsvip", base), "created_by": w.createdBy(), "markers": markers, "services": services,
		"application_profile_ref": ref("applicationprofile", "System-L4-Application"), "network_profile_ref": ref("networkprofile", netProfile),
		"l4_policies": []obj{{"index": 0, "l4_policy_set_ref": ref("l4policyset", base)}}, "remove_listening_port_on_vs_down": true,
		"traffic_enabled": true})
	return vip, err
}

// SecureHost is one TLS host of an Ingress on a shared shard.
type SecureHost struct {
	Namespace, Ingress, Host, Path string
	Cert, Key                      []byte
	Servers                        []Server
}

// SharedShard creates an AKO shared L7 parent "shard" (VsVip with the
// hosts' DNS records, parent virtual service on 80 and 443 with the
// controller's default certificate, the redirect policy set, the
// datascript and pool group of insecure routes) and, per secure host, the
// SNI child "<c>--<host>", its certificate "<c>--<host>", policy set
// "<c>--<ns>-<host>", pool group and pool "<c>--<ns>-<host><path>-<ing>".
// It returns the parent's VsVip as the controller answered.
func (w *Writer) SharedShard(ctx context.Context, shard string, hosts []SecureHost) (obj, error) {
	var fqdns []string
	var redirects []obj
	for i, h := range hosts {
		fqdns = append(fqdns, h.Host)
		redirects = append(redirects, obj{"name": shard + "-" + h.Host, "index": i, "enable": true,
			"match":           obj{"host_hdr": obj{"match_criteria": "HDR_EQUALS", "value": []string{h.Host}}, "vs_port": obj{"match_criteria": "IS_IN", "ports": []int{80}}},
			"redirect_action": obj{"protocol": "HTTPS", "port": 443, "status_code": "HTTP_REDIRECT_STATUS_CODE_302", "keep_query": true}})
	}
	vip, err := w.vsvip(ctx, shard, fqdns)
	if err != nil {
		return nil, err
	}
	if _, err := w.create(ctx, "poolgroup", obj{"name": shard, "cloud_ref": ref("cloud", w.or(w.Cloud, "Default-Cloud")), "created_by": w.createdBy(), "markers": w.markers()}); err != nil {
		return nil, err
	}
	if _, err := w.create(ctx, "vsdatascriptset", obj{"name": shard, "created_by": w.createdBy(), "markers": w.markers(),
		"pool_group_refs": []string{ref("poolgroup", shard)},
		"datascript":      []obj{{"evt": "VS_DATASCRIPT_EVT_HTTP_REQ", "script": "host = avi.http.get_host_tokens(1)\npath = avi.http.get_path_tokens(1)\n"}}}); err != nil {
		return nil, err
	}
	if _, err := w.create(ctx, "httppolicyset", obj{"name": shard, "created_by": w.createdBy(), "markers": w.markers(),
		"http_request_policy": obj{"rules": redirects}}); err != nil {
		return nil, err
	}
	if _, err := w.create(ctx, "virtualservice", obj{"name": shard, "type": "VS_TYPE_VH_PARENT", "cloud_ref": ref("cloud", w.or(w.Cloud, "Default-Cloud")),
		"vrf_context_ref": ref("vrfcontext", w.or(w.VRF, "global")), "se_group_ref": ref("serviceenginegroup", w.or(w.SEGroup, "Default-Group")),
		"vsvip_ref": ref("vsvip", shard), "created_by": w.createdBy(), "markers": w.markers(),
		"services":                     []obj{{"port": 80, "enable_ssl": false}, {"port": 443, "enable_ssl": true}},
		"application_profile_ref":      ref("applicationprofile", "System-HTTP"),
		"network_profile_ref":          ref("networkprofile", "System-TCP-Proxy"),
		"ssl_profile_ref":              ref("sslprofile", "System-Standard"),
		"ssl_key_and_certificate_refs": []string{ref("sslkeyandcertificate", "System-Default-Cert")},
		"http_policies":                []obj{{"index": 11, "http_policy_set_ref": ref("httppolicyset", shard)}},
		"vs_datascripts":               []obj{{"index": 0, "vs_datascript_set_ref": ref("vsdatascriptset", shard)}}}); err != nil {
		return nil, err
	}
	for _, h := range hosts {
		if err := w.sniChild(ctx, shard, h); err != nil {
			return nil, err
		}
	}
	return vip, nil
}

// sniChild creates one secure host's SNI child and what it refers to.
func (w *Writer) sniChild(ctx context.Context, shard string, h SecureHost) error {
	label := strings.ReplaceAll(h.Host+h.Path, "/", "_")
	pool := w.prefix() + h.Namespace + "-" + label + "-" + h.Ingress
	m := w.markers("Namespace", h.Namespace, "Host", h.Host, "Path", h.Path, "IngressName", h.Ingress)
	if err := w.pool(ctx, pool, "TCP", h.Servers, m); err != nil {
		return err
	}
	if _, err := w.create(ctx, "poolgroup", obj{"name": pool, "cloud_ref": ref("cloud", w.or(w.Cloud, "Default-Cloud")), "created_by": w.createdBy(), "markers": m,
		"members": []obj{{"pool_ref": ref("pool", pool), "ratio": 100}}}); err != nil {
		return err
	}
	if _, err := w.create(ctx, "sslkeyandcertificate", obj{"name": w.prefix() + h.Host, "type": "SSL_CERTIFICATE_TYPE_VIRTUALSERVICE", "created_by": w.createdBy(),
		"markers": w.markers("Host", h.Host), "certificate": obj{"certificate": string(h.Cert)}, "key": string(h.Key)}); err != nil {
		return err
	}
	policy := w.prefix() + h.Namespace + "-" + h.Host
	if _, err := w.create(ctx, "httppolicyset", obj{"name": policy, "created_by": w.createdBy(), "markers": m,
		"http_request_policy": obj{"rules": []obj{{"name": pool, "index": 0, "enable": true,
			"match":            obj{"host_hdr": obj{"match_criteria": "HDR_EQUALS", "value": []string{h.Host}}, "path": obj{"match_criteria": "BEGINS_WITH", "match_case": "SENSITIVE", "match_str": []string{h.Path}}},
			"switching_action": obj{"action": "HTTP_SWITCHING_SELECT_POOLGROUP", "pool_group_ref": ref("poolgroup", pool)}}}}}); err != nil {
		return err
	}
	_, err := w.create(ctx, "virtualservice", obj{"name": w.prefix() + h.Host, "type": "VS_TYPE_VH_CHILD", "cloud_ref": ref("cloud", w.or(w.Cloud, "Default-Cloud")),
		"vrf_context_ref": ref("vrfcontext", w.or(w.VRF, "global")), "se_group_ref": ref("serviceenginegroup", w.or(w.SEGroup, "Default-Group")),
		"created_by": w.createdBy(), "markers": w.markers("Namespace", h.Namespace, "Host", h.Host),
		"vh_parent_vs_ref": ref("virtualservice", shard), "vh_domain_name": []string{h.Host},
		"application_profile_ref":      ref("applicationprofile", "System-Secure-HTTP"),
		"ssl_profile_ref":              ref("sslprofile", "System-Standard"),
		"ssl_key_and_certificate_refs": []string{ref("sslkeyandcertificate", w.prefix()+h.Host)},
		"http_policies":                []obj{{"index": 11, "http_policy_set_ref": ref("httppolicyset", policy)}}})
	return err
}
