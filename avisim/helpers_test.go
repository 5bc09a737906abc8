package avisim

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/vmware/alb-sdk/go/clients"
	"github.com/vmware/alb-sdk/go/session"
)

// TestMain points glog (used by alb-sdk) at a temporary directory so test
// runs do not leave log files behind in /tmp, and keeps its error lines (the
// harmless "Controller Host is not valid" among them) off stderr, where they
// would break the benchmark table.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "avisim-glog-")
	if err == nil {
		_ = flag.Set("log_dir", dir)
	}
	_ = flag.Set("stderrthreshold", "FATAL")
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// startSim starts a TLS simulator with the given seed.
func startSim(t testing.TB, seed *Seed) *Sim {
	t.Helper()
	sim, err := New(Options{Seed: seed, Username: "admin", Password: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	sim.StartTLS()
	t.Cleanup(sim.Close)
	return sim
}

// sessionOpts are the alb-sdk options tests use: insecure TLS, a version,
// and short retry intervals so that 401/5xx retries do not slow tests.
func sessionOpts(extra ...func(*session.AviSession) error) []func(*session.AviSession) error {
	return append([]func(*session.AviSession) error{
		session.SetPassword("admin"),
		session.SetInsecure,
		session.SetVersion("22.1.3"),
		session.SetControllerStatusCheckLimits(5, 1),
		session.SetApiRetryInterval(1),
	}, extra...)
}

// newClient logs in to sim with alb-sdk.
func newClient(t testing.TB, sim *Sim, extra ...func(*session.AviSession) error) *clients.AviClient {
	t.Helper()
	c, err := clients.NewAviClient(sim.Host(), "admin", sessionOpts(extra...)...)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// aviErr extracts the status and message of an alb-sdk error. alb-sdk
// returns session.AviError by value; Message is the Go %v rendering of the
// decoded JSON body (e.g. "map[error:Unknown field 'foo']").
func aviErr(err error) (int, string, bool) {
	var ae session.AviError
	if !errors.As(err, &ae) {
		return 0, "", false
	}
	msg := ""
	if ae.Message != nil {
		msg = *ae.Message
	}
	return ae.HttpStatusCode, msg, true
}

func wantAviErr(t testing.TB, err error, code int, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %d %q, got success", code, substr)
	}
	got, msg, ok := aviErr(err)
	if !ok {
		t.Fatalf("want session.AviError %d %q, got %T: %v", code, substr, err, err)
	}
	if got != code || !strings.Contains(msg, substr) {
		t.Fatalf("want %d containing %q, got %d: %s", code, substr, got, msg)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// jsonUnmarshal decodes a whole collection answer ({count, results}).
func jsonUnmarshal(raw session.AviCollectionResult, v any) error {
	return json.Unmarshal([]byte(`{"results":`+string(raw.Results)+`}`), v)
}
