package harness

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
)

// DemoTenant is the tenant of DemoSettingsYAML, where vipgate puts the
// objects of the demo settings on the simulated controller.
const DemoTenant = "admin"

// SimObject returns the object of type typ named name in tenant on sim, or nil.
func SimObject(sim *avisim.Sim, tenant, typ, name string) map[string]any {
	for _, o := range sim.Objects(tenant, typ) {
		if o["name"] == name {
			return o
		}
	}
	return nil
}

// DeleteBehindVipgate deletes objects of the demo tenant on sim through the
// controller's API, as someone using the controller's UI or a script would:
// names lists "type/name" pairs, deleted in that order. It fails t when one
// is missing or the controller refuses.
func DeleteBehindVipgate(t testing.TB, sim *avisim.Sim, names ...string) {
	t.Helper()
	c, err := session.New(context.Background(), DemoSettings(t, sim.Host()).ControllerSettings, SimCredentials(sim), session.Options{PoolSize: 1})
	if err != nil {
		t.Fatalf("connecting to avisim: %v", err)
	}
	defer c.Close()
	for _, n := range names {
		typ, name, _ := strings.Cut(n, "/")
		o := SimObject(sim, DemoTenant, typ, name)
		if o == nil {
			t.Fatalf("no %s %s to delete", typ, name)
		}
		if err := c.Delete(context.Background(), typ, Str(o, "uuid"), ""); err != nil {
			t.Fatalf("deleting %s %s behind vipgate: %v", typ, name, err)
		}
	}
}

// SimNames lists, sorted, the names of sim's objects of type typ in tenant
// that start with prefix ("" for all). The controller's own System-* objects
// (profiles, health monitors, the default certificate) are left out: they are
// seeded, not made by vipgate or the test, and would otherwise show up in
// every listing of their type.
func SimNames(sim *avisim.Sim, tenant, typ, prefix string) []string {
	var out []string
	for _, o := range sim.Objects(tenant, typ) {
		if n, _ := o["name"].(string); strings.HasPrefix(n, prefix) && !strings.HasPrefix(n, "System-") {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Path walks a decoded JSON value (the simulator's objects are plain maps):
// string keys index maps, ints index lists. A missing step yields nil rather
// than a panic, so assertions can compare against the expected value directly.
func Path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// Str is Path as a string ("" when absent or not a string).
func Str(v any, keys ...any) string {
	s, _ := Path(v, keys...).(string)
	return s
}

// SimUser and SimPassword are the user every avisim seed the tests use
// defines; the demo settings' controller login.
const (
	SimUser     = "admin"
	SimPassword = "admin"
)

// SimCredentials are the controller credentials for sim: its user, and its
// serving certificate as certificateAuthorityData, since vipgate verifies the
// controller's certificate (sim must have been started with StartTLS).
func SimCredentials(sim *avisim.Sim) config.Credentials {
	return config.Credentials{Username: SimUser, Password: SimPassword, CertificateAuthorityData: string(sim.CACertPEM())}
}

// started are the simulators StartSim and StartTrafficSim run, by host.
var started = struct {
	sync.Mutex
	byHost map[string]*avisim.Sim
}{byHost: map[string]*avisim.Sim{}}

// register makes sim known to SimCredentialsAt until the test ends.
func register(t testing.TB, sim *avisim.Sim) {
	host := sim.Host()
	started.Lock()
	started.byHost[host] = sim
	started.Unlock()
	t.Cleanup(func() {
		started.Lock()
		delete(started.byHost, host)
		started.Unlock()
	})
}

// SimCredentialsAt is SimCredentials for the simulator StartSim or
// StartTrafficSim started at host, for helpers that only get the settings.
func SimCredentialsAt(t testing.TB, host string) config.Credentials {
	t.Helper()
	started.Lock()
	sim := started.byHost[host]
	started.Unlock()
	if sim == nil {
		t.Fatalf("no simulator started by the harness at %s: pass harness.SimCredentials(sim)", host)
	}
	return SimCredentials(sim)
}

// StartSim starts a fresh simulated controller with seed (avisim.DemoSeed
// when nil) for one test and closes it at cleanup, so VIPs, objects and call
// counts never carry over between tests.
func StartSim(t testing.TB, seed *avisim.Seed) *avisim.Sim {
	t.Helper()
	if seed == nil {
		seed = avisim.DemoSeed()
	}
	sim, err := avisim.New(avisim.Options{Seed: seed, Username: SimUser, Password: SimPassword})
	if err != nil {
		t.Fatalf("avisim: %v", err)
	}
	sim.StartTLS()
	t.Cleanup(sim.Close)
	register(t, sim)
	return sim
}
