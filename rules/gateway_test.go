package rules

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

var errLookup = errors.New("cache not synced")

// aisLookups answers AviInfraSetting lookups from a map.
type aisLookups struct {
	noLookups
	ais map[string]*v1beta1.AviInfraSetting
}

func (l aisLookups) AviInfraSetting(_ context.Context, name string) (*v1beta1.AviInfraSetting, error) {
	return l.ais[name], nil
}

func TestClassParameters(t *testing.T) {
	ok := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: "ok"}, Status: v1beta1.AviInfraSettingStatus{Status: v1beta1.StatusAccepted}}
	bad := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Status: v1beta1.AviInfraSettingStatus{Status: v1beta1.StatusRejected, Error: "network vip-x not found"}}
	env := Env{Lookups: aisLookups{ais: map[string]*v1beta1.AviInfraSetting{"ok": ok, "bad": bad}}}
	ns := gatewayv1.Namespace("team")
	for _, tc := range []struct {
		name    string
		ref     *gatewayv1.ParametersReference
		want    string
		wantAIS *v1beta1.AviInfraSetting
	}{
		{"none", nil, "", nil},
		{"accepted", &gatewayv1.ParametersReference{Group: "ako.vmware.com", Kind: "AviInfraSetting", Name: "ok"}, "", ok},
		{"wrong kind", &gatewayv1.ParametersReference{Group: "", Kind: "ConfigMap", Name: "x"},
			`spec.parametersRef: Invalid value: "/ConfigMap": vipgate takes parameters from an AviInfraSetting (group ako.vmware.com, kind AviInfraSetting); point parametersRef at one, or remove it`, nil},
		{"namespaced", &gatewayv1.ParametersReference{Group: "ako.vmware.com", Kind: "AviInfraSetting", Name: "ok", Namespace: &ns},
			`spec.parametersRef.namespace: Invalid value: "team": AviInfraSetting is cluster scoped; remove the namespace`, nil},
		{"missing", &gatewayv1.ParametersReference{Group: "ako.vmware.com", Kind: "AviInfraSetting", Name: "nope"},
			`spec.parametersRef.name: Invalid value: "nope": no AviInfraSetting with this name exists; create it first, or remove parametersRef`, nil},
		{"rejected", &gatewayv1.ParametersReference{Group: "ako.vmware.com", Kind: "AviInfraSetting", Name: "bad"},
			`spec.parametersRef.name: Invalid value: "bad": AviInfraSetting "bad" is Rejected: network vip-x not found; fix it first, or select another one`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gc := &gatewayv1.GatewayClass{Spec: gatewayv1.GatewayClassSpec{ControllerName: "ako.vmware.com/avi-lb", ParametersRef: tc.ref}}
			ais, problem, err := ClassParameters(gc, env)
			if err != nil {
				t.Fatal(err)
			}
			if problem != tc.want {
				t.Errorf("problem\n got %q\nwant %q", problem, tc.want)
			}
			if ais != tc.wantAIS {
				t.Errorf("AviInfraSetting %v, want %v", ais, tc.wantAIS)
			}
		})
	}
}

// fakeGatewayLookups answers from a class map and Gateways indexed by address.
type fakeGatewayLookups struct {
	classes map[string]*gatewayv1.GatewayClass
	byIP    map[string][]*gatewayv1.Gateway
	grants  map[string][]*gatewayv1.ReferenceGrant
	err     error
}

func (f fakeGatewayLookups) GatewayClass(_ context.Context, name string) (*gatewayv1.GatewayClass, error) {
	return f.classes[name], f.err
}
func (f fakeGatewayLookups) ReferenceGrants(_ context.Context, ns string) ([]*gatewayv1.ReferenceGrant, error) {
	return f.grants[ns], f.err
}
func (f fakeGatewayLookups) GatewaysByAddress(_ context.Context, ip string) ([]*gatewayv1.Gateway, error) {
	return f.byIP[ip], f.err
}

type gwOpt func(*gatewayv1.Gateway)

func gw(ns, name string, opts ...gwOpt) *gatewayv1.Gateway {
	g := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "avi-lb",
			Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	for _, o := range opts {
		o(g)
	}
	return g
}

func gwIP(v string) gwOpt {
	return func(g *gatewayv1.Gateway) {
		g.Spec.Addresses = append(g.Spec.Addresses, gatewayv1.GatewaySpecAddress{Type: ptr.To(gatewayv1.IPAddressType), Value: v})
	}
}
func gwClass(c string) gwOpt {
	return func(g *gatewayv1.Gateway) { g.Spec.GatewayClassName = gatewayv1.ObjectName(c) }
}
func listener(name string, port int32, proto gatewayv1.ProtocolType, host string) gwOpt {
	return func(g *gatewayv1.Gateway) {
		l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Port: gatewayv1.PortNumber(port), Protocol: proto}
		if host != "" {
			l.Hostname = ptr.To(gatewayv1.Hostname(host))
		}
		g.Spec.Listeners = append(g.Spec.Listeners, l)
	}
}

func TestValidateGateway(t *testing.T) {
	cls := func(name, ctrl string, params *gatewayv1.ParametersReference) *gatewayv1.GatewayClass {
		return &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: gatewayv1.GatewayClassSpec{ControllerName: gatewayv1.GatewayController(ctrl), ParametersRef: params}}
	}
	gl := fakeGatewayLookups{
		classes: map[string]*gatewayv1.GatewayClass{
			"avi-lb":   cls("avi-lb", "ako.vmware.com/avi-lb", nil),
			"avi-edge": cls("avi-edge", "ako.vmware.com/avi-lb", &gatewayv1.ParametersReference{Group: "ako.vmware.com", Kind: "AviInfraSetting", Name: "edge"}),
			"avi-gone": cls("avi-gone", "ako.vmware.com/avi-lb", &gatewayv1.ParametersReference{Group: "ako.vmware.com", Kind: "AviInfraSetting", Name: "gone"}),
			"other":    cls("other", "example.com/gw", nil),
		},
		byIP: map[string][]*gatewayv1.Gateway{"10.50.0.50": {gw("team-a", "front", gwIP("10.50.0.50"))}},
	}
	tests := []struct {
		name      string
		gw, old   *gatewayv1.Gateway
		stale     bool
		inv       *inventory.Snapshot
		gl        *fakeGatewayLookups
		wantErrs  []string
		wantWarns []string
	}{
		{name: "another controller's class passes untouched", gw: gw("default", "g", gwClass("other"), gwIP("garbage"))},
		{name: "unknown class passes untouched", gw: gw("default", "g", gwClass("nope"), gwIP("garbage"))},
		{name: "no address", gw: gw("default", "g")},
		{name: "free address in the static range", gw: gw("default", "g", gwIP("10.50.0.20"))},
		{name: "own VsVip holds it (reconcile re-check)", gw: gw("default", "g", gwIP("10.50.0.60")), inv: demoInventory(func(s *inventory.Snapshot) {
			s.InUse[addr("10.50.0.60")] = inventory.Holder{VsVip: "demo--default-g-EVH", CreatedBy: "vipgate-demo"}
		})},
		{name: "another Gateway's VsVip holds it", gw: gw("default", "g", gwIP("10.50.0.60")), inv: demoInventory(func(s *inventory.Snapshot) {
			s.InUse[addr("10.50.0.60")] = inventory.Holder{VsVip: "demo--default-h-EVH", CreatedBy: "vipgate-demo"}
		}), wantErrs: []string{`spec.addresses[0].value: Invalid value: "10.50.0.60": is already allocated on the controller to VsVip "demo--default-h-EVH" of this cluster; pick another address, or wait until that VsVip is deleted`}},
		{name: "address of the class's AviInfraSetting network", gw: gw("default", "g", gwClass("avi-edge"), gwIP("10.60.0.3"))},
		{name: "not an address", gw: gw("default", "g", gwIP("10.50.0")),
			wantErrs: []string{`spec.addresses[0].value: Invalid value: "10.50.0": must be a valid IP address, such as 10.50.0.20`}},
		{name: "outside every VIP network", gw: gw("default", "g", gwIP("10.10.0.5")),
			wantErrs: []string{`spec.addresses[0].value: Invalid value: "10.10.0.5": not inside any VIP network of NetworkSettings.vipNetworkList (vip-net-a 10.50.0.0/24, static VIP range 10.50.0.10-10.50.0.200); pick an address in a static VIP range, or leave it unset to get one allocated`}},
		{name: "outside the class's AviInfraSetting networks", gw: gw("default", "g", gwClass("avi-edge"), gwIP("10.50.0.20")),
			wantErrs: []string{`spec.addresses[0].value: Invalid value: "10.50.0.20": not inside any VIP network of AviInfraSetting "edge" (vip-net-b 10.60.0.0/28, static VIP range 10.60.0.2-10.60.0.5); pick an address in a static VIP range, or leave it unset to get one allocated`}},
		{name: "IPv6 without ipFamily V6", gw: gw("default", "g", gwIP("2001:db8::1")),
			wantErrs: []string{`spec.addresses[0].value: Invalid value: "2001:db8::1": is an IPv6 address, but AKOSettings.ipFamily is V4; use an IPv4 address, or set AKOSettings.ipFamily to V6`}},
		{name: "requested by a Service", gw: gw("default", "g", gwIP("10.50.0.30")),
			wantErrs: []string{`spec.addresses[0].value: Invalid value: "10.50.0.30": is already requested or held by Service default/api; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`}},
		{name: "requested by another Gateway", gw: gw("default", "g", gwIP("10.50.0.50")),
			wantErrs: []string{`spec.addresses[0].value: Invalid value: "10.50.0.50": is already requested or held by Gateway team-a/front; a VIP belongs to one Gateway`}},
		{name: "the Gateway itself holds it", gw: gw("team-a", "front", gwIP("10.50.0.50"))},
		{name: "allocated on the controller to another tool", gw: gw("default", "g", gwIP("10.50.0.11")),
			wantErrs: []string{`spec.addresses[0].value: Invalid value: "10.50.0.11": is already allocated on the controller to VsVip "legacy-vip" (created_by "ako-prod"), which this cluster does not manage; pick another address, or leave it unset to get one allocated`}},
		{name: "allocated to an orphan VsVip of this cluster", gw: gw("default", "g", gwIP("10.50.0.12")),
			wantErrs: []string{`spec.addresses[0].value: Invalid value: "10.50.0.12": is already allocated on the controller to VsVip "demo--default-old" of this cluster; pick another address, or wait until that VsVip is deleted`}},
		{name: "stale inventory warns and admits", gw: gw("default", "g", gwIP("10.10.0.5")), stale: true,
			wantWarns: []string{WarnInventoryStale}},
		{name: "two addresses", gw: gw("default", "g", gwIP("10.50.0.20"), gwIP("10.50.0.21")),
			wantErrs: []string{`spec.addresses: Invalid value: 2: vipgate gives a Gateway one VIP; list at most one address`}},
		{name: "hostname address", gw: gw("default", "g", func(g *gatewayv1.Gateway) {
			g.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Type: ptr.To(gatewayv1.HostnameAddressType), Value: "gw.example.com"}}
		}), wantErrs: []string{`spec.addresses[0].type: Unsupported value: "Hostname": supported values: "IPAddress"`}},
		{name: "address changed", gw: gw("default", "g", gwIP("10.50.0.21")), old: gw("default", "g", gwIP("10.50.0.20")),
			wantErrs: []string{`spec.addresses[0].value: Invalid value: "10.50.0.21": the requested VIP cannot change after the Gateway is created (it was "10.50.0.20"); delete and recreate the Gateway to move it to another address`}},
		{name: "address unchanged on update is not re-checked", gw: gw("default", "g", gwIP("10.10.0.5")), old: gw("default", "g", gwIP("10.10.0.5"))},
		{name: "class with a missing AviInfraSetting warns, placement skipped", gw: gw("default", "g", gwClass("avi-gone"), gwIP("10.10.0.5")),
			wantWarns: []string{`GatewayClass "avi-gone" is not accepted (spec.parametersRef.name: Invalid value: "gone": no AviInfraSetting with this name exists; create it first, or remove parametersRef); the Gateway is programmed once it is`}},
		{name: "class lookup fails: admitted with a warning", gw: gw("default", "g", gwIP("garbage")), gl: &fakeGatewayLookups{err: errLookup},
			wantWarns: []string{`could not check GatewayClass "avi-lb" (cache not synced); admitted, and checked again when it is reconciled`}},
		{name: "HTTP and HTTPS listeners on one port", gw: gw("default", "g", listener("https", 80, gatewayv1.HTTPSProtocolType, "")),
			wantErrs: []string{`spec.listeners[1].protocol: Invalid value: "HTTPS": port 80 is already used by listener http with protocol HTTP; an Avi virtual service port serves one protocol: use another port`}},
		{name: "two HTTP listeners with one hostname on one port", gw: gw("default", "g", listener("a", 8080, gatewayv1.HTTPProtocolType, "a.example.com"), listener("b", 8080, gatewayv1.HTTPProtocolType, "a.example.com")),
			wantErrs: []string{`spec.listeners[2].hostname: Invalid value: "a.example.com": listener a already serves HTTP on port 8080 with this hostname; listeners on one port and protocol need different hostnames`}},
		{name: "two HTTP listeners with different hostnames share a port", gw: gw("default", "g", listener("a", 8080, gatewayv1.HTTPProtocolType, "a.example.com"), listener("b", 8080, gatewayv1.HTTPProtocolType, "b.example.com"))},
		{name: "TCP and UDP share a port number", gw: gw("default", "g", listener("t", 53, gatewayv1.TCPProtocolType, ""), listener("u", 53, gatewayv1.UDPProtocolType, ""))},
		{name: "TCP and HTTP on one port", gw: gw("default", "g", listener("t", 80, gatewayv1.TCPProtocolType, "")),
			wantErrs: []string{`spec.listeners[1].protocol: Invalid value: "TCP": port 80 is already used by listener http with protocol HTTP; an Avi virtual service port serves one protocol: use another port`}},
		{name: "two TCP listeners on one port", gw: gw("default", "g", listener("t", 53, gatewayv1.TCPProtocolType, ""), listener("t2", 53, gatewayv1.TCPProtocolType, "")),
			wantErrs: []string{`spec.listeners[2].port: Invalid value: 53: listener t already serves TCP on this port; a TCP port has one listener`}},
		{name: "a protocol not programmed yet warns", gw: gw("default", "g", listener("tls", 8443, gatewayv1.TLSProtocolType, "")),
			wantWarns: []string{`spec.listeners[1] (tls): protocol TLS is not programmed by vipgate yet; the listener gets Accepted=False, reason UnsupportedProtocol`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := gl
			if tt.gl != nil {
				l = *tt.gl
			}
			inv := tt.inv
			if inv == nil {
				inv = demoInventory()
			}
			env := Env{Settings: demoSettings(), Inventory: inv, InventoryStale: tt.stale, Lookups: serviceLookups(), Now: now}
			res := ValidateGateway(tt.gw, tt.old, env, l)
			checkResult(t, res, tt.wantErrs, tt.wantWarns)
		})
	}
}

func httpsL(name, host string, refs ...gatewayv1.SecretObjectReference) gwOpt {
	return func(g *gatewayv1.Gateway) {
		l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Port: 443, Protocol: gatewayv1.HTTPSProtocolType,
			TLS: &gatewayv1.ListenerTLSConfig{CertificateRefs: refs}}
		if host != "" {
			l.Hostname = ptr.To(gatewayv1.Hostname(host))
		}
		g.Spec.Listeners = append(g.Spec.Listeners, l)
	}
}

func secretRef(ns, name string) gatewayv1.SecretObjectReference {
	r := gatewayv1.SecretObjectReference{Name: gatewayv1.ObjectName(name)}
	if ns != "" {
		r.Namespace = ptr.To(gatewayv1.Namespace(ns))
	}
	return r
}

func TestValidateGatewayCertificates(t *testing.T) {
	valid := newCert(t, "web.example.com", now.Add(-24*time.Hour), now.Add(90*24*time.Hour))
	expired := newCert(t, "web.example.com", now.Add(-90*24*time.Hour), now.Add(-24*time.Hour))
	lk := serviceLookups()
	lk.addSecret(tlsSecret("default", "valid", valid.certPEM, valid.keyPEM))
	lk.addSecret(tlsSecret("default", "expired", expired.certPEM, expired.keyPEM))
	lk.addSecret(tlsSecret("certs", "shared", valid.certPEM, valid.keyPEM))
	grant := &gatewayv1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Namespace: "certs", Name: "g"}, Spec: gatewayv1.ReferenceGrantSpec{
		From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: "default"}},
		To:   []gatewayv1.ReferenceGrantTo{{Group: "", Kind: "Secret", Name: ptr.To(gatewayv1.ObjectName("shared"))}}}}
	gl := fakeGatewayLookups{classes: map[string]*gatewayv1.GatewayClass{"avi-lb": {Spec: gatewayv1.GatewayClassSpec{ControllerName: "ako.vmware.com/avi-lb"}}},
		grants: map[string][]*gatewayv1.ReferenceGrant{"certs": {grant}}}
	p := `spec.listeners[1].tls.certificateRefs[0]: Invalid value: `
	for _, tt := range []struct {
		name      string
		gw, old   *gatewayv1.Gateway
		wantErrs  []string
		wantWarns []string
	}{
		{name: "valid Secret for the hostname", gw: gw("default", "g", httpsL("s", "web.example.com", secretRef("", "valid")))},
		{name: "valid Secret, no hostname", gw: gw("default", "g", httpsL("s", "", secretRef("", "valid")))},
		{name: "granted from another namespace", gw: gw("default", "g", httpsL("s", "web.example.com", secretRef("certs", "shared")))},
		{name: "missing", gw: gw("default", "g", httpsL("s", "web.example.com", secretRef("", "nope"))),
			wantErrs: []string{p + `"default/nope": Secret default/nope does not exist; create it (kubectl create secret tls nope -n default --cert=<file> --key=<file>), or annotate the Gateway with cert-manager.io/cluster-issuer or cert-manager.io/issuer so cert-manager issues it`}},
		{name: "missing with cert-manager's annotation warns", gw: gw("default", "g", httpsL("s", "web.example.com", secretRef("", "nope")), func(g *gatewayv1.Gateway) {
			g.Annotations = map[string]string{AnnGatewayClusterIssuer: "le"}
		}), wantWarns: []string{`spec.listeners[1].tls.certificateRefs[0]: Secret default/nope does not exist; create it (kubectl create secret tls nope -n default --cert=<file> --key=<file>), or annotate the Gateway with cert-manager.io/cluster-issuer or cert-manager.io/issuer so cert-manager issues it (cert-manager is expected to issue it)`}},
		{name: "expired", gw: gw("default", "g", httpsL("s", "web.example.com", secretRef("", "expired"))),
			wantErrs: []string{p + `"default/expired": the certificate in Secret default/expired expired on ` + expiredOn() + `; renew it, or let cert-manager manage it`}},
		{name: "for another hostname", gw: gw("default", "g", httpsL("s", "shop.example.com", secretRef("", "valid"))),
			wantErrs: []string{p + `"default/valid": the certificate in Secret default/valid is for [web.example.com], not for the listener's hostname shop.example.com; use a certificate issued for it`}},
		{name: "wildcard listener hostname needs a wildcard certificate", gw: gw("default", "g", httpsL("s", "*.example.com", secretRef("", "valid"))),
			wantErrs: []string{p + `"default/valid": the certificate in Secret default/valid is for [web.example.com], not for the listener's hostname *.example.com; use a certificate issued for it`}},
		{name: "another namespace without a grant", gw: gw("team-b", "g", httpsL("s", "web.example.com", secretRef("certs", "shared"))),
			wantErrs: []string{p + `"certs/shared": Secret certs/shared is in another namespace and no ReferenceGrant in certs lets Gateways of namespace team-b use it; create one there (from: group gateway.networking.k8s.io, kind Gateway, namespace team-b; to: group "", kind Secret, name shared)`}},
		{name: "not a Secret", gw: gw("default", "g", httpsL("s", "web.example.com", gatewayv1.SecretObjectReference{Kind: ptr.To(gatewayv1.Kind("ConfigMap")), Name: "x"})),
			wantErrs: []string{`spec.listeners[1].tls.certificateRefs[0].kind: Unsupported value: "ConfigMap": supported values: "Secret"`}},
		{name: "unchanged reference is not judged again", gw: gw("default", "g", httpsL("s", "web.example.com", secretRef("", "nope"))),
			old: gw("default", "g", httpsL("s", "web.example.com", secretRef("", "nope")))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Settings: demoSettings(), Inventory: demoInventory(), Lookups: lk, Now: now}
			res := ValidateGateway(tt.gw, tt.old, env, gl)
			checkResult(t, res, tt.wantErrs, tt.wantWarns)
		})
	}
}

// expiredOn is when the expired fixture's certificate ended (notAfter).
func expiredOn() string {
	return now.Add(-24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
}
