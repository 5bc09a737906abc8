// Package certmanager runs vipgate's Ingress admission against a real
// kube-apiserver with cert-manager's CRDs installed (from the pinned
// cert-manager module), so a Certificate that will write an Ingress's TLS
// Secret turns a missing-Secret rejection into a warning.
package certmanager

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

// certManagerCRDs is deploy/crds of the cert-manager module go.mod pins; the
// module is already in the module cache because go.mod requires it.
func certManagerCRDs() (string, error) {
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
	dir, err := certManagerCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "certmanager:", err)
		os.Exit(1)
	}
	harness.Main(m, harness.Options{ExtraCRDDirs: []string{dir}}, func(e *harness.Env) { env = e })
}
