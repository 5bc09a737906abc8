package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CertManagerModule is the module whose CRDs tests install so the API server
// accepts Issuers and Certificates; go.mod pins its version.
const CertManagerModule = "github.com/cert-manager/cert-manager"

// CertManagerCRDDir is deploy/crds of the cert-manager module go.mod pins,
// for Options.ExtraCRDDirs. It returns an error rather than failing a test
// because TestMain, which has no testing.TB, calls it.
func CertManagerCRDDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", CertManagerModule).Output()
	if err != nil {
		return "", fmt.Errorf("locating the cert-manager module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
	if _, err := os.Stat(filepath.Join(dir, "cert-manager.io_certificates.yaml")); err != nil {
		return "", fmt.Errorf("cert-manager CRDs not found in %s: %v", dir, err)
	}
	return dir, nil
}
