package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GatewayAPIModule is the module whose standard-channel CRDs tests install
// so the API server serves Gateway API objects; go.mod pins its version.
const GatewayAPIModule = "sigs.k8s.io/gateway-api"

// GatewayAPICRDDir is config/crd/standard of the Gateway API module go.mod
// pins, for Options.ExtraCRDDirs.
func GatewayAPICRDDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", GatewayAPIModule).Output()
	if err != nil {
		return "", fmt.Errorf("locating the Gateway API module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	if _, err := os.Stat(filepath.Join(dir, "gateway.networking.k8s.io_gateways.yaml")); err != nil {
		return "", fmt.Errorf("Gateway API CRDs not found in %s: %v", dir, err)
	}
	return dir, nil
}
