package traffic

import (
	"context"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/tests/harness"
)

// TestAKOManifest: an Ingress as AKO users write it is served as AKO serves
// it. ako.vmware.com/enable-tls on the Ingress secures every host with the
// default certificate (router-certs-default in vipgate's namespace, no
// tls[] entry needed), a rule without a host is served as
// <ingress>.<namespace>.<the cloud DNS profile's first domain>, and the
// shard's VsVip carries DNS records for the shard and every host, so the
// controller's DNS can answer for them.
func TestAKOManifest(t *testing.T) {
	seed := avisim.LoopbackSeed()
	seed.Clouds[0].DNSDomains = []string{"zz.example.com", "apps.example.com"}
	sim := harness.StartTrafficSimWith(t, seed)
	start(t, sim, nil)
	ensureIngressClass(t)
	ns := newNamespace(t)
	pods := harness.StartEchos(t, 0, "web-1")
	backendService(t, ns, "web", pods...)
	crt, key := harness.SelfSignedCert(t, "default.example.com")
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vipgate-system"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	create(t, tlsSecret("vipgate-system", model.DefaultSecretName, crt, key))

	const host = "plain.example.com"
	ing := ingress(ns, "site", []route{{host, "/", "web"}, {"", "/", "web"}})
	ing.Annotations = map[string]string{model.AnnEnableTLS: "true"}
	create(t, ing)
	hostless := "site." + ns + ".apps.example.com"
	ip := waitIngressIP(t, ns, "site", host)
	if other := waitIngressIP(t, ns, "site", hostless); other != ip {
		t.Fatalf("the hostless rule's host %s got %s, the other host %s", hostless, other, ip)
	}
	https, plain := served(t, sim, ip, 443, "tcp"), served(t, sim, ip, 80, "tcp")
	want := harness.PEMFingerprint(t, crt)
	for _, h := range []string{host, hostless} {
		var r echo.Reply
		harness.Eventually(t, "https://"+h+"/ answers with the default certificate", func() string {
			if r = echo.GetTLS(https, h, "/", h); r.Answer.Backend != "web-1" || harness.CertFingerprint(r) != want {
				return r.String()
			}
			return ""
		})
		if r := echo.Get(plain, h, "/a"); r.Code != 302 || r.Header.Get("Location") != "https://"+h+"/a" {
			t.Errorf("http://%s/a: %v; want a redirect to HTTPS (enable-tls secures every host)", h, r)
		}
	}
	shard := model.ShardName(harness.DemoSettings(t, sim.Host()), nil, host)
	var fqdns []string
	for _, d := range harness.Path(harness.SimObject(sim, "admin", "vsvip", shard), "dns_info").([]any) {
		fqdns = append(fqdns, harness.Str(d, "fqdn"))
	}
	wantFQDNs := []string{shard + ".admin.apps.example.com", host, hostless}
	slices.Sort(wantFQDNs[1:])
	if fmt.Sprint(fqdns) != fmt.Sprint(wantFQDNs) {
		t.Errorf("VsVip %s DNS records %v, want %v", shard, fqdns, wantFQDNs)
	}
}
