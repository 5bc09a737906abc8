package apply

import (
	"slices"
	"testing"

	"github.com/vipgate/vipgate/avi/model"
)

// TestSettleKeepsAWriteMadeWhileItRead: settle read an unsure VsVip by name
// and found nothing, but a create of another reconcile succeeded and was
// recorded while it read; the read is older than that answer and must not
// remove it. A new unknown outcome during the read keeps the object unsure.
func TestSettleKeepsAWriteMadeWhileItRead(t *testing.T) {
	k := mkey{"admin", "vsvip", "c1--ns-web"}
	tests := []struct {
		name       string
		during     func(m *mirror)
		wantObj    bool
		wantUnsure bool
	}{
		{"nothing meanwhile: the read's nothing is kept", func(*mirror) {}, false, false},
		{"a create recorded meanwhile", func(m *mirror) {
			if err := m.put(k.tenant, k.typ, map[string]any{"name": k.name, "uuid": "vsvip-1"}); err != nil {
				t.Fatal(err)
			}
		}, true, false},
		{"a new unknown outcome meanwhile", func(m *mirror) { m.markUnsure(k) }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &mirror{objs: map[mkey]*entry{}}
			m.markUnsure(k)
			u := m.unsure[k]
			u.written = false // settle begins to read
			tt.during(m)
			m.settle(k, u, nil, false) // the read found nothing
			if got := m.objs[k] != nil; got != tt.wantObj {
				t.Errorf("mirrored = %v, want %v", got, tt.wantObj)
			}
			if got := m.unsure[k] != nil; got != tt.wantUnsure {
				t.Errorf("unsure = %v, want %v", got, tt.wantUnsure)
			}
		})
	}
}

// TestPoolIndex: poolsOf finds exactly what a walk of every mirrored object
// finds (an owner's pools by marker, and the port pools of its bases),
// through every way the mirror changes: install, put, an overwrite that
// changes the owner, remove, and settle.
func TestPoolIndex(t *testing.T) {
	pool := func(name, owner string) map[string]any {
		o := map[string]any{"name": name, "uuid": "pool-" + name}
		if owner != "" {
			o["markers"] = []any{
				map[string]any{"key": model.MarkerOwner, "values": []any{owner}},
				map[string]any{"key": model.MarkerClusterID, "values": []any{"cid"}},
			}
		}
		return o
	}
	walk := func(m *mirror, tenant, owner string, bases []string) []string {
		var out []string
		m.scan(tenant, model.TypePool, func(k mkey, e *entry) {
			if id := e.id.Value(); owner != "" && id.owner == owner && id.clusterID == "cid" {
				out = append(out, k.name)
				return
			}
			for _, b := range bases {
				if model.IsPoolOf(b, k.name) {
					out = append(out, k.name)
					return
				}
			}
		})
		slices.Sort(out)
		return out
	}
	m := &mirror{}
	objs := map[mkey]*entry{}
	for _, o := range []struct{ tenant, name, owner string }{
		{"admin", "c1--ns-web-TCP-80", "ns/web"},
		{"admin", "c1--ns-web-UDP-53", ""},
		{"admin", "c1--ns-web-api-TCP-80", "ns/web-api"},
		{"admin", "c1--ns-grp-web-TCP-80", "ns/web"}, // left a shared-VIP group
		{"admin", "c1--ns-web-TCP-80x", ""},          // not a port pool
		{"other", "c1--ns-web-TCP-80", "ns/web"},
	} {
		e, err := m.newEntry(model.TypePool, pool(o.name, o.owner))
		if err != nil {
			t.Fatal(err)
		}
		objs[mkey{o.tenant, model.TypePool, o.name}] = e
	}
	vs, err := m.newEntry(model.TypeVirtualService, map[string]any{"name": "c1--ns-web-TCP-80", "uuid": "vs-1"})
	if err != nil {
		t.Fatal(err)
	}
	objs[mkey{"admin", model.TypeVirtualService, "c1--ns-web-TCP-80"}] = vs
	m.install("*", objs, true)

	queries := []struct {
		tenant, owner string
		bases         []string
	}{
		{"admin", "ns/web", []string{"c1--ns-web"}},
		{"admin", "", []string{"c1--ns-web"}},
		{"admin", "ns/web-api", []string{"c1--ns-web-api"}},
		{"admin", "ns/none", []string{"c1--ns-none", "c1--ns-web"}},
		{"other", "ns/web", nil},
	}
	check := func(step string) {
		t.Helper()
		for _, q := range queries {
			got := m.poolsOf(q.tenant, q.owner, "cid", q.bases)
			slices.Sort(got)
			if want := walk(m, q.tenant, q.owner, q.bases); !slices.Equal(got, want) {
				t.Errorf("%s: poolsOf(%s, %s, %v) = %v, want %v", step, q.tenant, q.owner, q.bases, got, want)
			}
		}
	}
	check("installed")
	if err := m.put("admin", model.TypePool, pool("c1--ns-web-TCP-443", "ns/web")); err != nil {
		t.Fatal(err)
	}
	check("a pool created")
	if err := m.put("admin", model.TypePool, pool("c1--ns-grp-web-TCP-80", "ns/other")); err != nil {
		t.Fatal(err)
	}
	check("a pool's owner changed")
	m.remove("admin", model.TypePool, "c1--ns-web-UDP-53")
	check("a pool removed")
	k := mkey{"admin", model.TypePool, "c1--ns-web-TCP-443"}
	m.markUnsure(k)
	u := m.unsure[k]
	u.written = false
	m.settle(k, u, nil, false)
	check("settled as gone")
	if got := m.poolsOf("admin", "ns/web", "cid", nil); !slices.Equal(got, []string{"c1--ns-web-TCP-80"}) {
		t.Errorf("ns/web's pools by marker = %v, want [c1--ns-web-TCP-80]", got)
	}
}

func TestPoolStem(t *testing.T) {
	for name, want := range map[string]string{
		"c1--ns-web-TCP-80":     "c1--ns-web",
		"c1--ns-web-api-SCTP-1": "c1--ns-web-api",
		"c1--ns-web-TCP-80x":    "",
		"c1--ns-web-tcp-80":     "",
		"TCP-80":                "",
		"web":                   "",
	} {
		got, ok := poolStem(name)
		if got != want || ok != (want != "") {
			t.Errorf("poolStem(%q) = %q, %v; want %q", name, got, ok, want)
		}
		if ok && !model.IsPoolOf(got, name) {
			t.Errorf("IsPoolOf(%q, %q) is false", got, name)
		}
	}
}

// TestMirrorHoldsNoPrivateKey: a certificate's key and passphrase, which no
// diff compares, are not kept in the mirror, whatever the controller returns.
func TestMirrorHoldsNoPrivateKey(t *testing.T) {
	var m mirror
	obj := map[string]any{"name": "c1--cert", "uuid": "sslkeyandcertificate-1", "type": "SSL_CERTIFICATE_TYPE_VIRTUALSERVICE",
		"certificate": map[string]any{"certificate": "-----BEGIN CERTIFICATE-----"},
		"key":         "-----BEGIN EC PRIVATE KEY-----", "key_passphrase": "secret"}
	e, err := m.newEntry(model.TypeSSLKeyAndCertificate, obj)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.current(mkey{"admin", model.TypeSSLKeyAndCertificate, "c1--cert"}, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"key", "key_passphrase"} {
		if _, ok := c.raw[f]; ok {
			t.Errorf("mirror holds %s", f)
		}
	}
	if cert, _ := c.raw["certificate"].(map[string]any); cert["certificate"] != "-----BEGIN CERTIFICATE-----" {
		t.Errorf("mirror lost the certificate: %v", c.raw)
	}
}
