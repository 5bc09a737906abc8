package dataplane_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/vmware/alb-sdk/go/models"
	"github.com/vmware/alb-sdk/go/session"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/avisim/dataplane"
	"github.com/vipgate/vipgate/avisim/dataplane/echo"
)

// TestMain points glog (alb-sdk's logger) at a temporary directory and keeps
// its lines off stderr, as avisim's own tests do.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "dataplane-glog-")
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

// timeScale makes System-TCP's 10 s checks run every 500 ms in tests.
const timeScale = 0.05

// waitLimit bounds every wait; on a loaded machine convergence is still far
// below it. It is not a latency assertion.
const waitLimit = 30 * time.Second

// env is a simulator with a data plane and an alb-sdk session to it.
type env struct {
	t    testing.TB
	sim  *avisim.Sim
	dp   *dataplane.DataPlane
	sess *session.AviSession
}

// newEnv starts a simulator with seed (avisim.LoopbackSeed when nil).
func newEnv(t testing.TB, seed *avisim.Seed) *env {
	t.Helper()
	return newEnvWith(t, seed, dataplane.Options{MonitorTimeScale: timeScale})
}

// newEnvWith is newEnv with the data plane options given.
func newEnvWith(t testing.TB, seed *avisim.Seed, opts dataplane.Options) *env {
	t.Helper()
	if seed == nil {
		seed = avisim.LoopbackSeed()
	}
	sim, err := avisim.New(avisim.Options{Seed: seed, Username: "admin", Password: "admin", DataPlane: &opts})
	if err != nil {
		t.Fatal(err)
	}
	sim.StartTLS()
	t.Cleanup(sim.Close)
	sess, err := session.NewAviSession(sim.Host(), "admin", session.SetPassword("admin"), session.SetInsecure,
		session.SetVersion("22.1.3"), session.SetControllerStatusCheckLimits(5, 1), session.SetApiRetryInterval(1))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return &env{t: t, sim: sim, dp: sim.DataPlane(), sess: sess}
}

func s(v string) *string { return &v }
func b(v bool) *bool     { return &v }
func i32(v int32) *int32 { return &v }
func u32(v uint32) *uint32 {
	return &v
}

// create POSTs obj as typ and returns its uuid.
func (e *env) create(typ string, obj any) string {
	e.t.Helper()
	var out map[string]any
	if err := e.sess.Post("api/"+typ, obj, &out); err != nil {
		e.t.Fatalf("creating %s: %v", typ, err)
	}
	return out["uuid"].(string)
}

// update PUTs obj over the object with uuid.
func (e *env) update(typ, uuid string, obj any) {
	e.t.Helper()
	var out map[string]any
	if err := e.sess.Put("api/"+typ+"/"+uuid, obj, &out); err != nil {
		e.t.Fatalf("updating %s %s: %v", typ, uuid, err)
	}
}

func (e *env) del(typ, uuid string) {
	e.t.Helper()
	if err := e.sess.Delete("api/" + typ + "/" + uuid); err != nil {
		e.t.Fatalf("deleting %s %s: %v", typ, uuid, err)
	}
}

// vip returns the address the controller allocated to a VsVip.
func (e *env) vip(uuid string) string {
	e.t.Helper()
	var v models.VsVip
	if err := e.sess.Get("api/vsvip/"+uuid, &v); err != nil {
		e.t.Fatal(err)
	}
	return *v.Vip[0].IPAddress.Addr
}

// waitFor polls cond every 20 ms until it returns "", failing with its last
// answer after waitLimit.
func waitFor(t testing.TB, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not the case after %s: %s", what, waitLimit, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// addr waits until the VIP port is served and returns where.
func (e *env) addr(vip string, port int, proto string) string {
	e.t.Helper()
	var a string
	waitFor(e.t, fmt.Sprintf("%s:%d/%s is served", vip, port, proto), func() string {
		var ok bool
		if a, ok = e.dp.Lookup(vip, port, proto); !ok {
			return fmt.Sprintf("no listener; status %+v", e.dp.Status().Listeners)
		}
		return ""
	})
	return a
}

// waitGone waits until the VIP port is no longer served.
func (e *env) waitGone(vip string, port int, proto string) {
	e.t.Helper()
	waitFor(e.t, fmt.Sprintf("%s:%d/%s is not served", vip, port, proto), func() string {
		if a, ok := e.dp.Lookup(vip, port, proto); ok {
			return "still served on " + a
		}
		return ""
	})
}

// backend starts an echo backend on ip, stopped at cleanup.
func backend(t testing.TB, name, ip string) *echo.Server {
	t.Helper()
	srv, err := echo.New(name, ip, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// servers renders echo backends as pool servers.
func servers(bs ...*echo.Server) []*models.Server {
	var out []*models.Server
	for _, be := range bs {
		out = append(out, &models.Server{IP: &models.IPAddr{Addr: s(be.IP()), Type: s("V4")}, Port: i32(int32(be.Port()))})
	}
	return out
}

// selfSigned makes a certificate and key (PEM) for host.
func selfSigned(t testing.TB, host string) (crt, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certSerial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(certSerial), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

var certSerial int64
