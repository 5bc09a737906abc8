package harness

// CertManagerModule is the module whose CRDs tests install so the API server
// accepts Issuers and Certificates; go.mod pins its version.
const CertManagerModule = "github.com/cert-manager/cert-manager"

// CertManagerCRDDir is deploy/crds of the cert-manager module go.mod pins,
// for Options.ExtraCRDDirs. It returns an error rather than failing a test
// because TestMain, which has no testing.TB, calls it.
func CertManagerCRDDir() (string, error) {
	return moduleFile(CertManagerModule, "deploy/crds", "cert-manager.io_certificates.yaml")
}
