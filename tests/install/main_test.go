// Package install checks what a user does on day one against a real
// kube-apiserver: the chart and the kustomize base are accepted by the API
// server (server-side dry run, with cert-manager's CRDs installed), vipgate's
// webhooks keep answering while their serving certificate and CA rotate, and
// the self-managed certificate Manager works on a real API server.
package install

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipgate/vipgate/tests/harness"
)

var env *harness.Env

// certManagerCRDDir is deploy/crds of the cert-manager module go.mod pins (the
// folder of manifests.CertManagerCRDFiles, which needs a testing.TB).
func certManagerCRDDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
	if err != nil {
		return "", fmt.Errorf("locating the cert-manager module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
	if _, err := os.Stat(filepath.Join(dir, "cert-manager.io_certificates.yaml")); err != nil {
		return "", fmt.Errorf("cert-manager CRDs not found in %s: %v", dir, err)
	}
	return dir, nil
}

func TestMain(m *testing.M) {
	dir, err := certManagerCRDDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "install:", err)
		os.Exit(1)
	}
	harness.Main(m, harness.Options{ExtraCRDDirs: []string{dir}}, func(e *harness.Env) { env = e })
}
