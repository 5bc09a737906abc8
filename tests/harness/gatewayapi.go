package harness

// GatewayAPIModule is the module whose standard-channel CRDs tests install
// so the API server serves Gateway API objects; go.mod pins its version.
const GatewayAPIModule = "sigs.k8s.io/gateway-api"

// GatewayAPICRDDir is config/crd/standard of the Gateway API module go.mod
// pins, for Options.ExtraCRDDirs.
func GatewayAPICRDDir() (string, error) {
	return moduleFile(GatewayAPIModule, "config/crd/standard", "gateway.networking.k8s.io_gateways.yaml")
}
