package install

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/certs"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

// servingNames are the names on test serving certificates: the installed
// webhook configurations call https://127.0.0.1:<port>/..., so the API server
// checks the IP SAN; the Service names make them look like the real thing.
func servingNames() []string {
	return append([]string{"127.0.0.1", "localhost"}, certs.ServiceDNSNames("vipgate-webhook", "vipgate-system")...)
}

// startVipgateWithCerts runs vipgate (on the real path against a fresh avisim)
// serving its webhooks from certDir, a folder this test writes, instead of the
// harness's envtest-made certificate; caPEM must verify what certDir holds.
// The installed configurations' caBundle is the caller's job (setCABundle).
func startVipgateWithCerts(t *testing.T, certDir string, caPEM []byte) {
	t.Helper()
	sim := harness.StartSim(t, nil)
	e := *env // same API server and webhook address, other certificates
	e.CertDir, e.CAData = certDir, caPEM
	e.StartVipgate(t, operator.Options{
		Settings:            harness.DemoSettings(t, sim.Host()),
		Credentials:         harness.SimCredentials(sim),
		InventoryStaleAfter: time.Hour,
	})
}

// fastClient is an uncached client without client-go's default rate limit (5
// QPS), so the load below measures the webhook, not the client's throttle.
func fastClient(t *testing.T) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Cfg)
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := client.New(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Probe webhooks let a test know when the API server has picked up a change
// to a webhook configuration (it does so asynchronously, from an informer).
// setCABundle writes the new caBundle and, in the same update of each
// configuration, a probe webhook that matches only ConfigMaps named for this
// generation and points at a closed port with failurePolicy Fail. Once a dry
// run of such a ConfigMap fails calling the probe, the API server uses that
// version of the configuration, caBundle included.
const (
	probeMutating   = "probe-m.install.vipgate.test"
	probeValidating = "probe-v.install.vipgate.test"
)

var probeGen atomic.Int64

func probeHook(name, cmName string, bundle []byte) (admv1.WebhookClientConfig, []admv1.RuleWithOperations, []admv1.MatchCondition) {
	return admv1.WebhookClientConfig{URL: ptr.To("https://127.0.0.1:1/" + name), CABundle: bundle},
		[]admv1.RuleWithOperations{{
			Operations: []admv1.OperationType{admv1.Create},
			Rule:       admv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}, Scope: ptr.To(admv1.NamespacedScope)},
		}},
		[]admv1.MatchCondition{{Name: "probe-generation", Expression: fmt.Sprintf("object.metadata.name == '%s'", cmName)}}
}

// setCABundle sets caBundle on every vipgate webhook of both configurations
// and waits until the API server uses it. Tests that call it restore the
// configurations with restoreConfigurations at cleanup.
func setCABundle(t *testing.T, bundle []byte) {
	t.Helper()
	ctx := context.Background()
	gen := probeGen.Add(1)
	mName, vName := fmt.Sprintf("probe-m-%d", gen), fmt.Sprintf("probe-v-%d", gen)
	cc, rules, conds := probeHook(probeMutating, mName, bundle)
	if err := updateMutating(ctx, bundle, &admv1.MutatingWebhook{
		Name: probeMutating, ClientConfig: cc, Rules: rules, MatchConditions: conds,
		SideEffects: ptr.To(admv1.SideEffectClassNone), FailurePolicy: ptr.To(admv1.Fail),
		TimeoutSeconds: ptr.To[int32](5), AdmissionReviewVersions: []string{"v1"},
	}); err != nil {
		t.Fatalf("updating %s: %v", webhooks.MutatingConfigName, err)
	}
	cc, rules, conds = probeHook(probeValidating, vName, bundle)
	if err := updateValidating(ctx, bundle, &admv1.ValidatingWebhook{
		Name: probeValidating, ClientConfig: cc, Rules: rules, MatchConditions: conds,
		SideEffects: ptr.To(admv1.SideEffectClassNone), FailurePolicy: ptr.To(admv1.Fail),
		TimeoutSeconds: ptr.To[int32](5), AdmissionReviewVersions: []string{"v1"},
	}); err != nil {
		t.Fatalf("updating %s: %v", webhooks.ValidatingConfigName, err)
	}
	waitProbe(t, mName, probeMutating)
	waitProbe(t, vName, probeValidating)
}

// updateMutating rewrites the mutating configuration (see updateHooks).
func updateMutating(ctx context.Context, bundle []byte, probe *admv1.MutatingWebhook) error {
	return updateHooks(ctx, webhooks.MutatingConfigName, probeMutating, bundle, probe,
		func(c *admv1.MutatingWebhookConfiguration) *[]admv1.MutatingWebhook { return &c.Webhooks },
		func(h *admv1.MutatingWebhook) (string, *admv1.WebhookClientConfig) { return h.Name, &h.ClientConfig })
}

// updateValidating rewrites the validating configuration (see updateHooks).
func updateValidating(ctx context.Context, bundle []byte, probe *admv1.ValidatingWebhook) error {
	return updateHooks(ctx, webhooks.ValidatingConfigName, probeValidating, bundle, probe,
		func(c *admv1.ValidatingWebhookConfiguration) *[]admv1.ValidatingWebhook { return &c.Webhooks },
		func(h *admv1.ValidatingWebhook) (string, *admv1.WebhookClientConfig) { return h.Name, &h.ClientConfig })
}

// updateHooks rewrites the webhook configuration name, retrying on
// conflicts: the probe webhook probeName is dropped, every other webhook gets
// caBundle bundle, and probe (nil for none) is appended. The mutating and
// validating configurations have the same shape but distinct Go types, hence
// the type parameters and the two accessors.
func updateHooks[C any, PC interface {
	*C
	client.Object
}, H any](ctx context.Context, name, probeName string, bundle []byte, probe *H,
	hooksOf func(PC) *[]H, hookOf func(*H) (string, *admv1.WebhookClientConfig)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cfg := PC(new(C))
		if err := env.Client.Get(ctx, types.NamespacedName{Name: name}, cfg); err != nil {
			return err
		}
		list := hooksOf(cfg)
		kept := (*list)[:0]
		for _, h := range *list {
			if n, cc := hookOf(&h); n != probeName {
				cc.CABundle = bundle
				kept = append(kept, h)
			}
		}
		if probe != nil {
			kept = append(kept, *probe)
		}
		*list = kept
		return env.Client.Update(ctx, cfg)
	})
}

// waitProbe waits until a dry-run ConfigMap named cmName fails calling hook.
func waitProbe(t *testing.T, cmName, hook string) {
	t.Helper()
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cmName, Namespace: "default"}}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := env.Client.Create(ctx, cm.DeepCopy(), client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), `failed calling webhook "`+hook+`"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API server did not pick up the webhook configuration change within 2m (probe %s: %v)", hook, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restoreConfigurations removes the probes and puts the harness's CA back.
func restoreConfigurations(t *testing.T) {
	ctx := context.Background()
	if err := updateMutating(ctx, env.CAData, nil); err != nil {
		t.Errorf("restoring %s: %v", webhooks.MutatingConfigName, err)
	}
	if err := updateValidating(ctx, env.CAData, nil); err != nil {
		t.Errorf("restoring %s: %v", webhooks.ValidatingConfigName, err)
	}
}

// webhookAddr is where vipgate serves its webhooks in these tests.
func webhookAddr() string {
	return net.JoinHostPort(env.WebhookHost, strconv.Itoa(env.WebhookPort))
}

// servedCert returns the leaf certificate the webhook server presents now (a
// fresh connection, so a reload is visible), verified against roots. It
// verifies after the handshake rather than in it, so probing with a CA the
// server no longer (or not yet) uses does not abort handshakes.
func servedCert(roots []byte) (*x509.Certificate, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		return nil, fmt.Errorf("no CA certificates to verify with")
	}
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec // verified below
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", webhookAddr())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: env.WebhookHost,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return chain[0], err
	}
	return chain[0], nil
}

// waitServed waits until the webhook server presents the certificate want
// (certwatcher reloads on file events and, failing those, by polling).
func waitServed(t *testing.T, want *x509.Certificate, roots []byte) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		got, err := servedCert(roots)
		if err == nil && got.SerialNumber.Cmp(want.SerialNumber) == 0 {
			return
		}
		if err != nil {
			last = err
		} else {
			last = fmt.Errorf("still serving serial %x", got.SerialNumber)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the webhook server did not start serving serial %x within 2m: %v", want.SerialNumber, last)
}

// Admission load: goroutines create (dry run) Services through the API
// server, alternating one vipgate must deny with the rule book's message and
// one it must admit. Anything else (a TLS or connection error surfacing as
// "failed calling webhook", a timeout) is a failure.
const denyMessage = `spec.loadBalancerIP: Invalid value: "10.10.0.5": not inside any VIP network`

type load struct {
	c        client.Client
	stop     chan struct{}
	wg       sync.WaitGroup
	denied   atomic.Int64
	admitted atomic.Int64
	mu       sync.Mutex
	failures []string
	failed   atomic.Int64
}

func badService(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: "10.10.0.5",
			Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
}

func goodService(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
}

// checkOnce does one denied and one admitted request and says what went wrong.
func checkOnce(ctx context.Context, c client.Client, name string) (deniedOK, admittedOK bool, problems []string) {
	err := c.Create(ctx, badService(name+"-bad"), client.DryRunAll)
	switch {
	case err == nil:
		problems = append(problems, "a Service with loadBalancerIP 10.10.0.5 was admitted")
	case !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "denied the request") || !strings.Contains(err.Error(), denyMessage):
		problems = append(problems, "bad Service: "+err.Error())
	default:
		deniedOK = true
	}
	if err := c.Create(ctx, goodService(name+"-good"), client.DryRunAll); err != nil {
		problems = append(problems, "good Service: "+err.Error())
	} else {
		admittedOK = true
	}
	return deniedOK, admittedOK, problems
}

func startLoad(t *testing.T, workers int) *load {
	t.Helper()
	l := &load{c: fastClient(t), stop: make(chan struct{})}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			ctx := context.Background()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				d, a, problems := checkOnce(ctx, l.c, fmt.Sprintf("load-%d-%d", w, i))
				if d {
					l.denied.Add(1)
				}
				if a {
					l.admitted.Add(1)
				}
				if len(problems) > 0 {
					l.failed.Add(int64(len(problems)))
					l.mu.Lock()
					if len(l.failures) < 20 {
						l.failures = append(l.failures, problems...)
					}
					l.mu.Unlock()
				}
			}
		}()
	}
	t.Cleanup(l.halt)
	return l
}

func (l *load) total() int64 { return l.denied.Load() + l.admitted.Load() + l.failed.Load() }

func (l *load) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// flow waits until at least n more requests have completed, so every phase of
// a rotation is exercised by real traffic.
func (l *load) flow(t *testing.T, n int64) {
	t.Helper()
	target := l.total() + n
	deadline := time.Now().Add(3 * time.Minute)
	for l.total() < target {
		if time.Now().After(deadline) {
			t.Fatalf("admission load stalled: %d requests, waiting for %d", l.total(), target)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finish stops the load and fails the test on any unexpected answer.
func (l *load) finish(t *testing.T) {
	t.Helper()
	l.halt()
	t.Logf("admission load: %d requests (%d denied as expected, %d admitted as expected), %d failed",
		l.total(), l.denied.Load(), l.admitted.Load(), l.failed.Load())
	if l.failed.Load() > 0 {
		t.Errorf("%d requests did not get the expected answer; first ones:\n  %s", l.failed.Load(), strings.Join(l.failures, "\n  "))
	}
	if l.denied.Load() == 0 || l.admitted.Load() == 0 {
		t.Errorf("the load made no denied or no admitted request")
	}
}
