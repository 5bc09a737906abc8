package check

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/rules"
)

type checkCase struct {
	name        string
	settings    func(*config.Settings)
	noInventory bool
	// inventory edits the test inventory (a copy) before the run.
	inventory func(*inventory.Snapshot)
	// classes are the IngressClasses besides the set's; nil: the chart's avi-lb, default.
	classes   []networkingv1.IngressClass
	manifests string
	verbose   bool
	// want is the exact output of Report.Write.
	want []string
}

func svcYAML(ns, name, ip string, extra ...string) string {
	out := "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\n"
	var ann, spec []string
	for _, e := range extra {
		if k, v, ok := strings.Cut(e, "="); ok && strings.Contains(k, "/") {
			ann = append(ann, "    "+k+": "+v)
		} else {
			spec = append(spec, "  "+e)
		}
	}
	if len(ann) > 0 {
		out += "  annotations:\n" + strings.Join(ann, "\n") + "\n"
	}
	out += "spec:\n  type: LoadBalancer\n"
	if ip != "" {
		out += "  loadBalancerIP: " + ip + "\n"
	}
	if !slices.ContainsFunc(spec, func(s string) bool { return strings.HasPrefix(s, "  ports:") }) {
		spec = append(spec, "  ports: [{port: 80}]")
	}
	return out + strings.Join(spec, "\n") + "\n"
}

func runCase(t *testing.T, tc checkCase) {
	t.Helper()
	s := demoSettings()
	if tc.settings != nil {
		tc.settings(s)
	}
	var inv = demoInventory(t)
	if tc.noInventory {
		inv = nil
	}
	if tc.inventory != nil {
		tc.inventory(inv)
	}
	classes := tc.classes
	if classes == nil {
		classes = VipgateClasses([]string{"avi-lb"}, "avi-lb")
	}
	objs := decode(t, tc.manifests)
	rep := Run(context.Background(), objs, Options{Settings: s, Inventory: inv, IngressClasses: classes, Now: now})
	var out strings.Builder
	if err := rep.Write(&out, tc.verbose); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if !slices.Equal(got, tc.want) {
		t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
	}
	// Every checked object gets exactly the webhook's answer.
	for _, v := range rep.Verdicts {
		if v.Skipped != "" {
			continue
		}
		wantWarn, wantErr := webhookSays(t, objs, v.Object, classes, s, inv)
		wantWarn = slices.DeleteFunc(wantWarn, func(w string) bool { return w == rules.WarnInventoryNotLoaded })
		if !slices.Equal(v.Warnings, wantWarn) {
			t.Errorf("%s: warnings %q, the webhook's %q", v.Object.Ref(), v.Warnings, wantWarn)
		}
		switch {
		case (v.Err == nil) != (wantErr == nil):
			t.Errorf("%s: check says %v, the webhook %v", v.Object.Ref(), v.Err, wantErr)
		case v.Err != nil && v.Err.Error() != wantErr.Error():
			t.Errorf("%s: check says\n  %s\nthe webhook\n  %s", v.Object.Ref(), v.Err, wantErr)
		}
	}
}

const placementMsg = `not inside any VIP network of NetworkSettings.vipNetworkList (vip-net-a 10.50.0.0/24, static VIP range 10.50.0.10-10.50.0.200); pick an address in a static VIP range, or leave it unset to get one allocated`

func TestServiceAddresses(t *testing.T) {
	for _, tc := range []checkCase{{
		name:      "an address outside every VIP network is refused",
		manifests: svcYAML("default", "far", "10.10.0.5"),
		want: []string{
			`set.yaml:1: Service "far" is invalid: spec.loadBalancerIP: Invalid value: "10.10.0.5": ` + placementMsg,
			"1 objects checked, 1 refused, 0 warnings, 0 skipped",
		},
	}, {
		name: "inside the subnet but outside its static range, or its broadcast address",
		manifests: svcYAML("default", "outside", "10.50.0.250") + "---\n" +
			svcYAML("default", "bcast", "10.50.0.255") + "---\n" +
			svcYAML("default", "good", "10.50.0.20"),
		want: []string{
			`set.yaml:1: Service "outside" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.250": is inside subnet 10.50.0.0/24 of vip-net-a but outside its static VIP range 10.50.0.10-10.50.0.200; the controller allocates VIPs only from that range`,
			`set.yaml:11: Service "bcast" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.255": is the broadcast address of subnet 10.50.0.0/24 (vip-net-a); pick an address in static VIP range 10.50.0.10-10.50.0.200`,
			"3 objects checked, 2 refused, 0 warnings, 0 skipped",
		},
	}, {
		name: "an address held on the controller by another tool is refused; the Service's own is not",
		manifests: svcYAML("default", "web", "10.50.0.10") + "---\n" +
			svcYAML("default", "api", "10.50.0.11"),
		want: []string{
			`set.yaml:11: Service "api" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.11": is already allocated on the controller to VsVip "legacy-vip" (created_by "ako-prod"), which this cluster does not manage; pick another address, or leave it unset to get one allocated`,
			"2 objects checked, 1 refused, 0 warnings, 0 skipped",
		},
	}, {
		name:      "with --cluster-id, this cluster's name on another cluster's VsVip is refused",
		settings:  func(s *config.Settings) { s.ClusterID = "uid-2" },
		manifests: svcYAML("default", "web", "10.50.0.10"),
		want: []string{
			`set.yaml:1: Service "web" is invalid: metadata.name: Invalid value: "web": its Avi name "demo--default-web" is already used by VsVip "demo--default-web" of another cluster named "demo" on the controller (identity uid-1); give each cluster its own AKOSettings.clusterName (Avi names join namespace and name with "-", so different objects can meet); rename this Service, or that one`,
			"1 objects checked, 1 refused, 0 warnings, 0 skipped",
		},
	}, {
		name: "two Services of the set asking for one address are both refused",
		manifests: svcYAML("shop", "web", "10.50.0.20") + "---\n" +
			svcYAML("shop", "api", "", ako("load-balancer-ip")+"=10.50.0.20"),
		want: []string{
			`set.yaml:1: Service "web" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.20": is already requested or held by Service shop/api; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`,
			`set.yaml:11: Service "api" is invalid: metadata.annotations[ako.vmware.com/load-balancer-ip]: Invalid value: "10.50.0.20": is already requested or held by Service shop/web; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`,
			"2 objects checked, 2 refused, 0 warnings, 0 skipped",
		},
	}, {
		name:        "without an inventory the static checks still refuse, with the webhook's warning once",
		noInventory: true,
		manifests: svcYAML("shop", "web", "10.50.0.20") + "---\n" +
			svcYAML("shop", "api", "10.50.0.20") + "---\n" +
			svcYAML("shop", "far", "10.10.0.5") + "---\n" +
			svcYAML("shop", "bad", "10.50.0.300"),
		want: []string{
			"Warning: " + rules.WarnInventoryNotLoaded,
			`set.yaml:1: Service "web" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.20": is already requested or held by Service shop/api; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`,
			`set.yaml:11: Service "api" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.20": is already requested or held by Service shop/web; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`,
			`set.yaml:31: Service "bad" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.300": must be a valid IP address, such as 10.50.0.20`,
			"4 objects checked, 3 refused, 1 warnings, 0 skipped",
		},
	}, {
		name: "addresses are compared in the canonical form the mutating webhook writes",
		settings: func(s *config.Settings) {
			s.AKOSettings.IPFamily = "V6"
			s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-net-6"}}
		},
		manifests: svcYAML("default", "v6a", `"2001:DB8::20"`) + "---\n" + svcYAML("default", "v6b", "2001:db8::20"),
		want: []string{
			`set.yaml:1: Service "v6a" is invalid: spec.loadBalancerIP: Invalid value: "2001:db8::20": is already requested or held by Service default/v6b; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`,
			`set.yaml:11: Service "v6b" is invalid: spec.loadBalancerIP: Invalid value: "2001:db8::20": is already requested or held by Service default/v6a; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`,
			"2 objects checked, 2 refused, 0 warnings, 0 skipped",
		},
	}, {
		name: "settings that do not match the controller are a warning, as the operator logs them",
		settings: func(s *config.Settings) {
			s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "nope"}}
		},
		manifests: svcYAML("default", "web", ""),
		want: []string{
			`Warning: the settings do not match the controller: NetworkSettings.vipNetworkList[0].networkName: Invalid value: "nope": no network with this name in cloud "Default-Cloud"; known VIP networks: vip-net-6, vip-net-a, vip-net-b`,
			"1 objects checked, 0 refused, 1 warnings, 0 skipped",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

func ako(key string) string { return "ako.vmware.com/" + key }

func TestSharedVIP(t *testing.T) {
	key := ako("enable-shared-vip") + "=k"
	for _, tc := range []checkCase{{
		name: "members asking for the same address on distinct ports pass",
		manifests: svcYAML("default", "a", "10.50.0.30", key, "ports: [{port: 80}]") + "---\n" +
			svcYAML("default", "b", "10.50.0.30", key, "ports: [{port: 443}]") + "---\n" +
			svcYAML("default", "c", "", key, "ports: [{port: 53, protocol: UDP}, {port: 8080}]"),
		want: []string{"3 objects checked, 0 refused, 0 warnings, 0 skipped"},
	}, {
		name: "members asking for different addresses on one port are refused against each other",
		manifests: svcYAML("default", "a", "10.50.0.30", key, "ports: [{port: 80}]") + "---\n" +
			svcYAML("default", "c", "10.50.0.31", key, "ports: [{port: 80, protocol: TCP}]"),
		want: []string{
			`set.yaml:1: Service "a" is invalid: [spec.loadBalancerIP: Invalid value: "10.50.0.30": differs from "10.50.0.31" requested by Service default/c, which shares VIP key "k"; Services sharing a VIP must request the same address, or only one of them requests it, spec.ports[0].port: Invalid value: 80: collides with port 80/TCP of Service default/c, which shares VIP key "k"; Services sharing a VIP need distinct port/protocol pairs]`,
			`set.yaml:13: Service "c" is invalid: [spec.loadBalancerIP: Invalid value: "10.50.0.31": differs from "10.50.0.30" requested by Service default/a, which shares VIP key "k"; Services sharing a VIP must request the same address, or only one of them requests it, spec.ports[0].port: Invalid value: 80: collides with port 80/TCP of Service default/a, which shares VIP key "k"; Services sharing a VIP need distinct port/protocol pairs]`,
			"2 objects checked, 2 refused, 0 warnings, 0 skipped",
		},
	}, {
		name: "the same key in another namespace is another group, which may not take the address",
		manifests: svcYAML("default", "a", "10.50.0.30", key) + "---\n" +
			svcYAML("other", "a", "10.50.0.30", key, "ports: [{port: 443}]"),
		want: []string{
			`set.yaml:1: Service "a" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.30": is already requested or held by Service other/a; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`,
			`set.yaml:13: Service "a" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.30": is already requested or held by Service default/a; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`,
			"2 objects checked, 2 refused, 0 warnings, 0 skipped",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

func TestAviNames(t *testing.T) {
	crt, keyPEM := certPair(t, "team-web", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	for _, tc := range []checkCase{{
		name:      "team/a-web and team-a/web meet on one Avi name: both refused",
		manifests: svcYAML("team", "a-web", "") + "---\n" + svcYAML("team-a", "web", ""),
		want: []string{
			`set.yaml:1: Service "a-web" is invalid: metadata.name: Invalid value: "a-web": its Avi name "demo--team-a-web" is already used by Service team-a/web (Avi names join namespace and name with "-", so different objects can meet); rename this Service, or that one`,
			`set.yaml:10: Service "web" is invalid: metadata.name: Invalid value: "web": its Avi name "demo--team-a-web" is already used by Service team/a-web (Avi names join namespace and name with "-", so different objects can meet); rename this Service, or that one`,
			"2 objects checked, 2 refused, 0 warnings, 0 skipped",
		},
	}, {
		name:      "an Avi name another tool holds on the controller is refused",
		manifests: svcYAML("prod", "api", ""),
		want: []string{
			`set.yaml:1: Service "api" is invalid: metadata.name: Invalid value: "api": its Avi name "demo--prod-api" is already used by VsVip "demo--prod-api" on the controller (created_by "ako-prod"), which this cluster does not manage (Avi names join namespace and name with "-", so different objects can meet); rename this Service, or that one`,
			"1 objects checked, 1 refused, 0 warnings, 0 skipped",
		},
	}, {
		name: "an Ingress host without a dot meets a Service's name",
		manifests: svcYAML("team", "web", "") + "---\n" + tlsSecretYAML("team", "web-tls", crt, keyPEM) + "---\n" + `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: hosty, namespace: team}
spec:
  ingressClassName: avi-lb
  tls: [{hosts: [team-web], secretName: web-tls}]
  rules: [{host: team-web}]
`,
		want: []string{
			`set.yaml:1: Service "web" is invalid: metadata.name: Invalid value: "web": its Avi name "demo--team-web" is already used by Ingress team/hosty (Avi names join namespace and name with "-", so different objects can meet); rename this Service, or that one`,
			`set.yaml:18: Ingress.networking.k8s.io "hosty" is invalid: spec.tls[0].hosts[0]: Invalid value: "team-web": its SNI virtual service name "demo--team-web" is already used by Service team/web (Avi names join namespace and name with "-", so different objects can meet); use another host name (a host without a dot becomes a virtual service name)`,
			"2 objects checked, 2 refused, 0 warnings, 0 skipped",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

func ingressYAML(ns, name, class, host, secret string, annotations ...string) string {
	out := "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: " + name + "\n  namespace: " + ns + "\n"
	if len(annotations) > 0 {
		out += "  annotations:\n"
		for _, a := range annotations {
			k, v, _ := strings.Cut(a, "=")
			out += "    " + k + ": " + v + "\n"
		}
	}
	out += "spec:\n"
	if class != "" {
		out += "  ingressClassName: " + class + "\n"
	}
	if secret != "" {
		out += "  tls: [{hosts: [" + host + "], secretName: " + secret + "}]\n"
	}
	return out + "  rules: [{host: " + host + "}]\n"
}

func TestIngressTLSSecrets(t *testing.T) {
	crt, key := certPair(t, "shop.example.com", now.Add(-time.Hour), now.Add(90*24*time.Hour))
	oldCrt, oldKey := certPair(t, "shop.example.com", now.Add(-90*24*time.Hour), now.Add(-24*time.Hour))
	soonCrt, soonKey := certPair(t, "shop.example.com", now.Add(-90*24*time.Hour), now.Add(3*24*time.Hour))
	const host = "shop.example.com"
	for _, tc := range []checkCase{{
		name:      "a TLS Secret that is not in the set is missing",
		manifests: ingressYAML("shop", "shop", "avi-lb", host, "shop-tls"),
		want: []string{
			`set.yaml:1: Ingress.networking.k8s.io "shop" is invalid: spec.tls[0].secretName: Invalid value: "shop-tls": Secret shop/shop-tls does not exist; create it (kubectl create secret tls shop-tls -n shop --cert=<file> --key=<file>), or annotate the Ingress with cert-manager.io/cluster-issuer or cert-manager.io/issuer so cert-manager issues it`,
			"1 objects checked, 1 refused, 0 warnings, 0 skipped",
		},
	}, {
		name: "a usable TLS Secret in the set, in data or stringData, passes",
		manifests: ingressYAML("shop", "shop", "avi-lb", host, "shop-tls") + "---\n" + tlsSecretYAML("shop", "shop-tls", crt, key) + "---\n" +
			ingressYAML("shop", "shop2", "avi-lb", "www.example.com", "string-tls") + "---\n" + tlsSecretStringDataYAML("shop", "string-tls", crt, key),
		want: []string{"2 objects checked, 0 refused, 0 warnings, 0 skipped"},
	}, {
		name: "expired, expiring soon, and of the wrong type",
		manifests: ingressYAML("shop", "old", "avi-lb", host, "old-tls") + "---\n" + tlsSecretYAML("shop", "old-tls", oldCrt, oldKey) + "---\n" +
			ingressYAML("shop", "soon", "avi-lb", "soon.example.com", "soon-tls") + "---\n" + tlsSecretYAML("shop", "soon-tls", soonCrt, soonKey) + "---\n" +
			ingressYAML("shop", "opaque", "avi-lb", "opaque.example.com", "opaque") + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: opaque, namespace: shop}\nstringData: {password: hunter2}\n",
		want: []string{
			`set.yaml:1: Ingress.networking.k8s.io "old" is invalid: spec.tls[0].secretName: Invalid value: "old-tls": the certificate in Secret shop/old-tls expired on 2026-02-28T12:00:00Z; renew it, or let cert-manager manage it`,
			`set.yaml:19: Warning: spec.tls[0].secretName: the certificate in Secret shop/soon-tls expires on 2026-03-04T12:00:00Z (in 3 days); renew it soon`,
			`set.yaml:37: Ingress.networking.k8s.io "opaque" is invalid: spec.tls[0].secretName: Invalid value: "opaque": Secret shop/opaque is of type Opaque; it must be of type kubernetes.io/tls (kubectl create secret tls)`,
			"3 objects checked, 2 refused, 1 warnings, 0 skipped",
		},
	}, {
		name: "a cert-manager Certificate of the set issues the missing Secret",
		manifests: ingressYAML("shop", "shop", "avi-lb", host, "issued-tls") + "---\n" +
			"apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: shop, namespace: shop}\nspec: {secretName: issued-tls, dnsNames: [shop.example.com], issuerRef: {name: ca}}\n" + "---\n" +
			ingressYAML("shop", "annotated", "avi-lb", "www.example.com", "www-tls", "cert-manager.io/cluster-issuer=ca"),
		want: []string{
			`set.yaml:1: Warning: spec.tls[0].secretName: Secret shop/issued-tls does not exist yet; cert-manager is expected to issue it, and HTTPS for this entry starts once it does`,
			`set.yaml:16: Warning: spec.tls[0].secretName: Secret shop/www-tls does not exist yet; cert-manager is expected to issue it, and HTTPS for this entry starts once it does`,
			"2 objects checked, 0 refused, 2 warnings, 0 skipped",
		},
	}, {
		name:     "fqdnReusePolicy Strict: one host in two namespaces is refused both ways",
		settings: func(s *config.Settings) { s.L7Settings.FQDNReusePolicy = rules.FQDNReuseStrict },
		manifests: ingressYAML("a", "one", "avi-lb", "x.example.com", "") + "---\n" +
			ingressYAML("b", "two", "", "x.example.com", "") + "---\n" +
			ingressYAML("c", "three", "nginx", "x.example.com", ""),
		want: []string{
			`set.yaml:1: Ingress.networking.k8s.io "one" is invalid: spec.rules[0].host: Invalid value: "x.example.com": is already claimed by Ingress b/two in another namespace, and L7Settings.fqdnReusePolicy is Strict; use another host, or remove it there first`,
			`set.yaml:10: Ingress.networking.k8s.io "two" is invalid: spec.rules[0].host: Invalid value: "x.example.com": is already claimed by Ingress a/one in another namespace, and L7Settings.fqdnReusePolicy is Strict; use another host, or remove it there first`,
			"2 objects checked, 2 refused, 0 warnings, 1 skipped",
		},
	}, {
		name:      "hosts must be DNS names",
		manifests: ingressYAML("a", "ip", "avi-lb", "10.0.0.1", ""),
		want: []string{
			`set.yaml:1: Ingress.networking.k8s.io "ip" is invalid: spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address; Ingress hosts match the HTTP Host header and TLS SNI`,
			"1 objects checked, 1 refused, 0 warnings, 0 skipped",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

func aisYAML(name string, networks []string, seGroup string) string {
	out := "apiVersion: ako.vmware.com/v1beta1\nkind: AviInfraSetting\nmetadata: {name: " + name + "}\nspec:\n"
	if len(networks) > 0 {
		out += "  network:\n    vipNetworks:\n"
		for _, n := range networks {
			out += "    - networkName: " + n + "\n"
		}
	}
	if seGroup != "" {
		out += "  seGroup: {name: " + seGroup + "}\n"
	}
	return out
}

func TestAviInfraSettings(t *testing.T) {
	sel := "aviinfrasetting.ako.vmware.com/name="
	multiMsg := `spec.network.vipNetworks[1]: Invalid value: "vip-net-b": cloud "Default-Cloud" is of type CLOUD_VCENTER, which places one VIP per virtual service; list a single VIP network (several are supported only on CLOUD_AWS clouds)`
	for _, tc := range []checkCase{{
		name: "networks and SE groups the controller cannot use are refused",
		manifests: aisYAML("multi", []string{"vip-net-a", "vip-net-b"}, "") + "---\n" +
			aisYAML("unknown", []string{"nope"}, "") + "---\n" +
			aisYAML("foreign", nil, "prod-seg") + "---\n" +
			aisYAML("b-only", []string{"vip-net-b"}, "edge-seg"),
		want: []string{
			`set.yaml:1: AviInfraSetting.ako.vmware.com "multi" is invalid: ` + multiMsg,
			`set.yaml:10: AviInfraSetting.ako.vmware.com "unknown" is invalid: spec.network.vipNetworks[0].networkName: Invalid value: "nope": no network with this name in cloud "Default-Cloud"; known VIP networks: vip-net-6, vip-net-a, vip-net-b`,
			`set.yaml:18: AviInfraSetting.ako.vmware.com "foreign" is invalid: spec.seGroup.name: Invalid value: "prod-seg": SE group is labelled clustername=prod, so it belongs to another cluster; use an SE group labelled clustername=demo or one without that label`,
			"4 objects checked, 3 refused, 0 warnings, 0 skipped",
		},
	}, {
		name: "Services read the AviInfraSettings of the set as their reconciler decides them",
		manifests: aisYAML("multi", []string{"vip-net-a", "vip-net-b"}, "") + "---\n" +
			aisYAML("b-only", []string{"vip-net-b"}, "") + "---\n" +
			svcYAML("default", "on-multi", "", sel+"multi") + "---\n" +
			svcYAML("default", "on-b", "10.60.0.3", sel+"b-only") + "---\n" +
			svcYAML("default", "on-b-far", "10.50.0.20", sel+"b-only") + "---\n" +
			svcYAML("default", "on-absent", "", sel+"absent") + "---\n" +
			"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: edge\n  annotations: {aviinfrasetting.ako.vmware.com/name: b-only}\n---\n" +
			svcYAML("edge", "via-namespace", "10.50.0.21"),
		want: []string{
			`set.yaml:1: AviInfraSetting.ako.vmware.com "multi" is invalid: ` + multiMsg,
			`set.yaml:18: Service "on-multi" is invalid: metadata.annotations[aviinfrasetting.ako.vmware.com/name]: Invalid value: "multi": AviInfraSetting "multi" is Rejected: ` + multiMsg + `; fix it first, or select another one`,
			`set.yaml:41: Service "on-b-far" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.20": not inside any VIP network of AviInfraSetting "b-only" (vip-net-b 10.60.0.0/28, static VIP range 10.60.0.2-10.60.0.5); pick an address in a static VIP range, or leave it unset to get one allocated`,
			`set.yaml:53: Service "on-absent" is invalid: metadata.annotations[aviinfrasetting.ako.vmware.com/name]: Invalid value: "absent": no AviInfraSetting with this name exists; create it first, or remove the annotation`,
			`set.yaml:70: Service "via-namespace" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.21": not inside any VIP network of AviInfraSetting "b-only" (vip-net-b 10.60.0.0/28, static VIP range 10.60.0.2-10.60.0.5); pick an address in a static VIP range, or leave it unset to get one allocated`,
			"7 objects checked, 5 refused, 0 warnings, 0 skipped",
		},
	}, {
		name:        "without an inventory an AviInfraSetting is not accepted yet: Services selecting it warn",
		noInventory: true,
		manifests: aisYAML("multi", []string{"vip-net-a", "vip-net-b"}, "") + "---\n" +
			svcYAML("default", "on-multi", "10.50.0.20", sel+"multi"),
		want: []string{
			"Warning: " + rules.WarnInventoryNotLoaded,
			`set.yaml:10: Warning: AviInfraSetting "multi" has not been accepted yet; the Service gets its VIP once it is`,
			"2 objects checked, 0 refused, 2 warnings, 0 skipped",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

func TestOwnershipAndSkips(t *testing.T) {
	for _, tc := range []checkCase{{
		name:    "only objects vipgate would judge are checked; -v says why the others are not",
		verbose: true,
		manifests: "apiVersion: v1\nkind: Service\nmetadata: {name: internal}\nspec: {ports: [{port: 80}]}\n---\n" +
			svcYAML("default", "metallb", "10.10.0.5", "loadBalancerClass: metallb.io/metallb") + "---\n" +
			ingressYAML("default", "nginx", "nginx", "a.example.com", "") + "---\n" +
			ingressYAML("default", "classless", "", "10.0.0.1", "") + "---\n" +
			"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n---\n" +
			svcYAML("default", "far", "10.10.0.5"),
		want: []string{
			"set.yaml:34: apps/v1 Deployment web ignored: not a kind vipgate judges or reads",
			"set.yaml:1: Service default/internal skipped: type ClusterIP, not LoadBalancer",
			"set.yaml:6: Service default/metallb skipped: loadBalancerClass metallb.io/metallb is another load balancer's",
			"set.yaml:17: Ingress default/nginx skipped: IngressClass nginx is not vipgate's (not of controller ako.vmware.com/avi-lb in the set, nor named by --ingress-class)",
			`set.yaml:26: Ingress.networking.k8s.io "classless" is invalid: spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address; Ingress hosts match the HTTP Host header and TLS SNI`,
			`set.yaml:39: Service "far" is invalid: spec.loadBalancerIP: Invalid value: "10.10.0.5": ` + placementMsg,
			"2 objects checked, 2 refused, 0 warnings, 3 skipped",
		},
	}, {
		name: "class-less objects are another controller's when the default-controller settings are off",
		settings: func(s *config.Settings) {
			s.L4Settings.DefaultLBController = false
			s.L7Settings.DefaultIngController = false
		},
		verbose:   true,
		manifests: svcYAML("default", "far", "10.10.0.5") + "---\n" + ingressYAML("default", "classless", "", "10.0.0.1", ""),
		want: []string{
			"set.yaml:1: Service default/far skipped: no loadBalancerClass, and L4Settings.defaultLBController is false",
			"set.yaml:11: Ingress default/classless skipped: no ingressClassName, and L7Settings.defaultIngController is false",
			"0 objects checked, 0 refused, 0 warnings, 2 skipped",
		},
	}, {
		name:    "IngressClasses of the set decide, and without --ingress-class only they count",
		classes: []networkingv1.IngressClass{},
		verbose: true,
		manifests: "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: team}\nspec: {controller: ako.vmware.com/avi-lb}\n---\n" +
			"apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: other}\nspec: {controller: example.com/other}\n---\n" +
			ingressYAML("default", "on-team", "team", "10.0.0.1", "") + "---\n" +
			ingressYAML("default", "on-other", "other", "10.0.0.1", "") + "---\n" +
			ingressYAML("default", "on-avi-lb", "avi-lb", "10.0.0.1", "") + "---\n" +
			ingressYAML("default", "classless", "", "10.0.0.1", ""),
		want: []string{
			`set.yaml:11: Ingress.networking.k8s.io "on-team" is invalid: spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address; Ingress hosts match the HTTP Host header and TLS SNI`,
			"set.yaml:20: Ingress default/on-other skipped: IngressClass other is not vipgate's (not of controller ako.vmware.com/avi-lb in the set, nor named by --ingress-class)",
			"set.yaml:29: Ingress default/on-avi-lb skipped: IngressClass avi-lb is not vipgate's (not of controller ako.vmware.com/avi-lb in the set, nor named by --ingress-class)",
			"set.yaml:38: Ingress default/classless skipped: no ingressClassName, and no IngressClass of vipgate's is the default class",
			"1 objects checked, 1 refused, 0 warnings, 3 skipped",
		},
	}, {
		name: "namespace selection: a Namespace of the set with the label is served, one without is not",
		settings: func(s *config.Settings) {
			s.AKOSettings.NamespaceSelector = config.NamespaceSelector{LabelKey: "vipgate", LabelValue: "on"}
			s.AKOSettings.BlockedNamespaceList = []string{"blocked"}
		},
		verbose: true,
		manifests: "apiVersion: v1\nkind: Namespace\nmetadata: {name: served, labels: {vipgate: \"on\"}}\n---\n" +
			svcYAML("served", "far", "10.10.0.5") + "---\n" +
			svcYAML("elsewhere", "far", "10.10.0.6") + "---\n" +
			svcYAML("blocked", "far", "10.10.0.7"),
		want: []string{
			`set.yaml:5: Service "far" is invalid: spec.loadBalancerIP: Invalid value: "10.10.0.5": ` + placementMsg,
			"set.yaml:15: Service elsewhere/far skipped: namespace elsewhere lacks the label vipgate=on of AKOSettings.namespaceSelector (a Namespace not in the set has no labels)",
			"set.yaml:25: Service blocked/far skipped: namespace blocked is in AKOSettings.blockedNamespaceList",
			"1 objects checked, 1 refused, 0 warnings, 2 skipped",
		},
	}, {
		name:      "layer7Only leaves every Service to another load balancer",
		settings:  func(s *config.Settings) { s.AKOSettings.Layer7Only = true },
		verbose:   true,
		manifests: svcYAML("default", "far", "10.10.0.5"),
		want: []string{
			"set.yaml:1: Service default/far skipped: AKOSettings.layer7Only is true: vipgate handles no Service",
			"0 objects checked, 0 refused, 0 warnings, 1 skipped",
		},
	}, {
		name:      "verbose output lists admitted objects",
		verbose:   true,
		manifests: svcYAML("default", "good", "10.50.0.20") + "---\n" + aisYAML("b-only", []string{"vip-net-b"}, ""),
		want: []string{
			"set.yaml:1: Service default/good admitted",
			"set.yaml:11: AviInfraSetting b-only admitted",
			"2 objects checked, 0 refused, 0 warnings, 0 skipped",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

// TestSecretsNeverPrinted: nothing check prints quotes a Secret's data, even
// for a Secret whose data is not a certificate at all.
func TestSecretsNeverPrinted(t *testing.T) {
	const secret = "c3VwZXItc2VjcmV0LWtleS1tYXRlcmlhbA==" // base64 of super-secret-key-material
	objs := decode(t, ingressYAML("shop", "shop", "avi-lb", "shop.example.com", "bad")+"---\n"+
		"apiVersion: v1\nkind: Secret\nmetadata: {name: bad, namespace: shop}\ntype: kubernetes.io/tls\ndata: {tls.crt: "+secret+", tls.key: "+secret+"}\n")
	rep := Run(context.Background(), objs, Options{Settings: demoSettings(), IngressClasses: VipgateClasses([]string{"avi-lb"}, ""), Now: now})
	var out strings.Builder
	if err := rep.Write(&out, true); err != nil {
		t.Fatal(err)
	}
	want := `set.yaml:1: Ingress.networking.k8s.io "shop" is invalid: spec.tls[0].secretName: Invalid value: "bad": tls.crt in Secret shop/bad is not a PEM certificate; put the PEM certificate chain there`
	if !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	for _, leak := range []string{secret, "super-secret", "c3VwZXI"} {
		if strings.Contains(out.String(), leak) {
			t.Errorf("output quotes the Secret's data (%q):\n%s", leak, out.String())
		}
	}
}

// withWAF gives the inventory the WAF policies of the admin tenant (and
// nothing else of the types rule CRDs name, so those checks fail open).
func withWAF(names ...string) func(*inventory.Snapshot) {
	return func(s *inventory.Snapshot) {
		t := inventory.RefTable{}
		for _, n := range names {
			t.Add(inventory.AdminTenant, n, inventory.RefObject{})
		}
		s.Refs = map[string]inventory.RefTable{inventory.TypeWAFPolicy: t}
	}
}

const hostRuleYAML = `apiVersion: ako.vmware.com/v1beta1
kind: HostRule
metadata:
  name: %s
  namespace: shop
spec:
  virtualhost:
    fqdn: %s
    wafPolicy: %s
`

func TestRuleCRDs(t *testing.T) {
	for _, tc := range []checkCase{{
		name:      "a HostRule naming a WAF policy the controller lacks is refused; an existing one passes",
		inventory: withWAF("demo-waf"),
		manifests: fmt.Sprintf(hostRuleYAML, "bad", "a.example.com", "nope") + "---\n" + fmt.Sprintf(hostRuleYAML, "good", "b.example.com", "demo-waf"),
		want: []string{
			`set.yaml:1: Warning: spec.virtualhost.fqdn: no Ingress of vipgate serves host a.example.com yet; the rule applies once one does`,
			`set.yaml:1: HostRule.ako.vmware.com "bad" is invalid: spec.virtualhost.wafPolicy: Invalid value: "nope": no WAF policy named "nope" exists on the controller in tenant "admin"; create it there first, or name an existing one (demo-waf)`,
			`set.yaml:11: Warning: spec.virtualhost.fqdn: no Ingress of vipgate serves host b.example.com yet; the rule applies once one does`,
			"2 objects checked, 1 refused, 2 warnings, 0 skipped",
		},
	}, {
		name:      "two HostRules for one FQDN: the second is refused (v1alpha1 read as v1beta1)",
		inventory: withWAF("demo-waf"),
		manifests: fmt.Sprintf(hostRuleYAML, "one", "a.example.com", "demo-waf") + "---\n" +
			strings.Replace(fmt.Sprintf(hostRuleYAML, "two", "a.example.com", "demo-waf"), "v1beta1", "v1alpha1", 1),
		want: []string{
			`set.yaml:1: Warning: spec.virtualhost.fqdn: no Ingress of vipgate serves host a.example.com yet; the rule applies once one does`,
			`set.yaml:11: Warning: spec.virtualhost.fqdn: no Ingress of vipgate serves host a.example.com yet; the rule applies once one does`,
			`set.yaml:11: HostRule.ako.vmware.com "two" is invalid: spec.virtualhost.fqdn: Invalid value: "a.example.com": HostRule shop/one already holds this host (as its fqdn); a host takes one HostRule, so edit that one, or delete it first`,
			"2 objects checked, 1 refused, 2 warnings, 0 skipped",
		},
	}, {
		name:      "a Service naming an L4Rule the set lacks",
		manifests: svcYAML("shop", "web", "", ako("l4rule")+"=missing"),
		want: []string{
			`set.yaml:1: Warning: metadata.annotations[ako.vmware.com/l4rule]: L4Rule shop/missing does not exist; the Service gets vipgate's defaults until it does`,
			"1 objects checked, 0 refused, 1 warnings, 0 skipped",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}
