package avisim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/alb-sdk/go/clients"
	"github.com/vmware/alb-sdk/go/models"
	"github.com/vmware/alb-sdk/go/session"
)

// alb-sdk returns a 500 to the caller at once (no retry).
func TestInjected500IsNotRetried(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sim.Faults().SetErrorStatus(http.StatusInternalServerError)
	sim.Faults().SetErrorRate(1)
	_, err := c.Pool.Create(&models.Pool{Name: s("p")})
	wantAviErr(t, err, http.StatusInternalServerError, "injected error")
	if n := sim.Counts()["POST pool"]; n != 1 {
		t.Fatalf("POST pool attempted %d times", n)
	}
}

// alb-sdk retries a 503 (status check, re-login, retry) up to three
// attempts, then returns an AviError with the status and no message.
func TestInjected503IsRetried(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sim.Faults().SetErrorRate(1)
	_, err := c.Pool.Create(&models.Pool{Name: s("p")})
	code, _, ok := aviErr(err)
	if !ok || code != http.StatusServiceUnavailable {
		t.Fatalf("got %v", err)
	}
	if n := sim.Counts()["POST pool"]; n != 3 {
		t.Fatalf("POST pool attempted %d times, want 3", n)
	}
	// A partial error rate is deterministic for a seed and retries hide it.
	sim.Faults().SetErrorRate(0.3)
	sim.Faults().SetErrorSeed(42)
	for i := 0; i < 10; i++ {
		_, err := c.Pool.Create(&models.Pool{Name: s("q" + string(rune('a'+i)))})
		if err != nil {
			if code, _, _ := aviErr(err); code != http.StatusServiceUnavailable {
				t.Fatal(err)
			}
		}
	}
}

func TestConflictOnce(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sim.Faults().ConflictOnce("vsvip")
	_, err := c.VsVip.Create(vsvip("v", "", ""))
	wantAviErr(t, err, http.StatusConflict, "injected conflict")
	_, err = c.VsVip.Create(vsvip("v", "", ""))
	must(t, err)
}

// While the controller is down every call (and the status check) gets 503;
// alb-sdk keeps polling /api/cluster/status and succeeds once it is up.
func TestDownThenUp(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sim.Faults().Down(300 * time.Millisecond)
	_, err := c.Cloud.GetByName("Default-Cloud")
	must(t, err)
	if sim.Faults().State().DownMS != 0 {
		t.Fatal("still down")
	}
}

func TestLatencyFault(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	sim.Faults().SetLatency(time.Millisecond)
	_, err := c.Cloud.GetByName("Default-Cloud")
	must(t, err)
	if sim.Faults().State().LatencyMS != 1 {
		t.Fatal("latency not recorded")
	}
	sim.Faults().Reset()
	if st := sim.Faults().State(); st.LatencyMS != 0 || st.ErrorRate != 0 {
		t.Fatalf("reset left %+v", st)
	}
}

func TestAdminEndpoints(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	_, err := c.Pool.Create(&models.Pool{Name: s("p")})
	must(t, err)
	_, err = c.Pool.GetByName("p")
	must(t, err)
	if sim.Writes() != 1 || sim.Counts()["POST pool"] != 1 || sim.Counts()["GET pool"] != 1 {
		t.Fatalf("counts %v writes %d", sim.Counts(), sim.Writes())
	}

	h := sim.Handler()
	do := func(method, path, body string) map[string]any {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
		if w.Code != 200 {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		var out map[string]any
		must(t, json.Unmarshal(w.Body.Bytes(), &out))
		return out
	}
	got := do("GET", "/admin/counters", "")
	if got["writes"].(float64) != 1 || got["counts"].(map[string]any)["POST pool"].(float64) != 1 {
		t.Fatalf("admin counters %v", got)
	}
	do("DELETE", "/admin/counters", "")
	if sim.Writes() != 0 || len(sim.Counts()) != 0 {
		t.Fatal("counters not reset")
	}

	st := do("POST", "/admin/faults", `{"latency_ms": 2, "error_rate": 0.5, "error_status": 502, "conflict_once": ["pool"]}`)
	if st["latency_ms"].(float64) != 2 || st["error_status"].(float64) != 502 || st["conflict_once"].(map[string]any)["pool"].(float64) != 1 {
		t.Fatalf("faults %v", st)
	}
	do("POST", "/admin/faults", `{"reset": true, "expire_sessions": true}`)
	if st := sim.Faults().State(); st.ErrorRate != 0 || len(st.ConflictOnce) != 0 || sim.Sessions() != 0 {
		t.Fatalf("after reset %+v, %d sessions", st, sim.Sessions())
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/admin/faults", strings.NewReader(`{"latncy_ms": 1}`)))
	if w.Code != 400 {
		t.Fatalf("typo in admin body: %d", w.Code)
	}
	objs := do("GET", "/admin/faults", "")
	_ = objs
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/admin/objects?type=pool", nil))
	body, _ := io.ReadAll(w.Body)
	if !strings.Contains(string(body), `"name":"p"`) {
		t.Fatalf("admin objects: %s", body)
	}
}

func TestSeeds(t *testing.T) {
	demo := DemoSeed()
	if len(demo.Clouds) != 1 || demo.Clouds[0].Name != "Default-Cloud" || demo.Clouds[0].Vtype != "CLOUD_VCENTER" {
		t.Fatalf("demo clouds %+v", demo.Clouds)
	}
	sim, err := New(Options{Seed: demo})
	must(t, err)
	if n := len(sim.Objects("admin", "serviceenginegroup")); n != 2 {
		t.Fatalf("%d SE groups", n)
	}
	seg := sim.Objects("admin", "serviceenginegroup")[1]
	if seg["name"] != "edge-seg" || seg["labels"].([]any)[0].(map[string]any)["value"] != "edge" {
		t.Fatalf("edge-seg %v", seg)
	}
	cloud := sim.Objects("admin", "cloud")[0]
	if !strings.Contains(cloud["ipam_provider_ref"].(string), "/api/ipamdnsproviderprofile/") {
		t.Fatalf("cloud %v", cloud)
	}
	nets := sim.Objects("admin", "network")
	if len(nets) != 2 || nets[1]["name"] != "vip-net-b" {
		t.Fatalf("networks %v", nets)
	}
	aws, err := LoadSeed("aws")
	must(t, err)
	if aws.Clouds[0].Vtype != "CLOUD_AWS" || len(aws.Networks) != 3 {
		t.Fatalf("aws %+v", aws)
	}

	dir := t.TempDir()
	good := filepath.Join(dir, "s.yaml")
	must(t, os.WriteFile(good, []byte("clouds:\n- name: c\n  vtype: CLOUD_NONE\ntenants: [admin, t1]\n"), 0o600))
	sd, err := LoadSeed(good)
	must(t, err)
	sim, err = New(Options{Seed: sd})
	must(t, err)
	if len(sim.Objects("admin", "tenant")) != 2 {
		t.Fatal("tenant t1 not seeded")
	}
	bad := filepath.Join(dir, "bad.yaml")
	must(t, os.WriteFile(bad, []byte("clouds:\n- name: c\n  vtpye: CLOUD_NONE\n"), 0o600))
	if _, err := LoadSeed(bad); err == nil || !strings.Contains(err.Error(), "vtpye") {
		t.Fatalf("unknown seed key: %v", err)
	}
	if _, err := New(Options{Seed: &Seed{Networks: []SeedNetwork{{Name: "n", Cloud: "missing"}}}}); err == nil {
		t.Fatal("seed with an unknown cloud accepted")
	}
}

// The in-process handler also works with alb-sdk over plain HTTP.
func TestPlainHTTPStart(t *testing.T) {
	sim, err := New(Options{Seed: DemoSeed()})
	must(t, err)
	sim.Start()
	defer sim.Close()
	c := newClientScheme(t, sim)
	cl, err := c.Cloud.GetByName("Default-Cloud")
	must(t, err)
	if !strings.HasPrefix(*cl.URL, "http://"+sim.Host()+"/api/cloud/") {
		t.Fatalf("url %s", *cl.URL)
	}
}

func newClientScheme(t *testing.T, sim *Sim) *clients.AviClient {
	t.Helper()
	return newClient(t, sim, session.SetScheme("http"))
}

// FailNamed fails every call about one object (found by name filter, uuid
// or create body) and nothing else.
func TestFailNamed(t *testing.T) {
	sim := startSim(t, DemoSeed())
	c := newClient(t, sim)
	victim, err := c.Pool.Create(&models.Pool{Name: s("shard-2-pool")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pool.Create(&models.Pool{Name: s("shard-0-pool")}); err != nil {
		t.Fatal(err)
	}
	sim.Faults().SetErrorStatus(http.StatusInternalServerError)
	sim.Faults().FailNamed("shard-2", http.StatusInternalServerError)
	if _, err := c.Pool.GetByName("shard-2-pool"); err == nil {
		t.Error("read by name of the failing object succeeded")
	}
	if _, err := c.Pool.Get(*victim.UUID); err == nil {
		t.Error("read by uuid of the failing object succeeded")
	}
	if _, err := c.Pool.Create(&models.Pool{Name: s("shard-2-other")}); err == nil {
		t.Error("create of a failing name succeeded")
	}
	if _, err := c.Pool.GetByName("shard-0-pool"); err != nil {
		t.Errorf("another object failed too: %v", err)
	}
	sim.Faults().FailNamed("shard-2", 0)
	if _, err := c.Pool.Get(*victim.UUID); err != nil {
		t.Errorf("cleared fault still fails: %v", err)
	}
}
