package avisim

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"

	"github.com/vmware/alb-sdk/go/session"
)

// A rotated password takes effect for new logins only, and every refused
// login is counted.
func TestSetPasswordAndLoginFailures(t *testing.T) {
	sim := startSim(t, DemoSeed())
	login := func(pw string) error {
		_, err := session.NewAviSession(sim.Host(), "admin", session.SetPassword(pw), session.SetInsecure,
			session.SetVersion("22.1.3"), session.DisableControllerStatusCheckOnFailure(true))
		return err
	}
	must(t, login("admin"))
	sim.SetPassword("admin", "rotated")
	wantAviErr(t, login("admin"), http.StatusUnauthorized, "Invalid credentials")
	wantAviErr(t, login("nope"), http.StatusUnauthorized, "Invalid credentials")
	must(t, login("rotated"))
	if sim.Logins() != 2 || sim.LoginFailures() != 2 {
		t.Fatalf("logins %d, failures %d; want 2 and 2", sim.Logins(), sim.LoginFailures())
	}
}

// CACertPEM verifies the TLS server, for its loopback address.
func TestCACertPEMVerifiesTheServer(t *testing.T) {
	sim, err := New(Options{Seed: DemoSeed()})
	must(t, err)
	if sim.CACertPEM() != nil {
		t.Fatal("a simulator that is not serving has no certificate")
	}
	sim.StartTLS()
	t.Cleanup(sim.Close)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(sim.CACertPEM()) {
		t.Fatalf("CACertPEM is not PEM: %q", sim.CACertPEM())
	}
	conn, err := tls.Dial("tcp", sim.Host(), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("verified handshake: %v", err)
	}
	conn.Close()
	plain, err := New(Options{Seed: DemoSeed()})
	must(t, err)
	plain.Start()
	t.Cleanup(plain.Close)
	if plain.CACertPEM() != nil {
		t.Fatal("a plain-HTTP simulator has no certificate")
	}
}
