// Package harness runs vipgate's integration and end-to-end tests on a real
// control plane: kube-apiserver and etcd built by the project (hack/envtest),
// the project's CRDs installed, and vipgate's webhooks registered so that the
// API server calls them over TLS.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/internal/freeport"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/webhooks"
)

// K8sVersion is the Kubernetes release the envtest binaries are built from.
const K8sVersion = "1.37.1"

// Env is a running control plane with vipgate's webhook configurations installed.
type Env struct {
	Env            *envtest.Environment
	Cfg            *rest.Config
	Client         client.Client
	Root           string
	AssetsDir      string
	KubeconfigPath string
	// WebhookHost, WebhookPort and CertDir are where vipgate must serve its
	// webhooks for the installed configurations to reach it.
	WebhookHost string
	WebhookPort int
	CertDir     string
	// CAData signs the serving certificate in CertDir.
	CAData []byte
}

// Options shape the installed webhook configurations.
type Options struct {
	// Webhooks to register; webhooks.Configurations with demo options when nil.
	Webhooks *webhooks.ConfigOptions
	// ExtraCRDDirs are installed besides vipgate's own CRDs.
	ExtraCRDDirs []string
	// CertManagerCRDs installs the pinned cert-manager's CRDs too
	// (CertManagerCRDDir), for tests whose objects refer to Certificates.
	CertManagerCRDs bool
}

// RepoRoot finds the repository root from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/vipgate/vipgate\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repository root (go.mod of github.com/vipgate/vipgate) not found above the working directory")
		}
		dir = parent
	}
}

// Assets returns the folder with kube-apiserver, etcd and kubectl, building
// them (once, cached by version) when they are missing.
func Assets(root string) (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cmd := exec.Command("bash", filepath.Join(root, "hack/envtest/build.sh"))
	cmd.Env = append(os.Environ(), "K8S_VERSION="+K8sVersion)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building envtest binaries: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// DefaultWebhookOptions routes Services with no class or AKO's class and
// Ingresses of class avi-lb (the default class) to vipgate, as the demo does.
func DefaultWebhookOptions() webhooks.ConfigOptions {
	return webhooks.ConfigOptions{
		Namespace:           "vipgate-system",
		ServiceName:         "vipgate-webhook",
		DefaultLBController: true,
		IngressClasses:      []string{"avi-lb"},
		DefaultIngressClass: true,
	}
}

// DefaultIngressClassCondition returns conds with the Ingress webhooks' class
// condition (webhooks.IngressConditionName, the one ClassSync rewrites) put
// back to DefaultWebhookOptions' and every other condition kept.
func DefaultIngressClassCondition(conds []admv1.MatchCondition) []admv1.MatchCondition {
	want := DefaultWebhookOptions().IngressMatchConditions()[0]
	out := slices.Clone(conds)
	for i := range out {
		if out[i].Name == want.Name {
			out[i] = want
			return out
		}
	}
	return append([]admv1.MatchCondition{want}, out...)
}

// Start starts a control plane. Call Stop when done (TestMain).
func Start(o Options) (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := Assets(root)
	if err != nil {
		return nil, err
	}
	wo := DefaultWebhookOptions()
	if o.Webhooks != nil {
		wo = *o.Webhooks
	}
	// Service-style client configs: envtest rewrites them to its local TLS address
	// and CA, so the API server calls the webhook over TLS exactly as in a cluster.
	wo.BaseURL = ""
	mutating, validating := webhooks.Configurations(wo)
	crdDirs := append([]string{filepath.Join(root, "crds", "yaml")}, o.ExtraCRDDirs...)
	if o.CertManagerCRDs {
		dir, err := CertManagerCRDDir()
		if err != nil {
			return nil, err
		}
		crdDirs = append(crdDirs, dir)
	}
	// Every vipgate a test starts binds this port again, some minutes
	// apart: envtest's own choice would come from the ephemeral range.
	webhookPort, err := freeport.Loopback()
	if err != nil {
		return nil, err
	}
	te := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     crdDirs,
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks:   []*admv1.MutatingWebhookConfiguration{mutating},
			ValidatingWebhooks: []*admv1.ValidatingWebhookConfiguration{validating},
			LocalServingHost:   "127.0.0.1",
			LocalServingPort:   webhookPort,
		},
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	te.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	cfg, err := te.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		_ = te.Stop()
		return nil, err
	}
	kc := filepath.Join(te.WebhookInstallOptions.LocalServingCertDir, "kubeconfig")
	if err := os.WriteFile(kc, te.KubeConfig, 0o600); err != nil {
		_ = te.Stop()
		return nil, err
	}
	return &Env{
		Env: te, Cfg: cfg, Client: c, Root: root, AssetsDir: assets, KubeconfigPath: kc,
		WebhookHost: te.WebhookInstallOptions.LocalServingHost,
		WebhookPort: te.WebhookInstallOptions.LocalServingPort,
		CertDir:     te.WebhookInstallOptions.LocalServingCertDir,
		CAData:      te.WebhookInstallOptions.LocalServingCAData,
	}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.Env.Stop() }

// Kubectl runs the project's kubectl (the same release as the API server, to
// avoid version skew with an older one on PATH) and returns what a user would
// see: stdout and stderr combined.
func (e *Env) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.AssetsDir, "kubectl"), append([]string{"--kubeconfig", e.KubeconfigPath}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Main starts a control plane for a test package, runs its tests and stops it.
func Main(m *testing.M, o Options, set func(*Env)) {
	ctrl.SetLogger(Logger())
	session.SilenceSDKInfoLogs()
	env, err := Start(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
	set(env)
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "harness: stopping:", err)
	}
	os.Exit(code)
}

// ClusterID is the identity vipgate derives for this control plane (the
// kube-system Namespace's UID), the value of its cluster identity marker.
func (e *Env) ClusterID(t testing.TB) string {
	t.Helper()
	id, err := operator.ClusterID(context.Background(), e.Client)
	if err != nil {
		t.Fatalf("cluster identity: %v", err)
	}
	return id
}
