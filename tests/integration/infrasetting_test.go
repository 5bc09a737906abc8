package integration

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/webhooks"
)

// infra builds an AviInfraSetting with the given VIP networks and SE group.
func infra(name, seg string, nets ...v1beta1.AviInfraSettingVipNetwork) *v1beta1.AviInfraSetting {
	return &v1beta1.AviInfraSetting{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.AviInfraSettingSpec{
			Network: v1beta1.AviInfraSettingNetwork{VipNetworks: nets},
			SeGroup: v1beta1.AviInfraSettingSeGroup{Name: seg},
		},
	}
}

// byName is a VIP network entry naming a network.
func byName(n string) v1beta1.AviInfraSettingVipNetwork {
	return v1beta1.AviInfraSettingVipNetwork{NetworkName: n}
}

// TestAviInfraSettingAdmission checks the AviInfraSetting rules against the
// demo controller (vCenter cloud): unknown network, several networks on a
// cloud without multi-VIP, unknown SE group, an exhausted network, the CRD's
// CEL rules (answered by the API server, not the webhook), the same rules on
// update, and that a setting still referenced cannot be deleted.
func TestAviInfraSettingAdmission(t *testing.T) {
	ctx := context.Background()
	_, op := startReal(t, avisim.DemoSeed(), nil)
	hook := webhookDenial(webhooks.HookValidateAviInfraSetting)

	nets := `spec.network.vipNetworks`
	cases := []struct {
		name string
		ais  *v1beta1.AviInfraSetting
		want []string
	}{
		{"unknown network", infra("ais-unknown-net", "", byName("vip-net-z")),
			[]string{nets + `[0].networkName: Invalid value: "vip-net-z": no network with this name in cloud "Default-Cloud"; known VIP networks: vip-net-a, vip-net-b`}},
		{"unknown network UUID", infra("ais-unknown-uuid", "", v1beta1.AviInfraSettingVipNetwork{NetworkUUID: "network-nope"}),
			[]string{nets + `[0].networkUUID: Invalid value: "network-nope": no network with this UUID in cloud "Default-Cloud"`}},
		{"two networks on a vCenter cloud (multi-VIP)", infra("ais-two", "", byName("vip-net-a"), byName("vip-net-b")),
			[]string{nets + `[1]: Invalid value: "vip-net-b": cloud "Default-Cloud" is of type CLOUD_VCENTER, which places one VIP per virtual service; list a single VIP network`}},
		{"cidr that is not a subnet of the network", infra("ais-cidr", "", v1beta1.AviInfraSettingVipNetwork{NetworkName: "vip-net-a", Cidr: "10.99.0.0/24"}),
			[]string{nets + `[0].cidr: Invalid value: "10.99.0.0/24": not a configured subnet of network vip-net-a; configured: 10.50.0.0/24`}},
		{"unknown SE group", infra("ais-seg", "no-such-seg", byName("vip-net-a")),
			[]string{`spec.seGroup.name: Invalid value: "no-such-seg": no such SE group in cloud "Default-Cloud"; known SE groups: Default-Group, edge-seg`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantDenied(t, tryCreate(t, c.ais), append([]string{hook}, c.want...)...)
		})
	}

	// CEL rules of the CRD: the API server rejects these before any webhook runs.
	cel := []struct {
		name string
		ais  *v1beta1.AviInfraSetting
		want string
	}{
		{"CEL: networkName and networkUUID both set", infra("ais-cel-both", "", v1beta1.AviInfraSettingVipNetwork{NetworkName: "vip-net-a", NetworkUUID: "network-a"}),
			"exactly one of networkName or networkUUID must be set"},
		{"CEL: neither networkName nor networkUUID", infra("ais-cel-none", "", v1beta1.AviInfraSettingVipNetwork{Cidr: "10.50.0.0/24"}),
			"exactly one of networkName or networkUUID must be set"},
		{"CEL: bad cidr", infra("ais-cel-cidr", "", v1beta1.AviInfraSettingVipNetwork{NetworkName: "vip-net-a", Cidr: "10.50.0.0/33"}),
			`spec.network.vipNetworks[0].cidr: Invalid value: "10.50.0.0/33": cidr must be an IPv4 CIDR such as 10.50.0.0/24`},
		{"CEL: IPv6 prefix as cidr", infra("ais-cel-cidr6", "", v1beta1.AviInfraSettingVipNetwork{NetworkName: "vip-net-a", Cidr: "2001:db8::/64"}),
			"cidr must be an IPv4 CIDR such as 10.50.0.0/24"},
		{"CEL: the same network twice", infra("ais-cel-dup", "", byName("vip-net-a"), byName("vip-net-a")),
			"vipNetworks must not name the same network twice"},
	}
	for _, c := range cel {
		t.Run(c.name, func(t *testing.T) {
			err := tryCreate(t, c.ais)
			wantDenied(t, err, c.want)
			// Each mistake gets its own message and no other rule's.
			if c.want != "vipNetworks must not name the same network twice" && err != nil && strings.Contains(err.Error(), "same network twice") {
				t.Errorf("the uniqueness rule fired on %s: %v", c.name, err)
			}
			if err != nil && strings.Contains(err.Error(), "admission webhook") {
				t.Errorf("want the API server's CEL rejection, got the webhook's: %v", err)
			}
		})
	}

	// Updates run the same checks.
	upd := infra("ais-update", "Default-Group", byName("vip-net-a"))
	create(t, upd)
	updates := []struct {
		name string
		edit func(*v1beta1.AviInfraSetting)
		want string
	}{
		{"update to an unknown network", func(a *v1beta1.AviInfraSetting) { a.Spec.Network.VipNetworks[0].NetworkName = "vip-net-z" },
			nets + `[0].networkName: Invalid value: "vip-net-z": no network with this name`},
		{"update to an unknown SE group", func(a *v1beta1.AviInfraSetting) { a.Spec.SeGroup.Name = "no-such-seg" },
			`spec.seGroup.name: Invalid value: "no-such-seg": no such SE group`},
	}
	for _, u := range updates {
		t.Run(u.name, func(t *testing.T) {
			err := update(t, upd, func(o client.Object) { u.edit(o.(*v1beta1.AviInfraSetting)) })
			wantDenied(t, err, hook, u.want)
		})
	}

	t.Run("admitted: one known network and SE group", func(t *testing.T) {
		if err := tryCreate(t, infra("ais-ok", "edge-seg", v1beta1.AviInfraSettingVipNetwork{NetworkName: "vip-net-a", Cidr: "10.50.0.0/24"})); err != nil {
			t.Fatalf("want admitted: %v", err)
		}
	})

	t.Run("exhausted network", func(t *testing.T) {
		// Fill vip-net-b's four addresses (10.60.0.2-.5) on the controller.
		for _, name := range []string{"other--b1", "other--b2", "other--b3", "other--b4"} {
			createVsVip(t, op, name, "vip-net-b", "", "vipgate-other")
		}
		if err := op.Inventory.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		wantDenied(t, tryCreate(t, infra("ais-exhausted", "", byName("vip-net-b"))), hook,
			nets+`[0].networkName: Invalid value: "vip-net-b": static VIP range 10.60.0.2-10.60.0.5 of network vip-net-b (10.60.0.0/28) is exhausted`)
	})

	t.Run("delete while referenced", func(t *testing.T) {
		ais := infra("ais-in-use", "", byName("vip-net-a"))
		create(t, ais)
		ns := newNamespace(t, map[string]string{rules.AnnInfraSetting: "ais-in-use"})
		nsObj := &corev1.Namespace{ObjectMeta: metaName("", ns)}
		svc := lbService(ns, "web", "", annotate(rules.AnnInfraSetting, "ais-in-use"))
		// Another controller's finalizer keeps the Service terminating after
		// vipgate's reconciler has released it and removed its own.
		svc.Finalizers = []string{"example.com/hold"}
		create(t, svc)
		waitCached(t, op, nsObj, nil)
		waitCached(t, op, svc, nil)

		err := env.Client.Delete(ctx, ais)
		wantDenied(t, err, hook, `metadata.name: Invalid value: "ais-in-use": AviInfraSetting is still referenced by Namespace `+ns+`, Service `+ns+`/web; remove the aviinfrasetting.ako.vmware.com/name annotation`)

		// A Service being deleted selects it no more; the Namespace still does.
		if err := env.Client.Delete(ctx, svc); err != nil {
			t.Fatal(err)
		}
		waitCached(t, op, svc, func(o client.Object) bool { return o.GetDeletionTimestamp() != nil })
		err = env.Client.Delete(ctx, ais)
		wantDenied(t, err, hook, `metadata.name: Invalid value: "ais-in-use": AviInfraSetting is still referenced by Namespace `+ns+`; remove the aviinfrasetting.ako.vmware.com/name annotation`)
		// Once nothing selects it, the delete goes through, the Service
		// still being deleted.
		if err := update(t, nsObj, func(o client.Object) { o.SetAnnotations(nil) }); err != nil {
			t.Fatal(err)
		}
		waitCached(t, op, nsObj, func(o client.Object) bool { return o.GetAnnotations()[rules.AnnInfraSetting] == "" })
		if err := env.Client.Delete(ctx, ais); err != nil {
			t.Fatalf("delete of an AviInfraSetting only a Service being deleted selects: %v", err)
		}
		stripFinalizers(t, svc)
		waitUncached(t, op, svc)
	})
}

// stripFinalizers removes obj's finalizers (no reconciler may be there to do it).
func stripFinalizers(t testing.TB, obj client.Object) {
	t.Helper()
	if err := update(t, obj, func(o client.Object) { o.SetFinalizers(nil) }); err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatalf("removing finalizers of %s: %v", obj.GetName(), err)
	}
}

// awsZonesSeed is avisim's AWS seed plus a fourth network, vip-az-a2, in the
// same zone as vip-az-a, so "two networks in one zone" can be tried.
func awsZonesSeed() *avisim.Seed {
	seed := avisim.AWSSeed()
	seed.Networks = append(seed.Networks, avisim.SeedNetwork{
		Name: "vip-az-a2", Cloud: "Default-Cloud", VRF: "global", AvailabilityZone: "us-west-2a",
		Subnets: []avisim.SeedSubnet{{Prefix: "10.70.4.0/24", StaticRanges: []avisim.SeedRange{{Begin: "10.70.4.10", End: "10.70.4.100", Type: "STATIC_IPS_FOR_VIP"}}}},
	})
	seed.Clouds[0].IPAMNetworks = append(seed.Clouds[0].IPAMNetworks, "vip-az-a2")
	return seed
}

// TestAviInfraSettingAWSZones checks multi-VIP on an AWS cloud: one network in
// each of three zones is accepted, two networks in one zone are rejected.
func TestAviInfraSettingAWSZones(t *testing.T) {
	_, _ = startReal(t, awsZonesSeed(), func(s *config.Settings) {
		s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-az-a"}}
	})
	t.Run("admitted: three networks in three zones", func(t *testing.T) {
		if err := tryCreate(t, infra("aws-three-zones", "", byName("vip-az-a"), byName("vip-az-b"), byName("vip-az-c"))); err != nil {
			t.Fatalf("want admitted: %v", err)
		}
	})
	t.Run("two networks in one zone", func(t *testing.T) {
		err := tryCreate(t, infra("aws-one-zone", "", byName("vip-az-a"), byName("vip-az-a2")))
		wantDenied(t, err, webhookDenial(webhooks.HookValidateAviInfraSetting),
			`spec.network.vipNetworks[1]: Invalid value: "vip-az-a2": is in availability zone us-west-2a, like spec.network.vipNetworks[0] (vip-az-a); use one VIP network per availability zone`)
	})
}
