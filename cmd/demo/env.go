package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/certs"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/internal/freeport"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

const (
	vipgateNamespace = "vipgate-system"
	webhookService   = "vipgate-webhook"
	// demoServiceRange is the API server's Service ClusterIP range.
	demoServiceRange = "10.96.0.0/16"
)

// demo holds the running pieces so they can be stopped in reverse order.
type demo struct {
	bin, dir    string
	te          *envtest.Environment
	c           client.Client
	kubeconfig  string
	kubectlPath string
	aviAddr     string
	procs       []*exec.Cmd
	cleaned     bool
}

func (d *demo) up(ctx context.Context) error {
	for _, b := range []string{"vipgate", "avisim"} {
		if _, err := os.Stat(filepath.Join(d.bin, b)); err != nil {
			return fmt.Errorf("%s not found in %s: run make build first", b, d.bin)
		}
	}
	if err := os.RemoveAll(d.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	assets, err := harness.Assets(root)
	if err != nil {
		return err
	}
	d.kubectlPath = filepath.Join(assets, "kubectl")

	gatewayCRDs, err := harness.GatewayAPICRDDir()
	if err != nil {
		return err
	}
	step("Starting kube-apiserver and etcd (v%s, built by the project), with Gateway API's standard CRDs", harness.K8sVersion)
	d.te = &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        []string{filepath.Join(root, "crds", "yaml"), gatewayCRDs},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 2 * time.Minute,
	}
	// envtest's default Service range is a /24, which refuses creates after
	// about 250 Services; a /16 holds 65,000, so a burst of 10,000 can be tried here.
	d.te.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", demoServiceRange)
	cfg, err := d.te.Start()
	if err != nil {
		return fmt.Errorf("starting the API server: %w", err)
	}
	if d.c, err = client.New(cfg, client.Options{Scheme: operator.Scheme()}); err != nil {
		return err
	}
	d.kubeconfig = filepath.Join(d.dir, "kubeconfig")
	if err := os.WriteFile(d.kubeconfig, d.te.KubeConfig, 0o600); err != nil {
		return err
	}

	step("Starting avisim, the simulated Avi Controller (demo seed: cloud Default-Cloud, networks vip-net-a and vip-net-b)")
	if d.aviAddr, err = d.startAvisim(ctx); err != nil {
		return err
	}

	step("Issuing the webhook certificates: CA -> serving certificate, laid out as cert-manager writes its Secret")
	port, err := freeport.Loopback()
	if err != nil {
		return err
	}
	certDir := filepath.Join(d.dir, "webhook-certs")
	caPEM, err := d.issueCertificates(ctx, certDir)
	if err != nil {
		return err
	}
	healthPort, err := freeport.Loopback()
	if err != nil {
		return err
	}

	step("Starting vipgate (settings: clusterName demo, vipNetworkList [vip-net-a], default L4 and L7 controller)")
	if err := d.startVipgate(ctx, port, healthPort, certDir); err != nil {
		return err
	}
	if err := waitReady(ctx, port, healthPort, caPEM); err != nil {
		return err
	}

	step("Registering vipgate's webhooks with the CA bundle injected (as cert-manager's cainjector does)")
	opts := harness.DefaultWebhookOptions()
	opts.BaseURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	opts.CABundle = caPEM
	opts.GatewayClasses = []string{"avi-lb"}
	mutating, validating := webhooks.Configurations(opts)
	if err := d.c.Create(ctx, mutating); err != nil {
		return err
	}
	if err := d.c.Create(ctx, validating); err != nil {
		return err
	}
	class := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "avi-lb", Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec:       networkingv1.IngressClassSpec{Controller: webhooks.LBClass},
	}
	if err := d.c.Create(ctx, class); err != nil {
		return err
	}
	gatewayClass := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: webhooks.LBClass}}
	if err := d.c.Create(ctx, gatewayClass); err != nil {
		return err
	}
	// The API server picks up new webhook configurations asynchronously; wait
	// until a request that must be denied is denied.
	return d.waitWebhooksActive(ctx)
}

// step prints a step's heading and starts timing it (closing the previous one).
func step(format string, a ...any) {
	clock.begin(fmt.Sprintf(format, a...))
	fmt.Printf("\n==> "+format+"\n", a...)
}

// start runs a binary with its output in a log file under the demo folder.
func (d *demo) start(ctx context.Context, name string, env []string, args ...string) (*exec.Cmd, *os.File, error) {
	logf, err := os.Create(filepath.Join(d.dir, name+".log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(d.bin, name), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, err
	}
	d.procs = append(d.procs, cmd)
	return cmd, logf, nil
}

func (d *demo) startAvisim(ctx context.Context) (string, error) {
	// vipgate verifies the controller's certificate: avisim writes the CA of
	// its self-signed one, which goes into the credentials.
	_, logf, err := d.start(ctx, "avisim", nil, "--seed", "demo", "--listen", "127.0.0.1:0", "--ca-file", filepath.Join(d.dir, "avisim-ca.crt"))
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		f, err := os.Open(logf.Name())
		if err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if addr, ok := strings.CutPrefix(sc.Text(), "avisim listening on https://"); ok {
					f.Close()
					fmt.Printf("    avisim listening on https://%s\n", addr)
					return addr, nil
				}
			}
			f.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("avisim did not start; see %s", logf.Name())
}

// issueCertificates makes a CA and a serving certificate for 127.0.0.1, writes
// them as ca.crt/tls.crt/tls.key (the mounted-Secret layout) and stores the
// same Secret in the API server, as cert-manager would.
func (d *demo) issueCertificates(ctx context.Context, dir string) ([]byte, error) {
	now := time.Now()
	ca, err := certs.NewCA("vipgate-demo-ca", now, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	names := append([]string{"127.0.0.1", "localhost"}, certs.ServiceDNSNames(webhookService, vipgateNamespace)...)
	serving, err := certs.NewServing(ca, names, now, 90*24*time.Hour)
	if err != nil {
		return nil, err
	}
	if err := certs.WriteDir(dir, ca.CertPEM, serving); err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vipgateNamespace}}
	if err := d.c.Create(ctx, ns); err != nil {
		return nil, err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: webhookService + "-tls", Namespace: vipgateNamespace,
			Annotations: map[string]string{"cert-manager.io/issuer-name": "vipgate-ca", "cert-manager.io/issuer-kind": "Issuer"}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"ca.crt": ca.CertPEM, "tls.crt": serving.CertPEM, "tls.key": serving.KeyPEM},
	}
	if err := d.c.Create(ctx, secret); err != nil {
		return nil, err
	}
	fmt.Printf("    Secret %s/%s: ca.crt, tls.crt, tls.key (files in %s)\n", vipgateNamespace, secret.Name, dir)
	return ca.CertPEM, nil
}

func (d *demo) startVipgate(ctx context.Context, port, healthPort int, certDir string) error {
	settings := filepath.Join(d.dir, "settings.yaml")
	if err := os.WriteFile(settings, fmt.Appendf(nil, harness.DemoSettingsYAML, d.aviAddr), 0o600); err != nil {
		return err
	}
	ca, err := os.ReadFile(filepath.Join(d.dir, "avisim-ca.crt"))
	if err != nil {
		return fmt.Errorf("avisim's CA certificate: %w", err)
	}
	// Laid out as kubelet mounts the credentials Secret.
	creds := filepath.Join(d.dir, "credentials")
	if err := config.WriteCredentialsDir(creds, config.Credentials{Username: "admin", Password: "admin", CertificateAuthorityData: string(ca)}); err != nil {
		return err
	}
	_, _, err = d.start(ctx, "vipgate", []string{"KUBECONFIG=" + d.kubeconfig},
		"--settings", settings, "--credentials-dir", creds, "--namespace", vipgateNamespace,
		"--webhook-host", "127.0.0.1", "--webhook-port", strconv.Itoa(port), "--webhook-cert-dir", certDir,
		"--metrics-bind-address", "0", "--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", healthPort),
		"--leader-elect=false")
	return err
}

// waitReady waits for vipgate's /readyz and a TLS handshake with the demo CA.
func waitReady(ctx context.Context, port, healthPort int, caPEM []byte) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
				if err == nil {
					fmt.Printf("    vipgate ready; webhook serving TLS (%s) on 127.0.0.1:%d\n", tls.VersionName(conn.ConnectionState().Version), port)
					return conn.Close()
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("vipgate did not become ready; see .demo/vipgate.log")
}

func (d *demo) waitWebhooksActive(ctx context.Context) error {
	probe := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-probe", Namespace: "default"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: "not-an-ip", Ports: []corev1.ServicePort{{Port: 1}}},
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		err := d.c.Create(ctx, probe, client.DryRunAll)
		if err != nil && strings.Contains(err.Error(), "vipgate") {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the API server did not start calling vipgate's webhooks")
}

func (d *demo) cleanup() {
	if d.cleaned {
		return
	}
	d.cleaned = true
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
		if p.Process != nil {
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			}
		}
	}
	if d.te != nil {
		_ = d.te.Stop()
	}
}

// simClient is an HTTP client for avisim's admin endpoints that verifies
// avisim's certificate with the CA avisim wrote at start (avisim-ca.crt),
// as vipgate itself does.
func (d *demo) simClient() (*http.Client, error) {
	ca, err := os.ReadFile(filepath.Join(d.dir, "avisim-ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("avisim's CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("avisim's CA certificate: no PEM certificate in %s", filepath.Join(d.dir, "avisim-ca.crt"))
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}
