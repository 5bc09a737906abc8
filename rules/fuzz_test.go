package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// FuzzCanonicalIP: CanonicalIP never fails on text, leaves what it cannot
// parse untouched, is idempotent, and never changes the validator's verdict:
// the mutating webhook rewrites the address before the validating one sees
// it, so an address valid as written must stay valid canonical, and the
// other way round.
func FuzzCanonicalIP(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		defer fuzzWatchdog(fmt.Sprintf("%q", s))()
		c, ok := CanonicalIP(s)
		if c2, ok2 := CanonicalIP(s); c2 != c || ok2 != ok {
			t.Fatalf("CanonicalIP(%q) not deterministic: %q,%v then %q,%v", s, c, ok, c2, ok2)
		}
		a, err := netip.ParseAddr(s)
		if ok != (err == nil) {
			t.Fatalf("CanonicalIP(%q) ok=%v, but ParseAddr says %v", s, ok, err)
		}
		if !ok {
			if c != s {
				t.Fatalf("CanonicalIP(%q) changed an unparsable value to %q", s, c)
			}
			if _, msg := parseVIP(s); msg == "" {
				t.Fatalf("parseVIP accepts %q, which CanonicalIP cannot parse", s)
			}
			return
		}
		if cc, ok := CanonicalIP(c); cc != c || !ok {
			t.Fatalf("CanonicalIP not idempotent: %q -> %q -> %q,%v", s, c, cc, ok)
		}
		if b, _ := netip.ParseAddr(c); b != a {
			t.Fatalf("CanonicalIP(%q) = %q, another address (%v vs %v)", s, c, a, b)
		}
		if !sameIP(s, c) || !sameIP(c, s) {
			t.Fatalf("sameIP(%q, %q) is false for an address and its canonical form", s, c)
		}
		a1, m1 := parseVIP(s)
		a2, m2 := parseVIP(c)
		if (m1 == "") != (m2 == "") || (m1 == "" && a1 != a2) {
			t.Fatalf("canonicalizing changes the verdict: parseVIP(%q) = %v %q, parseVIP(%q) = %v %q", s, a1, m1, c, a2, m2)
		}
		if m1 == "" && (a1.Zone() != "" || a1.Is4In6() || !a1.IsGlobalUnicast()) {
			t.Fatalf("parseVIP accepts %q (%v), which is no usable VIP", s, a1)
		}
	})
}

// Flags of FuzzValidateService, one bit each.
const (
	fsUpdate    = 1 << iota // an update of a Service that requested oldIP
	fsIPv6                  // AKOSettings.ipFamily V6 and an IPv6 subnet on vip-net-a
	fsStale                 // the inventory is stale
	fsTeamA                 // the Service is in team-a, whose Namespace selects AviInfraSetting edge
	fsFamilyV4              // spec.ipFamilies [IPv4]
	fsFailing               // every cache lookup fails
	fsClassless             // no loadBalancerClass (owned through defaultLBController)
)

// FuzzValidateService feeds arbitrary spec.loadBalancerIP and annotation
// values (load-balancer-ip, shared-VIP key, AviInfraSetting name) through
// ValidateService over the demo inventory and a small cluster. Beyond not
// panicking, it checks what admission promises: the verdict is
// deterministic and leaves its inputs alone, every error names one of the
// fields the user wrote with a message, and an address admitted on create
// against a live inventory is a usable unicast address inside a static VIP
// range that the controller has not given to someone else.
func FuzzValidateService(f *testing.F) {
	f.Fuzz(func(t *testing.T, specIP, annValue, key, infraName, oldIP string, flags uint8) {
		defer fuzzWatchdog(fmt.Sprintf("%q %q %q %q %q %d", specIP, annValue, key, infraName, oldIP, flags))()
		s := demoSettings()
		var invMods []func(*inventory.Snapshot)
		if flags&fsIPv6 != 0 {
			s = demoSettings(ipv6Settings)
			invMods = append(invMods, withV6)
		}
		ns := "default"
		if flags&fsTeamA != 0 {
			ns = "team-a"
		}
		lk := fuzzServiceLookups()
		if flags&fsFailing != 0 {
			lk.failing(errors.New("cache not synced"))
		}
		env := Env{Settings: s, Inventory: demoInventory(invMods...), InventoryStale: flags&fsStale != 0, Lookups: lk, Now: now}

		var opts []svcOpt
		if specIP != "" {
			opts = append(opts, ip(specIP))
		}
		if annValue != "" {
			opts = append(opts, annIP(annValue))
		}
		if key != "" {
			opts = append(opts, shared(key))
		}
		if infraName != "" {
			opts = append(opts, infra(infraName))
		}
		if flags&fsFamilyV4 != 0 {
			opts = append(opts, families(corev1.IPv4Protocol))
		}
		if flags&fsClassless != 0 {
			opts = append(opts, noClass())
		}
		svc := lbSvc(ns, "x", opts...)
		var old *corev1.Service
		if flags&fsUpdate != 0 {
			old = svc.DeepCopy()
			old.Spec.LoadBalancerIP = oldIP
			delete(old.Annotations, AnnLoadBalancerIP)
		}
		before, beforeOld := svc.DeepCopy(), old.DeepCopy()

		res := ValidateService(svc, old, env)
		if again := ValidateService(svc, old, env); !reflect.DeepEqual(res, again) {
			t.Fatalf("not deterministic:\n%v\n%v", res, again)
		}
		if !reflect.DeepEqual(svc, before) || !reflect.DeepEqual(old, beforeOld) {
			t.Fatalf("ValidateService changed its input")
		}
		allowedPaths := []string{
			"spec.loadBalancerIP", "metadata.annotations[" + AnnLoadBalancerIP + "]",
			"metadata.annotations[" + AnnInfraSetting + "]", "metadata.namespace",
		}
		for _, e := range res.Errors {
			checkFieldError(t, e, func(p string) bool {
				return slices.Contains(allowedPaths, p) || (strings.HasPrefix(p, "spec.ports[") && strings.HasSuffix(p, "].port"))
			})
		}

		// What an admitted create promises.
		reqIP, _ := RequestedIP(svc)
		if old != nil || !res.Allowed() || reqIP == "" || env.InventoryStale || flags&fsFailing != 0 {
			return
		}
		a, msg := parseVIP(reqIP)
		if msg != "" {
			t.Fatalf("admitted %q, which parseVIP rejects: %s", reqIP, msg)
		}
		inv := env.Inventory
		inRange := false
		for _, n := range inv.Networks {
			for _, sub := range n.Subnets {
				for _, r := range sub.VIPRanges {
					inRange = inRange || r.Contains(a)
				}
			}
		}
		if !inRange {
			t.Fatalf("admitted %q, outside every static VIP range: %v", reqIP, res)
		}
		if h, held := inv.InUse[a]; held && h.VsVip != VsVipName("demo", ns, "x") && (key == "" || h.VsVip != VsVipName("demo", ns, key)) {
			t.Fatalf("admitted %q, which the controller gave to VsVip %q (%s)", reqIP, h.VsVip, h.CreatedBy)
		}
	})
}

// fuzzServiceLookups is the cluster FuzzValidateService runs against:
// Services holding VIPs, a shared-VIP group, and AviInfraSettings that name
// only networks the inventory knows (placement then always has something to
// compare against, which the in-range property relies on).
func fuzzServiceLookups() *fakeLookups {
	return newFake().
		addService(
			lbSvc("default", "web", ip("10.50.0.10"), statusIP("10.50.0.10")),
			lbSvc("default", "k1", shared("k"), ip("10.50.0.13"), ports(corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP})),
			lbSvc("team-a", "api", statusIP("10.60.0.2")),
		).
		addInfra(
			ais("edge", v1beta1.StatusAccepted, "", "edge-seg", vn("vip-net-b")),
			ais("fresh", "", "", "", vn("vip-net-a")),
			ais("broken", v1beta1.StatusRejected, "network vip-net-x not found", ""),
			ais("pinned", v1beta1.StatusAccepted, "", "", v1beta1.AviInfraSettingVipNetwork{NetworkUUID: "network-a", Cidr: "10.50.0.0/24"}),
		).
		addNamespace("default", "").addNamespace("team-a", "edge")
}

// Flags of FuzzValidateVIPNetworks, one bit each.
const (
	fnIPv6   = 1 << iota // AKOSettings.ipFamily V6 and an IPv6 subnet on vip-net-a
	fnAWS                // the multi-VIP AWS inventory instead of the vCenter one
	fnStale              // the inventory is stale
	fnSecond             // a second vipNetworks entry
)

// FuzzValidateVIPNetworks feeds arbitrary network names, UUIDs, CIDRs and an
// SE group name through ValidateAviInfraSetting. Besides not panicking and
// being deterministic, every error names a field of the entry it is about,
// a CIDR it lets through parses as a prefix of the right family, and on a
// live inventory an accepted setting names only networks the cloud has (and
// several only on a multi-VIP cloud).
func FuzzValidateVIPNetworks(f *testing.F) {
	f.Fuzz(func(t *testing.T, name0, uuid0, cidr0, v6cidr0, name1, uuid1, cidr1, v6cidr1, seg string, flags uint8) {
		defer fuzzWatchdog(fmt.Sprintf("%q %q %q %q %q %q %q %q %q %d", name0, uuid0, cidr0, v6cidr0, name1, uuid1, cidr1, v6cidr1, seg, flags))()
		s := demoSettings()
		inv := demoInventory()
		if flags&fnIPv6 != 0 {
			s = demoSettings(ipv6Settings)
			inv = demoInventory(withV6)
		}
		if flags&fnAWS != 0 {
			inv = awsInventory()
		}
		nets := []v1beta1.AviInfraSettingVipNetwork{{NetworkName: name0, NetworkUUID: uuid0, Cidr: cidr0, V6Cidr: v6cidr0}}
		if flags&fnSecond != 0 {
			nets = append(nets, v1beta1.AviInfraSettingVipNetwork{NetworkName: name1, NetworkUUID: uuid1, Cidr: cidr1, V6Cidr: v6cidr1})
		}
		a := ais("fuzz", "", "", seg, nets...)
		env := Env{Settings: s, Inventory: inv, InventoryStale: flags&fnStale != 0, Now: now}

		res := ValidateAviInfraSetting(a, env)
		if again := ValidateAviInfraSetting(a, env); !reflect.DeepEqual(res, again) {
			t.Fatalf("not deterministic:\n%v\n%v", res, again)
		}
		bad := map[string]bool{}
		for _, e := range res.Errors {
			checkFieldError(t, e, func(p string) bool {
				if p == "spec.seGroup.name" {
					return true
				}
				for i := range nets {
					if entry := fmt.Sprintf("spec.network.vipNetworks[%d]", i); p == entry || strings.HasPrefix(p, entry+".") {
						return true
					}
				}
				return false
			})
			bad[e.Field] = true
		}
		for i, n := range nets {
			p := fmt.Sprintf("spec.network.vipNetworks[%d]", i)
			if n.Cidr != "" && !bad[p+".cidr"] {
				if pfx, err := netip.ParsePrefix(n.Cidr); err != nil || !pfx.Addr().Is4() {
					t.Fatalf("%s.cidr %q let through, but it is no IPv4 prefix (%v)", p, n.Cidr, err)
				}
			}
			if n.V6Cidr != "" && !bad[p+".v6cidr"] {
				if pfx, err := netip.ParsePrefix(n.V6Cidr); err != nil || !pfx.Addr().Is6() || pfx.Addr().Is4In6() || s.AKOSettings.IPFamily != "V6" {
					t.Fatalf("%s.v6cidr %q let through, but it is no IPv6 prefix or IPv6 is off (%v)", p, n.V6Cidr, err)
				}
			}
		}
		if !res.Allowed() || env.InventoryStale {
			return
		}
		for i, n := range nets {
			if resolveNetwork(inv, VIPNetworkRef{Name: n.NetworkName, UUID: n.NetworkUUID}) == nil {
				t.Fatalf("accepted vipNetworks[%d] %+v, which names no network of cloud %s", i, n, inv.Cloud.Name)
			}
		}
		if len(nets) > 1 && !inv.Cloud.MultiVIP() {
			t.Fatalf("accepted %d VIP networks on a %s cloud", len(nets), inv.Cloud.Type)
		}
		if _, ok := inv.SEGroups[seg]; seg != "" && !ok {
			t.Fatalf("accepted SE group %q, which the cloud does not have", seg)
		}
	})
}

// checkFieldError asserts that e is a field error users can act on: its
// path is one the caller expects, it says what is wrong, and it renders as
// "<path>: <type>...".
func checkFieldError(t *testing.T, e *field.Error, pathOK func(string) bool) {
	t.Helper()
	if e == nil {
		t.Fatal("nil error in the list")
	}
	if !pathOK(e.Field) {
		t.Fatalf("error on unexpected field %q: %v", e.Field, e)
	}
	if e.Type != field.ErrorTypeInvalid && e.Type != field.ErrorTypeRequired {
		t.Fatalf("error of type %s: %v", e.Type, e)
	}
	if strings.TrimSpace(e.Detail) == "" {
		t.Fatalf("error without a message: %v", e)
	}
	if !strings.HasPrefix(e.Error(), e.Field+": ") {
		t.Fatalf("error %q does not start with its field path %q", e.Error(), e.Field)
	}
}

// fuzzHangAfter bounds one fuzz input. Go's fuzzing engine has no per-input
// timeout: a hang would only show as executions stopping. Past the bound
// the process panics, and the engine records the input as a crasher.
const fuzzHangAfter = time.Minute

// fuzzWatchdog arms the hang bound for one input; call the result when done.
func fuzzWatchdog(input string) (stop func() bool) {
	return time.AfterFunc(fuzzHangAfter, func() {
		panic(fmt.Sprintf("fuzz input still running after %v, a hang: %s", fuzzHangAfter, input))
	}).Stop
}
