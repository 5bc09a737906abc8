package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	albsession "github.com/vmware/alb-sdk/go/session"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
)

func start(t *testing.T) (*avisim.Sim, config.ControllerSettings) {
	t.Helper()
	sim, err := avisim.New(avisim.Options{Seed: avisim.DemoSeed(), Username: "admin", Password: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	sim.StartTLS()
	t.Cleanup(sim.Close)
	cs := config.Defaults().ControllerSettings
	cs.ControllerHost = sim.Host()
	return sim, cs
}

// admin are the simulator's credentials, with its certificate to trust.
func admin(sim *avisim.Sim) config.Credentials {
	return config.Credentials{Username: "admin", Password: "admin", CertificateAuthorityData: string(sim.CACertPEM())}
}

func TestConnectAndVersion(t *testing.T) {
	sim, cs := start(t)
	c, err := session.New(context.Background(), cs, admin(sim), session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Version() != "22.1.3" || c.Tenant() != "admin" {
		t.Fatalf("version %q tenant %q", c.Version(), c.Tenant())
	}
	var m map[string]any
	err = c.Get(context.Background(), "vsvip", "does-not-exist", nil, "", &m)
	if !session.IsNotFound(err) || session.IsRetryable(err) {
		t.Fatalf("want 404, got %v", err)
	}
}

func TestWrongPasswordIsNotLeaked(t *testing.T) {
	sim, cs := start(t)
	const secret = "s3cr3t-Pa55"
	creds := admin(sim)
	creds.Password = secret
	_, err := session.New(context.Background(), cs, creds, session.Options{})
	if err == nil {
		t.Fatal("want login error")
	}
	if !session.IsUnauthorized(err) || session.IsRetryable(err) {
		t.Fatalf("want 401 non-retryable, got %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("password in error: %v", err)
	}
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cs := config.Defaults().ControllerSettings
	cs.ControllerHost = addr
	cs.ControllerVersion = "22.1.3"
	_, err = session.New(context.Background(), cs, config.Credentials{Username: "admin", Password: "pw-xyz"}, session.Options{})
	if !session.IsRetryable(err) || strings.Contains(err.Error(), "pw-xyz") {
		t.Fatalf("want retryable, got %v", err)
	}
}

func TestControllerDownIsRetryable(t *testing.T) {
	sim, cs := start(t)
	c, err := session.New(context.Background(), cs, admin(sim), session.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	sim.Faults().SetErrorStatus(http.StatusServiceUnavailable)
	sim.Faults().SetErrorRate(1)
	var out []any
	err = c.List(context.Background(), "vsvip", nil, "", 0, func(json.RawMessage) error { return nil })
	_ = out
	if !session.IsRetryable(err) || session.IsBadRequest(err) {
		t.Fatalf("want retryable 503, got %v", err)
	}
	var se *session.Error
	if !errors.As(err, &se) || se.Status != 503 {
		t.Fatalf("status not kept: %#v", err)
	}
	sim.Faults().SetErrorRate(0)
	if err := c.List(context.Background(), "vsvip", nil, "", 0, func(json.RawMessage) error { return nil }); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	sim, cs := start(t)
	c, err := session.New(context.Background(), cs, admin(sim), session.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var m map[string]any
	if err := c.Get(ctx, "cloud", "x", nil, "", &m); err == nil || !session.IsRetryable(err) {
		t.Fatalf("want retryable cancellation, got %v", err)
	}
}

func TestClassifyPlainAviError(t *testing.T) {
	for code, want := range map[int][4]bool{ // notfound, conflict, badrequest, retryable
		404: {true, false, false, false},
		409: {false, true, false, true},
		400: {false, false, true, false},
		502: {false, false, false, true},
	} {
		err := albsession.AviError{HttpStatusCode: code}
		got := [4]bool{session.IsNotFound(err), session.IsConflict(err), session.IsBadRequest(err), session.IsRetryable(err)}
		if got != want {
			t.Errorf("%d: got %v want %v", code, got, want)
		}
	}
	if session.IsRetryable(nil) || session.IsNotFound(nil) || session.Message(nil) != "" {
		t.Error("nil error")
	}
}
