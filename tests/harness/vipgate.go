package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"os"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
)

// DemoSettingsYAML are the demo's settings (cluster "demo", VIP network
// vip-net-a, vipgate the default L4 and L7 controller); %s is the controller host.
const DemoSettingsYAML = `
AKOSettings:
  clusterName: demo
NetworkSettings:
  vipNetworkList:
  - networkName: vip-net-a
L7Settings:
  defaultIngController: true
  serviceType: ClusterIP
  shardVSSize: SMALL
L4Settings:
  defaultLBController: true
ControllerSettings:
  controllerHost: "%s"
  cloudName: Default-Cloud
  serviceEngineGroupName: Default-Group
  tenantName: admin
`

// DemoSettings parses DemoSettingsYAML for a controller at host.
func DemoSettings(t testing.TB, host string) *config.Settings {
	t.Helper()
	s, err := config.Parse(fmt.Appendf(nil, DemoSettingsYAML, host))
	if err != nil {
		t.Fatalf("demo settings: %v", err)
	}
	return s
}

var managerSeq atomic.Int64

// StartVipgate runs vipgate's manager in-process against e, serving webhooks
// where the installed configurations point, and waits until the webhook server
// answers TLS with the expected certificate. The manager stops at test cleanup.
func (e *Env) StartVipgate(t testing.TB, o operator.Options) *operator.Operator {
	t.Helper()
	op, _ := e.StartStoppableVipgate(t, o)
	return op
}

// StartStoppableVipgate is StartVipgate that also returns a stop function, for
// tests that restart vipgate within one test: only one manager can serve the
// webhook port at a time. stop waits for the manager to exit; calling it more
// than once (and the cleanup after it) is harmless.
func (e *Env) StartStoppableVipgate(t testing.TB, o operator.Options) (*operator.Operator, func()) {
	t.Helper()
	return e.startVipgate(t, e.Cfg, o, true)
}

// StartVipgateNoInventory is StartVipgate for a controller whose inventory
// cannot load yet: it does not wait for one.
func (e *Env) StartVipgateNoInventory(t testing.TB, o operator.Options) *operator.Operator {
	t.Helper()
	op, _ := e.startVipgate(t, e.Cfg, o, false)
	return op
}

// StartVipgateAs is StartVipgate with the identity (rest config) vipgate
// uses towards the API server, e.g. a user with narrower RBAC.
func (e *Env) StartVipgateAs(t testing.TB, cfg *rest.Config, o operator.Options) *operator.Operator {
	t.Helper()
	op, _ := e.startVipgate(t, cfg, o, true)
	return op
}

func (e *Env) startVipgate(t testing.TB, cfg *rest.Config, o operator.Options, loadInventory bool) (*operator.Operator, func()) {
	t.Helper()
	if o.Settings == nil {
		o.Settings = DemoSettings(t, "127.0.0.1:1")
	}
	// A caller may serve on another port (a second replica the API server does not call).
	if o.WebhookPort == 0 {
		o.WebhookPort = e.WebhookPort
	}
	o.WebhookHost, o.WebhookCertDir = e.WebhookHost, e.CertDir
	if o.MetricsAddr == "" {
		o.MetricsAddr = "0"
	}
	if o.Namespace == "" {
		o.Namespace = "vipgate-system"
	}
	// controller-runtime refuses two controllers with one name in a process; tests
	// start managers repeatedly, so each gets its own leader ID and name suffix.
	seq := strconv.FormatInt(managerSeq.Add(1), 10)
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = "vipgate-test-" + seq
	}
	ctx, cancel := context.WithCancel(context.Background())
	ctx = ctrl.LoggerInto(ctx, Logger())
	op, err := operator.New(ctx, cfg, o)
	if err != nil {
		cancel()
		t.Fatalf("building vipgate: %v", err)
	}
	mgr := op.Manager
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("vipgate stopped with: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("vipgate did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	if err := e.waitForWebhook(ctx, o.WebhookPort, 60*time.Second); err != nil {
		t.Fatalf("vipgate webhook server: %v", err)
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatalf("vipgate caches did not sync")
	}
	if op.Inventory != nil && loadInventory {
		// Tests start from a loaded inventory so admission results do not depend on timing.
		if err := op.Inventory.Refresh(ctx); err != nil {
			t.Fatalf("loading the controller inventory: %v", err)
		}
	}
	return op, stop
}

// waitForWebhook dials the webhook server with the CA the API server trusts.
func (e *Env) waitForWebhook(ctx context.Context, port int, limit time.Duration) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CAData)
	addr := net.JoinHostPort(e.WebhookHost, strconv.Itoa(port))
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		d := tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: e.WebhookHost, MinVersion: tls.VersionTLS12}}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("not serving on %s after %s: %v", addr, limit, last)
}

// Logger is vipgate's logger in tests: silent unless VIPGATE_TEST_LOG=1, because
// managers keep logging after a test has finished and testing.T forbids that.
func Logger() logr.Logger {
	if os.Getenv("VIPGATE_TEST_LOG") == "1" {
		return zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true))
	}
	return logr.Discard()
}
