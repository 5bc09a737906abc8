package session_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	albsession "github.com/vmware/alb-sdk/go/session"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/certs"
	"github.com/vipgate/vipgate/config"
)

const untrustedAdvice = ": put the certificate of the CA that signed it in certificateAuthorityData of the controller " +
	"credentials Secret, or set ControllerSettings.insecureSkipVerify to true to skip verification"

// otherCA is a CA that signed nothing the simulator serves.
func otherCA(t *testing.T) string {
	t.Helper()
	ca, err := certs.NewCA("not-the-controller", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return string(ca.CertPEM)
}

// The controller's certificate is verified unless the settings say not to,
// and a failed verification says what to set, without retrying.
func TestControllerCertificateVerification(t *testing.T) {
	sim, cs := start(t)
	_, port, _ := net.SplitHostPort(sim.Host())
	const secret = "pw-never-shown"
	for _, tc := range []struct {
		name     string
		host     string // default: the simulator's 127.0.0.1:port
		ca       string
		insecure bool
		want     string // "" for success
	}{
		{name: "no CA data: verified against the system roots", want: "avi login: the controller's TLS certificate is not trusted " +
			"(x509: certificate signed by unknown authority)" + untrustedAdvice},
		{name: "the controller's CA", ca: string(sim.CACertPEM())},
		{name: "another CA", ca: otherCA(t), want: "avi login: the controller's TLS certificate is not trusted " +
			"(x509: certificate signed by unknown authority)" + untrustedAdvice},
		{name: "the controller's CA, but a name the certificate does not carry", host: "localhost:" + port, ca: string(sim.CACertPEM()),
			want: "avi login: the controller's TLS certificate is not trusted " +
				"(x509: certificate is valid for example.com, *.example.com, not localhost)" + untrustedAdvice},
		{name: "CA data that is not PEM", ca: "MIIB...", want: "avi login: certificateAuthorityData in the controller credentials holds no PEM certificate"},
		{name: "insecureSkipVerify without CA data", insecure: true},
		{name: "insecureSkipVerify ignores a wrong CA", ca: otherCA(t), insecure: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := cs
			if tc.host != "" {
				cs.ControllerHost = tc.host
			}
			cs.InsecureSkipVerify = config.Bool(tc.insecure)
			creds := config.Credentials{Username: "admin", Password: "admin", CertificateAuthorityData: tc.ca}
			if tc.want != "" {
				creds.Password = secret
			}
			c, err := session.New(context.Background(), cs, creds, session.Options{PoolSize: 1})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatalf("connected; want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %q\nwant %q", err, tc.want)
			}
			if session.IsRetryable(err) || session.IsUnauthorized(err) {
				t.Errorf("retryable %v, unauthorized %v: want neither (a setting is missing)", session.IsRetryable(err), session.IsUnauthorized(err))
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("password in the error: %v", err)
			}
		})
	}
	if n := sim.LoginFailures() + sim.Logins(); n != 3 {
		t.Errorf("%d logins reached the controller, want 3 (only the trusted connections)", n)
	}
}

// rotate changes the password on the controller and in the mounted Secret,
// and ends every session, as an administrator rotating it would.
func rotate(t *testing.T, sim *avisim.Sim, dir, password string) {
	t.Helper()
	sim.SetPassword("admin", password)
	creds := admin(sim)
	creds.Password = password
	if err := config.WriteCredentialsDir(dir, creds); err != nil {
		t.Fatal(err)
	}
	sim.Faults().ExpireSessions()
}

// mountedCredentials writes creds as a mounted Secret and follows it, re-reading
// it on every login.
func mountedCredentials(t *testing.T, creds config.Credentials) (string, *config.CredentialsDir) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "credentials")
	if err := config.WriteCredentialsDir(dir, creds); err != nil {
		t.Fatal(err)
	}
	src, err := config.NewCredentialsDir(dir, -1)
	if err != nil {
		t.Fatal(err)
	}
	return dir, src
}

func getCloud(c *session.Client) error {
	var m map[string]any
	return c.Get(context.Background(), "cloud", "", nil, "", &m)
}

// A password rotated in the Secret is used by the next login, without a
// restart, both by sessions the controller expired and by new ones.
func TestRotatedPasswordIsUsedWithoutRestart(t *testing.T) {
	sim, cs := start(t)
	dir, src := mountedCredentials(t, admin(sim))
	c, err := session.New(context.Background(), cs, src, session.Options{PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, pw := range []string{"rotated-1", "rotated-2"} {
		rotate(t, sim, dir, pw)
		if err := getCloud(c); err != nil {
			t.Fatalf("after rotation %d: %v", i+1, err)
		}
	}
	if sim.LoginFailures() != 0 || sim.Logins() != 3 {
		t.Fatalf("logins %d, refused %d; want 3 and 0", sim.Logins(), sim.LoginFailures())
	}
}

// A CA changed in the Secret applies to the next connection.
func TestRotatedCAIsUsed(t *testing.T) {
	sim, cs := start(t)
	dir, src := mountedCredentials(t, admin(sim))
	c, err := session.New(context.Background(), cs, src, session.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wrong := admin(sim)
	wrong.CertificateAuthorityData = otherCA(t)
	if err := config.WriteCredentialsDir(dir, wrong); err != nil {
		t.Fatal(err)
	}
	err = getCloud(c)
	if want := "(x509: certificate signed by unknown authority)" + untrustedAdvice; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("with a CA that did not sign the controller's certificate: %v", err)
	}
	if err := config.WriteCredentialsDir(dir, admin(sim)); err != nil {
		t.Fatal(err)
	}
	if err := getCloud(c); err != nil {
		t.Fatalf("with the right CA again: %v", err)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeClock) add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// Refused logins pause further logins, 1s doubling up to a minute (jitter
// at its maximum here); within a pause no login reaches the controller. New
// credentials end the pause at once, and a successful login starts the next
// series from 1s again.
func TestRefusedLoginsBackOff(t *testing.T) {
	sim, cs := start(t)
	dir, src := mountedCredentials(t, admin(sim))
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	full := func() float64 { return 1 }
	c, err := session.New(context.Background(), cs, src, session.WithClock(session.Options{PoolSize: 2}, clock.now, full))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sim.SetPassword("admin", "changed-elsewhere")
	sim.Faults().ExpireSessions()

	refused := func(step string, wantFailures int, wantMsg string) {
		t.Helper()
		err := getCloud(c)
		if err == nil || !session.IsUnauthorized(err) || session.IsRetryable(err) {
			t.Fatalf("%s: %v; want a non-retryable 401", step, err)
		}
		if err.Error() != wantMsg {
			t.Fatalf("%s: error\n got %q\nwant %q", step, err, wantMsg)
		}
		if got := sim.LoginFailures(); got != wantFailures {
			t.Fatalf("%s: %d refused logins reached the controller, want %d", step, got, wantFailures)
		}
	}
	refused("first call", 1, "avi login: HTTP 401: Invalid credentials")
	failures := 1
	for _, pause := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60} {
		pause *= time.Second
		for i := 0; i < 3; i++ {
			refused(fmt.Sprintf("within the pause of %s", pause), failures,
				fmt.Sprintf("avi login: HTTP 401: Invalid credentials (logins paused for %s after %d refused in a row)", pause, failures))
		}
		clock.add(pause - time.Millisecond)
		refused(fmt.Sprintf("1ms before the end of the pause of %s", pause), failures,
			fmt.Sprintf("avi login: HTTP 401: Invalid credentials (logins paused for 1ms after %d refused in a row)", failures))
		clock.add(time.Millisecond)
		failures++
		refused(fmt.Sprintf("after the pause of %s", pause), failures, "avi login: HTTP 401: Invalid credentials")
	}

	// The Secret catches up with the controller: log in at once.
	logins := sim.Logins()
	creds := admin(sim)
	creds.Password = "changed-elsewhere"
	if err := config.WriteCredentialsDir(dir, creds); err != nil {
		t.Fatal(err)
	}
	if err := getCloud(c); err != nil {
		t.Fatalf("with the new password: %v", err)
	}
	if sim.Logins() != logins+1 || sim.LoginFailures() != failures {
		t.Fatalf("logins %d, refused %d; want %d and %d", sim.Logins(), sim.LoginFailures(), logins+1, failures)
	}

	// After a success the next refusal pauses for 1s again.
	sim.SetPassword("admin", "changed-again")
	sim.Faults().ExpireSessions()
	refused("refused after a success", failures+1, "avi login: HTTP 401: Invalid credentials")
	refused("paused after a success", failures+1,
		"avi login: HTTP 401: Invalid credentials (logins paused for 1s after 1 refused in a row)")
}

// Sessions that expire together log in one at a time: after the first refusal
// the others do not reach the controller.
func TestConcurrentReloginsAfterRefusal(t *testing.T) {
	sim, cs := start(t)
	_, src := mountedCredentials(t, admin(sim))
	const pool = 8
	c, err := session.New(context.Background(), cs, src, session.Options{PoolSize: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	run := func() []error {
		errs := make([]error, pool)
		start := make(chan struct{})
		for i := 0; i < pool; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				// Each call holds its session long enough for every session to be in use.
				errs[i] = c.Do(context.Background(), "GET cloud", func(s *albsession.AviSession) error {
					time.Sleep(20 * time.Millisecond)
					var m map[string]any
					return s.Get("api/cloud", &m)
				})
			}(i)
		}
		close(start)
		wg.Wait()
		return errs
	}
	for _, err := range run() {
		if err != nil {
			t.Fatalf("warming the pool: %v", err)
		}
	}
	if sim.Logins() < 2 {
		t.Fatalf("only %d sessions logged in; the test needs several", sim.Logins())
	}
	sim.SetPassword("admin", "changed-elsewhere")
	sim.Faults().ExpireSessions()
	for i, err := range run() {
		if !session.IsUnauthorized(err) {
			t.Errorf("call %d: %v, want 401", i, err)
		}
	}
	if got := sim.LoginFailures(); got != 1 {
		t.Fatalf("%d refused logins reached the controller, want 1", got)
	}
}

// What happens to the mounted credentials is logged once per change, without
// secrets; an unusable Secret keeps the last good credentials in use.
func TestCredentialChangesAreLogged(t *testing.T) {
	sim, cs := start(t)
	dir, src := mountedCredentials(t, admin(sim))
	var mu sync.Mutex
	var lines []string
	log := funcr.New(func(_, args string) { mu.Lock(); lines = append(lines, args); mu.Unlock() }, funcr.Options{})
	c, err := session.New(logr.NewContext(context.Background(), log), cs, src, session.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	broken := admin(sim)
	broken.Password = ""
	if err := config.WriteCredentialsDir(dir, broken); err != nil {
		t.Fatal(err)
	}
	sim.Faults().ExpireSessions()
	for i := 0; i < 2; i++ {
		if err := getCloud(c); err != nil {
			t.Fatalf("with an unusable Secret, the last good credentials: %v", err)
		}
	}
	rotate(t, sim, dir, "rotated-secret-1")
	for i := 0; i < 2; i++ {
		if err := getCloud(c); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	}
	prefix := `"level"=0 "msg"=`
	ctl := ` "controller"="` + sim.Host() + `" "tenant"="admin"`
	want := []string{
		prefix + `"controller credentials unusable; keeping the last good ones"` + ctl +
			` "error"="credentials in ` + dir + `: one of the keys password or authtoken is required"`,
		prefix + `"controller credentials changed; new logins use them"` + ctl + ` "username"="admin"`,
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("log\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
