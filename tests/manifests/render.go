// Package manifests renders vipgate's Helm chart for tests: it builds the
// pinned helm with the Go toolchain (no other download path), renders the
// chart with given values, splits the output into objects, and locates the
// CRD files a test API server needs (vipgate's and the pinned cert-manager's).
// Its tests (package manifests_test) check the chart against the Go code.
package manifests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/vipgate/vipgate/tests/harness"
)

// HelmModule is the pinned helm, built from its Go module.
const HelmModule = "helm.sh/helm/v3/cmd/helm@v3.22.0"

// TestClusterName is the cluster name RenderChart sets unless told otherwise.
const TestClusterName = "chart-test"

// Defaults used by RenderChart; the kustomize base uses the same.
const (
	ReleaseName      = "vipgate"
	ReleaseNamespace = "vipgate-system"
)

// RepoRoot is the repository root (the folder of the main go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		t.Fatalf("not inside the vipgate module (go env GOMOD is %q)", mod)
	}
	return filepath.Dir(mod)
}

// ChartDir is the vipgate chart.
func ChartDir(t testing.TB) string {
	return filepath.Join(RepoRoot(t), "manifests", "charts", "vipgate")
}

// ChartCRDDir holds vipgate's CRDs as the chart ships them (a copy of crds/yaml).
func ChartCRDDir(t testing.TB) string { return filepath.Join(ChartDir(t), "crds") }

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// Helm returns the path of the pinned helm binary, building it on first use
// into .cache/tools (kept across runs; the first build downloads modules
// through the module proxy and takes a minute or two). If helm cannot be
// built the test fails, saying why: the manifest checks are never skipped.
func Helm(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	helmOnce.Do(func() { helmPath, helmErr = buildHelm(root) })
	if helmErr != nil {
		t.Fatalf("cannot build the pinned helm (%s) with the Go toolchain, so the chart cannot be checked: %v", HelmModule, helmErr)
	}
	return helmPath
}

func buildHelm(root string) (string, error) {
	version := HelmModule[strings.LastIndex(HelmModule, "@")+1:]
	dir := filepath.Join(root, ".cache", "tools", "helm-"+version)
	bin := filepath.Join(dir, "helm")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Install into a private folder and rename into place, so concurrent test
	// processes never see (or run) a half-written binary.
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", HelmModule)
	cmd.Dir = os.TempDir() // outside the main module: pkg@version builds in its own module context
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s: %v\n%s", HelmModule, err, tail(stderr.String(), 2000))
	}
	if err := os.Rename(filepath.Join(tmp, "helm"), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// RunHelm runs the pinned helm with args from the repository root and returns
// its standard output; a non-zero exit fails the test with helm's message.
func RunHelm(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := TryHelm(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// TryHelm is RunHelm for commands expected to fail: the error carries helm's stderr.
func TryHelm(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(Helm(t), args...)
	cmd.Dir = RepoRoot(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// RenderOptions control RenderChartWith.
type RenderOptions struct {
	// Values are --set pairs (key path -> value; helm parses true/false/numbers).
	Values map[string]string
	// ValuesFiles are passed with -f, in order, before Values.
	ValuesFiles []string
	// Namespace, ReleaseNamespace when empty.
	Namespace string
	// IncludeCRDs adds the chart's crds/ to the output.
	IncludeCRDs bool
	// APIVersions are extra capabilities (--api-versions), e.g. monitoring.coreos.com/v1/ServiceMonitor.
	APIVersions []string
}

// RenderChart renders the chart (release "vipgate" in "vipgate-system", no
// CRDs) with --set values and returns the YAML stream.
func RenderChart(t testing.TB, values map[string]string) []byte {
	t.Helper()
	return RenderChartWith(t, RenderOptions{Values: values})
}

// RenderChartWith renders the chart with full control over the options.
func RenderChartWith(t testing.TB, o RenderOptions) []byte {
	t.Helper()
	ns := o.Namespace
	if ns == "" {
		ns = ReleaseNamespace
	}
	args := []string{"template", ReleaseName, ChartDir(t), "--namespace", ns}
	if o.IncludeCRDs {
		args = append(args, "--include-crds")
	}
	for _, v := range o.APIVersions {
		args = append(args, "--api-versions", v)
	}
	// The chart requires a cluster name: a first values file gives one, which
	// later files and --set override.
	base := filepath.Join(t.TempDir(), "cluster-name.yaml")
	if err := os.WriteFile(base, []byte("AKOSettings:\n  clusterName: "+TestClusterName+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, "-f", base)
	for _, f := range o.ValuesFiles {
		args = append(args, "-f", f)
	}
	keys := make([]string, 0, len(o.Values))
	for k := range o.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--set", k+"="+o.Values[k])
	}
	return RunHelm(t, args...)
}

// Objects splits a rendered YAML stream into objects, skipping empty documents.
func Objects(t testing.TB, stream []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for i, doc := range splitDocuments(stream) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("rendered document %d is not YAML: %v\n%s", i, err, doc)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

func splitDocuments(stream []byte) [][]byte {
	var docs [][]byte
	var cur []string
	for _, line := range strings.Split(string(stream), "\n") {
		if strings.TrimRight(line, " ") == "---" {
			docs = append(docs, []byte(strings.Join(cur, "\n")))
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	return append(docs, []byte(strings.Join(cur, "\n")))
}

// CertManagerCRDFiles are the CRD files of the cert-manager module pinned in
// go.mod (deploy/crds/*.yaml in the module zip; plain YAML, not templates), for
// a test API server that must accept Issuer and Certificate objects. It
// downloads the module first, since nothing imports it; the folder comes from
// harness.CertManagerCRDDir, which the API-server tests use.
func CertManagerCRDFiles(t testing.TB) []string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", harness.CertManagerModule)
	cmd.Dir = RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("downloading the pinned cert-manager module: %v\n%s", err, out)
	}
	crds, err := harness.CertManagerCRDDir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(crds, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no *.yaml in %s (err %v)", crds, err)
	}
	sort.Strings(files)
	return files
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
