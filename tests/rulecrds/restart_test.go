package rulecrds

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestHostRuleSecretCertificateAndRestart: a HostRule's secret-type
// certificate becomes an SSLKeyAndCertificate vipgate builds from the
// Secret and serves on the SNI child; a restart's orphan collection keeps it
// and writes nothing.
func TestHostRuleSecretCertificateAndRestart(t *testing.T) {
	sim := harness.StartSim(t, seed(t))
	s := harness.DemoSettings(t, sim.Host())
	collected := make(chan error, 4)
	opts := operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour,
		InventoryInterval: time.Second, RuleRecheck: time.Second,
		OrphansCollected: func(_ []string, err error) { collected <- err }}
	_, stop := env.StartStoppableVipgate(t, opts)
	ensureClass(t)
	ns := newNamespace(t)
	backend(t, ns, "web", "10.6.0.1")
	host := "cert.rules.example.com"
	child := "demo--" + host
	secureIngress(t, ns, "shop", host)
	crt, key := harness.SelfSignedCert(t, host)
	env.CreateAndRemove(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rule-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}})
	mustApply(t, hostRuleYAML("v1beta1", ns, "shop", host, "tls:\n  sslKeyCertificate: {name: rule-tls, type: secret}\n  sslProfile: System-Standard"))
	ruleStatus(t, getHostRule(t, ns, "shop"), v1beta1.StatusAccepted)
	certName := child + "-hostrule"
	harness.Eventually(t, "the Secret's certificate on the SNI child", func() string {
		c := simObject(sim, "sslkeyandcertificate", certName)
		if c == nil || harness.Str(c, "certificate", "certificate") != string(crt) {
			return "no certificate " + certName
		}
		vs := simObject(sim, "virtualservice", child)
		refs, _ := vs["ssl_key_and_certificate_refs"].([]any)
		if len(refs) != 1 || refName(sim, "sslkeyandcertificate", refs[0]) != certName {
			return fmt.Sprintf("child certificates %v", refs)
		}
		return ""
	})
	if err := <-collected; err != nil {
		t.Fatalf("orphan collection at start: %v", err)
	}
	settle(t, sim)
	stop()
	sim.ResetCounts()
	env.StartVipgate(t, opts)
	if err := <-collected; err != nil {
		t.Fatalf("orphan collection after the restart: %v", err)
	}
	settle(t, sim)
	if simObject(sim, "sslkeyandcertificate", certName) == nil {
		t.Errorf("the restart collected %s", certName)
	}
	if w := sim.Writes(); w != 0 {
		t.Errorf("the restart wrote %d times (%v)", w, sim.Counts())
	}
}

// TestDuplicatesStoredWhileDown: two HostRules for one host stored while no
// vipgate answered (the webhook fails open) are judged at start: the older
// holds the host and is applied, the newer is Rejected naming it; once the
// older is deleted the newer is accepted and applied.
func TestDuplicatesStoredWhileDown(t *testing.T) {
	ns := newNamespace(t)
	host := "dup.rules.example.com"
	mustApply(t, hostRuleYAML("v1beta1", ns, "first", host, "wafPolicy: demo-waf"))
	time.Sleep(1100 * time.Millisecond) // creationTimestamp has a one-second resolution
	mustApply(t, hostRuleYAML("v1beta1", ns, "second", host, "wafPolicy: waf-2"))
	sim, _ := start(t, nil)
	ensureClass(t)
	backend(t, ns, "web", "10.7.0.1")
	secureIngress(t, ns, "shop", host)
	ruleStatus(t, getHostRule(t, ns, "first"), v1beta1.StatusAccepted)
	msg := ruleStatus(t, getHostRule(t, ns, "second"), v1beta1.StatusRejected)
	if want := `spec.virtualhost.fqdn: Invalid value: "` + host + `": HostRule ` + ns + `/first already holds this host (as its fqdn)`; !strings.Contains(msg, want) {
		t.Errorf("status error %q, want %q", msg, want)
	}
	harness.Eventually(t, "the older rule applied", childWAF(sim, host, "demo-waf"))
	kubectlDelete(t, ns, "hostrule", "first")
	ruleStatus(t, getHostRule(t, ns, "second"), v1beta1.StatusAccepted)
	harness.Eventually(t, "the newer rule applied", childWAF(sim, host, "waf-2"))
	if evs := events(t, ns, "HostRule", "second"); !slices.ContainsFunc(evs, func(e string) bool { return strings.HasPrefix(e, "Valid: accepted") }) {
		t.Errorf("no Event when the rule was accepted: %v", evs)
	}
}
