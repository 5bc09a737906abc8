package reconcile

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// logLines records what a logger was told, one string per call.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) ctx() context.Context {
	return ctrl.LoggerInto(context.Background(), funcr.New(func(prefix, args string) {
		l.mu.Lock()
		l.lines = append(l.lines, args)
		l.mu.Unlock()
	}, funcr.Options{}))
}

func (l *logLines) matching(part string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.Contains(s, part) {
			out = append(out, s)
		}
	}
	return out
}

// vipgate does not log in to a controller whose certificate it cannot
// verify: it stops at start-up, at once, saying what to set; with
// insecureSkipVerify it connects and warns once.
func TestControllerCertificateIsVerified(t *testing.T) {
	sim := harness.StartSim(t, nil)
	noCA := harness.SimCredentials(sim)
	noCA.CertificateAuthorityData = ""
	var logs logLines
	_, err := operator.New(logs.ctx(), env.Cfg, operator.Options{
		Settings: settingsFor(t, sim, nil), Credentials: noCA, ConnectTimeout: 10 * time.Minute,
	})
	want := "connecting to the controller at " + sim.Host() + ": avi login: the controller's TLS certificate is not trusted " +
		"(x509: certificate signed by unknown authority): put the certificate of the CA that signed it in certificateAuthorityData " +
		"of the controller credentials Secret, or set ControllerSettings.insecureSkipVerify to true to skip verification"
	if err == nil || err.Error() != want {
		t.Fatalf("start-up error\n got %v\nwant %s", err, want)
	}
	if n := len(logs.matching("retrying")); n != 0 {
		t.Errorf("start-up retried %d times: an untrusted certificate does not fix itself", n)
	}
	if sim.Logins()+sim.LoginFailures() != 0 {
		t.Errorf("the password reached an unverified controller (%d logins)", sim.Logins()+sim.LoginFailures())
	}

	// Opting out connects, with one warning.
	s := settingsFor(t, sim, func(s *config.Settings) { s.ControllerSettings.InsecureSkipVerify = true })
	op, err := operator.New(logs.ctx(), env.Cfg, operator.Options{Settings: s, Credentials: noCA})
	if err != nil {
		t.Fatalf("with insecureSkipVerify: %v", err)
	}
	op.Controller.Close()
	warnings := logs.matching("is not verified")
	wantWarning := `"level"=0 "msg"="WARNING: the controller's TLS certificate is not verified (ControllerSettings.insecureSkipVerify is true): ` +
		`anyone on the path can read the controller credentials; put the controller's CA in certificateAuthorityData instead" "controller"="` + sim.Host() + `"`
	if len(warnings) != 1 || warnings[0] != wantWarning {
		t.Fatalf("warnings %q, want one: %s", warnings, wantWarning)
	}
}

// A password rotated on the controller and in the mounted Secret is used by
// vipgate's next login, without a restart.
func TestRotatedCredentialsWithoutRestart(t *testing.T) {
	sim := harness.StartSim(t, nil)
	dir := filepath.Join(t.TempDir(), "credentials")
	if err := config.WriteCredentialsDir(dir, harness.SimCredentials(sim)); err != nil {
		t.Fatal(err)
	}
	src, err := config.NewCredentialsDir(dir, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start(t, sim, nil, func(o *operator.Options) { o.Credentials = src })
	ns := newNamespace(t)
	createObj(t, lbService(ns, "before", []int32{80}))
	waitVIP(t, ns, "before")

	for i := 1; i <= 2; i++ {
		logins := sim.Logins()
		password := fmt.Sprintf("rotated-%d", i)
		sim.SetPassword(harness.SimUser, password)
		creds := harness.SimCredentials(sim)
		creds.Password = password
		if err := config.WriteCredentialsDir(dir, creds); err != nil {
			t.Fatal(err)
		}
		sim.Faults().ExpireSessions()
		name := fmt.Sprintf("after-%d", i)
		createObj(t, lbService(ns, name, []int32{80}))
		waitVIP(t, ns, name)
		if sim.Logins() <= logins {
			t.Fatalf("rotation %d: no new login (%d before, %d after)", i, logins, sim.Logins())
		}
	}
}

// With credentials the controller refuses, vipgate's logins are spaced out
// (1s doubling, jittered down by up to half) however busy its reconcilers
// are; once the controller takes them again, vipgate recovers by itself.
func TestRefusedLoginsAreSpacedOut(t *testing.T) {
	sim := harness.StartSim(t, nil)
	start(t, sim, nil, nil)
	ns := newNamespace(t)
	createObj(t, lbService(ns, "warm", []int32{80}))
	waitVIP(t, ns, "warm")

	sim.SetPassword(harness.SimUser, "changed-on-the-controller")
	sim.Faults().ExpireSessions()
	before := sim.LoginFailures()
	const services = 5
	for i := 0; i < services; i++ {
		createObj(t, lbService(ns, fmt.Sprintf("busy-%d", i), []int32{80}))
	}
	// Within 5s of the first refusal the pauses (at least 0.5s, 1s, 2s, 4s)
	// leave room for 3 more attempts: 4 in all. Without them every reconcile
	// attempt of every Service logs in. A slow machine only makes fewer.
	harness.Eventually(t, "a refused login", func() string {
		if sim.LoginFailures() == before {
			return "none yet"
		}
		return ""
	})
	time.Sleep(5 * time.Second)
	n := sim.LoginFailures() - before
	if n > 4 {
		t.Fatalf("%d refused logins within 5s; want at most 4", n)
	}
	t.Logf("%d refused logins within 5s", n)

	sim.SetPassword(harness.SimUser, harness.SimPassword)
	for i := 0; i < services; i++ {
		waitVIP(t, ns, fmt.Sprintf("busy-%d", i))
	}
}
