package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/tests/harness"
)

// cluster is one Kubernetes cluster under test: its own API server, its
// vipgate replicas (processes) behind the webhook fan-in, and echo backends
// standing in for its pods.
type cluster struct {
	idx      int
	lay      layout
	env      *harness.Env
	c        client.Client
	s        *config.Settings
	replicas []*replica
	fan      *fanIn
	echos    []*echo.Server
	echoPort int

	wOnce sync.Once
	w     *writer
}

// startCluster starts cluster idx: API server, namespaces, IngressClasses,
// echo backends and n vipgate replicas with leader election, and waits
// until the API server calls the webhooks.
func (r *run) startCluster(t *testing.T, idx, n int) (*cluster, error) {
	lay := r.layouts[idx]
	env, err := harness.Start(harness.Options{})
	if err != nil {
		return nil, fmt.Errorf("%s API server: %w", lay.Name, err)
	}
	cl := &cluster{idx: idx, lay: lay, env: env, c: env.Client}
	r.cleanup(func() {
		if err := env.Stop(); err != nil {
			r.logf("stopping the %s API server: %v", lay.Name, err)
		}
	})
	if cl.s, err = lay.settings(r.ctl.addr()); err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := createBase(ctx, cl.c, true); err != nil {
		return nil, err
	}
	names := make([]string, echoCount)
	for i := range names {
		names[i] = fmt.Sprintf("%s-pod-%d", lay.Name, i)
	}
	cl.echos = harness.StartEchos(t, 0, names...)
	cl.echoPort = cl.echos[0].Port()
	args, envv, err := r.processConfig(lay.Name, lay.settingsYAML(r.ctl.addr()), env)
	if err != nil {
		return nil, err
	}
	for i := range n {
		rep, err := newReplica(fmt.Sprintf("%s-r%d", lay.Name, i), r.dir, envv, args)
		if err != nil {
			return nil, err
		}
		cl.replicas = append(cl.replicas, rep)
	}
	if cl.fan, err = newFanIn(fmt.Sprintf("%s:%d", env.WebhookHost, env.WebhookPort)); err != nil {
		return nil, fmt.Errorf("webhook fan-in: %w", err)
	}
	r.cleanup(cl.fan.close)
	var addrs []string
	for _, rep := range cl.replicas {
		addrs = append(addrs, rep.addr())
	}
	cl.fan.setBackends(addrs)
	r.cleanup(func() {
		for _, rep := range cl.replicas {
			rep.kill()
		}
	})
	for _, rep := range cl.replicas {
		if err := rep.start(r.bin); err != nil {
			return nil, err
		}
	}
	for _, rep := range cl.replicas {
		if err := rep.waitServing(2 * time.Minute); err != nil {
			return nil, err
		}
	}
	if err := waitWebhooks(ctx, cl.c); err != nil {
		return nil, fmt.Errorf("%s: %w", lay.Name, err)
	}
	return cl, nil
}

// processConfig writes a vipgate settings file and credentials folder and
// returns the flags and environment of its processes.
func (r *run) processConfig(name, settingsYAML string, env *harness.Env) ([]string, []string, error) {
	dir := filepath.Join(r.dir, name+"-config")
	if err := os.MkdirAll(filepath.Join(dir, "credentials"), 0o700); err != nil {
		return nil, nil, err
	}
	settings := filepath.Join(dir, "settings.yaml")
	if err := os.WriteFile(settings, []byte(settingsYAML), 0o600); err != nil {
		return nil, nil, err
	}
	creds := harness.SimCredentials(r.sim)
	for k, v := range map[string]string{"username": creds.Username, "password": creds.Password, "certificateAuthorityData": creds.CertificateAuthorityData} {
		if err := os.WriteFile(filepath.Join(dir, "credentials", k), []byte(v), 0o600); err != nil {
			return nil, nil, err
		}
	}
	args := []string{"--settings", settings, "--credentials-dir", filepath.Join(dir, "credentials"),
		"--namespace", vipgateNamespace, "--webhook-cert-dir", env.CertDir, "--leader-elect=true",
		"--inventory-interval", "15s", "--controller-connect-timeout", "5m"}
	return args, []string{"KUBECONFIG=" + env.KubeconfigPath}, nil
}

// createBase creates vipgate's namespace and, unless bare, the universe's
// namespaces (selected) and IngressClasses.
func createBase(ctx context.Context, c client.Client, full bool) error {
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vipgateNamespace}}}
	if full {
		for _, ns := range append(slices.Clone(namespaces), scenarioNamespaces...) {
			objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{selectorKey: selectorValue}}})
		}
		objs = append(objs,
			&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: ingressClass,
				Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
				Spec: networkingv1.IngressClassSpec{Controller: ownership.LBClass}},
			&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: otherIngressClass},
				Spec: networkingv1.IngressClassSpec{Controller: otherClass}})
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// waitWebhooks waits until the API server calls vipgate: a dry-run Service
// with an unparsable requested VIP is refused by vipgate.
func waitWebhooks(ctx context.Context, c client.Client) error {
	probe := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-probe", Namespace: namespaces[0],
			Annotations: map[string]string{"ako.vmware.com/load-balancer-ip": "not-an-ip"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 1}}},
	}
	deadline := time.Now().Add(time.Minute)
	var last error
	for time.Now().Before(deadline) {
		err := c.Create(ctx, probe.DeepCopy(), client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), "vipgate") {
			return nil
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return errors.Join(fmt.Errorf("the API server did not start calling vipgate's webhooks"), last)
}

// leader returns the index of the replica holding the lease, or -1.
func (cl *cluster) leader(ctx context.Context) int {
	for i, rep := range cl.replicas {
		if rep.leader(ctx) {
			return i
		}
	}
	return -1
}

// awaitLeader waits (bounded) until a replica holds the lease.
func (cl *cluster) awaitLeader(ctx context.Context, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	for {
		if i := cl.leader(ctx); i >= 0 || time.Now().After(deadline) {
			return i
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// echoNames maps endpoint indexes to the echo backends' names.
func (cl *cluster) echoNames(eps []int) []string {
	out := make([]string, 0, len(eps))
	for _, i := range eps {
		out = append(out, cl.echos[i].Name())
	}
	return out
}

// impostor is the scenario's second cluster with the first one's name: a
// bare API server (no Services, nothing of its own) and one vipgate.
type impostor struct {
	env *harness.Env
	rep *replica
}

// startImpostorEnv starts the impostor's bare API server (set-up does it
// alongside the clusters' when the run has an impostor step).
func (r *run) startImpostorEnv() error {
	env, err := harness.Start(harness.Options{})
	if err != nil {
		return fmt.Errorf("impostor API server: %w", err)
	}
	r.cleanup(func() { _ = env.Stop() })
	if err := createBase(context.Background(), env.Client, false); err != nil {
		return err
	}
	r.imp = &impostor{env: env}
	return nil
}

// runImpostor starts (the first time) the impostor's API server, then its
// vipgate process with cluster 0's settings, lets it lead for d and kills it.
func (r *run) runImpostor(d time.Duration) (string, error) {
	if r.imp == nil {
		if err := r.startImpostorEnv(); err != nil {
			return "", err
		}
	}
	if r.imp.rep == nil {
		env := r.imp.env
		lay := r.layouts[0]
		args, envv, err := r.processConfig("impostor", lay.settingsYAML(r.ctl.addr()), env)
		if err != nil {
			return "", err
		}
		rep, err := newReplica("impostor-"+lay.Name, r.dir, envv, args)
		if err != nil {
			return "", err
		}
		r.cleanup(rep.kill)
		r.imp.rep = rep
	}
	rep := r.imp.rep
	if err := rep.start(r.bin); err != nil {
		return "", err
	}
	defer rep.kill()
	if err := rep.waitServing(time.Minute); err != nil {
		return "did not start: " + err.Error(), nil
	}
	// It works once elected (a fresh lease: at once); start-up orphan
	// collection runs then.
	deadline := time.Now().Add(time.Minute)
	for !rep.leader(context.Background()) {
		if time.Now().After(deadline) {
			return "never elected", nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(d)
	return fmt.Sprintf("ran %s as leader", d), nil
}
