package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/rules"
)

// runCommand runs the real vipgate binary (this test binary re-executed, see
// TestMain) with stdin, returning stdout, stderr and the exit status. Args
// must not contain spaces.
func runCommand(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VIPGATE_RUN_MAIN=1", "VIPGATE_ARGS="+strings.Join(args, " "))
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running vipgate: %v", err)
	}
	return out.String(), errOut.String(), code
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	e2eUser     = "ci-reader"
	e2ePassword = "pw-Zq8v1xK3"
)

// startController serves avisim's demo controller over TLS with a VsVip
// another AKO made on 10.50.0.30, and writes the Helm values and the
// credentials folder (with the server's CA) the commands read.
func startController(t *testing.T, dir string) (values, creds string) {
	t.Helper()
	sim, err := avisim.New(avisim.Options{Seed: avisim.DemoSeed(), Username: e2eUser, Password: e2ePassword})
	if err != nil {
		t.Fatal(err)
	}
	srv := sim.StartTLS()
	t.Cleanup(sim.Close)
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	cs := config.Defaults().ControllerSettings
	cs.ControllerHost = sim.Host()
	c, err := session.New(context.Background(), cs, config.Credentials{Username: e2eUser, Password: e2ePassword, CertificateAuthorityData: ca}, session.Options{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	vsvip := map[string]any{"name": "legacy-vip", "cloud_ref": "/api/cloud/?name=Default-Cloud",
		"markers": []any{map[string]any{"key": "created_by", "values": []any{"ako-prod"}}},
		"vip": []any{map[string]any{"vip_id": "1", "ip_address": map[string]any{"addr": "10.50.0.30", "type": "V4"},
			"ipam_network_subnet": map[string]any{"network_ref": "/api/network/?name=vip-net-a"}}}}
	if err := c.Create(context.Background(), "vsvip", vsvip, "", nil); err != nil {
		t.Fatal(err)
	}

	// A Helm values file, as kept next to the chart: AKO's sections, the
	// chart's own, and keys vipgate does not know.
	values = writeFile(t, filepath.Join(dir, "values.yaml"), `replicaCount: 1
AKOSettings:
  clusterName: demo
  cniPlugin: ""
  someFutureAKOKey: true
NetworkSettings:
  vipNetworkList:
    - networkName: vip-net-a
ControllerSettings:
  controllerHost: "`+sim.Host()+`"
avicredentials:
  username: ""
vipgate:
  ingressClass:
    name: avi-lb
`)
	creds = filepath.Join(dir, "creds")
	writeFile(t, filepath.Join(creds, "username"), e2eUser)
	writeFile(t, filepath.Join(creds, "password"), e2ePassword)
	writeFile(t, filepath.Join(creds, "certificateAuthorityData"), ca)
	return values, creds
}

const goodSet = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  loadBalancerIP: 10.50.0.20
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: internal, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: ako.vmware.com/v1beta1
kind: AviInfraSetting
metadata: {name: net-b}
spec:
  network:
    vipNetworks: [{networkName: vip-net-b}]
`

// badSet holds one mistake of each kind that needs the controller, plus two
// Services that conflict only with each other.
const badSet = `apiVersion: v1
kind: Service
metadata: {name: taken, namespace: shop}
spec:
  type: LoadBalancer
  loadBalancerIP: 10.50.0.30
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: a-web, namespace: team}
spec: {type: LoadBalancer, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: team-a}
spec: {type: LoadBalancer, ports: [{port: 80}]}
`

const badIngress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules: [{host: shop.example.com}]
---
apiVersion: ako.vmware.com/v1beta1
kind: AviInfraSetting
metadata: {name: multi}
spec:
  network:
    vipNetworks: [{networkName: vip-net-a}, {networkName: vip-net-b}]
`

// TestCheckAgainstAvisim runs vipgate inventory export against avisim over
// TLS and vipgate check with its output, as a CI job would.
func TestCheckAgainstAvisim(t *testing.T) {
	dir := t.TempDir()
	values, creds := startController(t, dir)

	inv, stderr, code := runCommand(t, "", "inventory", "export", "--settings="+values, "--credentials-dir="+creds)
	if code != 0 {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	if want := `inventory of cloud "Default-Cloud": 2 networks, 2 SE groups, 1 VIPs in use, 1 VsVips`; !strings.Contains(stderr, want) {
		t.Errorf("export's stderr lacks %q:\n%s", want, stderr)
	}
	if strings.Contains(stderr, "not verified") {
		t.Errorf("the controller's certificate was verified with certificateAuthorityData:\n%s", stderr)
	}
	for _, secret := range []string{e2ePassword, "BEGIN CERTIFICATE"} {
		if strings.Contains(inv, secret) || strings.Contains(stderr, secret) {
			t.Errorf("the export shows credentials (%q)", secret)
		}
	}
	for _, want := range []string{`"kind": "VipgateInventory"`, `"ip": "10.50.0.30"`, `"vsVip": "legacy-vip"`, `"createdBy": "ako-prod"`, `"10.50.0.10-10.50.0.200"`} {
		if !strings.Contains(inv, want) {
			t.Errorf("inventory lacks %s:\n%s", want, inv)
		}
	}
	// Same controller state, same file (but the time it was read).
	again, _, _ := runCommand(t, "", "inventory", "export", "--settings="+values, "--credentials-dir="+creds)
	stripTime := func(s string) string {
		return strings.Join(slices.DeleteFunc(strings.Split(s, "\n"), func(l string) bool { return strings.Contains(l, `"fetchedAt"`) }), "\n")
	}
	if stripTime(again) != stripTime(inv) {
		t.Errorf("two exports differ:\n%s\n---\n%s", inv, again)
	}
	invPath := writeFile(t, filepath.Join(dir, "inventory.json"), inv)
	set := filepath.Join(dir, "deploy")
	writeFile(t, filepath.Join(set, "good.yaml"), goodSet)

	t.Run("a good set passes", func(t *testing.T) {
		out, stderr, code := runCommand(t, "", "check", "--settings="+values, "--inventory="+invPath, "-f", set)
		if code != 0 || out != "2 objects checked, 0 refused, 0 warnings, 1 skipped\n" {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, stderr)
		}
		if !strings.Contains(stderr, `inventory: cloud "Default-Cloud" of controller `) || !strings.Contains(stderr, " ago)") {
			t.Errorf("stderr does not give the inventory's age:\n%s", stderr)
		}
	})

	t.Run("a bad set is refused with the webhook's messages", func(t *testing.T) {
		bad := writeFile(t, filepath.Join(dir, "bad", "services.yaml"), badSet)
		writeFile(t, filepath.Join(dir, "bad", "l7", "ingress.yml"), badIngress)
		out, stderr, code := runCommand(t, "", "check", "--settings="+values, "--inventory="+invPath, "-f", filepath.Join(dir, "bad"), "-f", set)
		l7 := filepath.Join(dir, "bad", "l7", "ingress.yml")
		want := []string{
			l7 + `:1: Ingress.networking.k8s.io "shop" is invalid: spec.tls[0].secretName: Invalid value: "shop-tls": Secret shop/shop-tls does not exist; create it (kubectl create secret tls shop-tls -n shop --cert=<file> --key=<file>), or annotate the Ingress with cert-manager.io/cluster-issuer or cert-manager.io/issuer so cert-manager issues it`,
			l7 + `:8: AviInfraSetting.ako.vmware.com "multi" is invalid: spec.network.vipNetworks[1]: Invalid value: "vip-net-b": cloud "Default-Cloud" is of type CLOUD_VCENTER, which places one VIP per virtual service; list a single VIP network (several are supported only on CLOUD_AWS clouds)`,
			bad + `:1: Service "taken" is invalid: spec.loadBalancerIP: Invalid value: "10.50.0.30": is already allocated on the controller to VsVip "legacy-vip" (created_by "ako-prod"), which this cluster does not manage; pick another address, or leave it unset to get one allocated`,
			bad + `:9: Service "a-web" is invalid: metadata.name: Invalid value: "a-web": its Avi name "demo--team-a-web" is already used by Service team-a/web (Avi names join namespace and name with "-", so different objects can meet); rename this Service, or that one`,
			bad + `:14: Service "web" is invalid: metadata.name: Invalid value: "web": its Avi name "demo--team-a-web" is already used by Service team/a-web (Avi names join namespace and name with "-", so different objects can meet); rename this Service, or that one`,
			"7 objects checked, 5 refused, 0 warnings, 1 skipped",
		}
		if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); code != 1 || !slices.Equal(got, want) {
			t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, strings.Join(want, "\n"), stderr)
		}
	})

	t.Run("stdin, and no inventory: the static checks with the webhook's warning", func(t *testing.T) {
		out, stderr, code := runCommand(t, badSet, "check", "--settings="+values, "-f", "-", "-v")
		want := []string{
			"Warning: " + rules.WarnInventoryNotLoaded,
			"<stdin>:1: Service shop/taken admitted",
			`<stdin>:9: Service "a-web" is invalid: metadata.name: Invalid value: "a-web": its Avi name "demo--team-a-web" is already used by Service team-a/web (Avi names join namespace and name with "-", so different objects can meet); rename this Service, or that one`,
			`<stdin>:14: Service "web" is invalid: metadata.name: Invalid value: "web": its Avi name "demo--team-a-web" is already used by Service team/a-web (Avi names join namespace and name with "-", so different objects can meet); rename this Service, or that one`,
			"3 objects checked, 2 refused, 1 warnings, 0 skipped",
		}
		if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); code != 1 || !slices.Equal(got, want) {
			t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, strings.Join(want, "\n"), stderr)
		}
		if want := "ignored keys: AKOSettings.someFutureAKOKey, avicredentials, replicaCount, vipgate"; !strings.Contains(stderr, want) {
			t.Errorf("-v does not list the ignored keys (%q):\n%s", want, stderr)
		}
	})

	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, tc := range []struct {
			name, stdin string
			args        []string
			want        string
		}{
			{"no settings", "", []string{"check", "-f", set}, "vipgate check: --settings is required"},
			{"no manifests", "", []string{"check", "--settings=" + values}, "vipgate check: no manifests: name files or folders with -f (- for stdin)"},
			{"an unknown flag", "", []string{"check", "--bogus"}, "flag provided but not defined: -bogus"},
			{"a stray argument", "", []string{"check", "--settings=" + values, "deploy/"}, `vipgate check: unexpected argument "deploy/"; name manifests with -f`},
			{"invalid YAML", "kind: [", []string{"check", "--settings=" + values, "-f", "-"}, "vipgate check: <stdin>:1: invalid YAML: yaml: line 1: did not find expected node content"},
			{"a missing file", "", []string{"check", "--settings=" + values, "-f", filepath.Join(dir, "nope.yaml")}, "no such file or directory"},
			{"an old inventory", "", []string{"check", "--settings=" + values, "--inventory=" + invPath, "--max-inventory-age=1ns", "-f", set}, "older than --max-inventory-age 1ns; export it again"},
			{"not an inventory", "", []string{"check", "--settings=" + values, "--inventory=" + values, "-f", set}, "not a vipgate inventory file"},
			{"export without credentials", "", []string{"inventory", "export", "--settings=" + values}, "vipgate inventory export: --credentials-dir is required"},
			{"inventory without export", "", []string{"inventory"}, "vipgate inventory: the only subcommand is export (vipgate inventory export -h)"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				out, stderr, code := runCommand(t, tc.stdin, tc.args...)
				if code != 2 || !strings.Contains(stderr, tc.want) || out != "" {
					t.Errorf("exit %d, stderr:\n%s\nwant it to contain %q; stdout:\n%s", code, stderr, tc.want, out)
				}
			})
		}
	})

	t.Run("help", func(t *testing.T) {
		_, stderr, code := runCommand(t, "", "check", "-h")
		for _, want := range []string{"checked as a create into a cluster that holds all the\nother objects of the set", "--ingress-class", "Helm values file", "Exit status: 0 nothing refused"} {
			if code != 0 || !strings.Contains(stderr, want) {
				t.Errorf("check -h: exit %d, lacks %q:\n%s", code, want, stderr)
			}
		}
	})
}

// TestExportUnreachableController: a controller that cannot be read is exit 1, with no output.
func TestExportUnreachableController(t *testing.T) {
	dir := t.TempDir()
	values := writeFile(t, filepath.Join(dir, "values.yaml"), "AKOSettings: {clusterName: demo}\nControllerSettings: {controllerHost: \"127.0.0.1:1\"}\n")
	writeFile(t, filepath.Join(dir, "creds", "username"), "u")
	writeFile(t, filepath.Join(dir, "creds", "password"), e2ePassword)
	out, stderr, code := runCommand(t, "", "inventory", "export", "--settings="+values, "--credentials-dir="+filepath.Join(dir, "creds"), "--timeout=20s")
	if code != 1 || out != "" || !strings.Contains(stderr, "vipgate inventory export: reading the controller at 127.0.0.1:1:") || strings.Contains(stderr, e2ePassword) ||
		!strings.Contains(stderr, "no certificateAuthorityData in "+filepath.Join(dir, "creds")+": the controller's certificate is not verified") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, stderr)
	}
}
