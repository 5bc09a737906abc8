package gateway

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/tests/harness"
)

func tlsSecret(ns, name string, crt, key []byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
}

// httpsListener adds an HTTPS listener terminating TLS with the Secrets
// refs ("name" or "namespace/name").
func httpsListener(gw *gatewayv1.Gateway, name string, port int32, host string, refs ...string) {
	l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Port: gatewayv1.PortNumber(port), Protocol: gatewayv1.HTTPSProtocolType,
		TLS: &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModeTerminate)}}
	if host != "" {
		l.Hostname = ptr.To(gatewayv1.Hostname(host))
	}
	for _, r := range refs {
		ref := gatewayv1.SecretObjectReference{Name: gatewayv1.ObjectName(r)}
		for i := 0; i < len(r); i++ {
			if r[i] == '/' {
				ref.Namespace = ptr.To(gatewayv1.Namespace(r[:i]))
				ref.Name = gatewayv1.ObjectName(r[i+1:])
			}
		}
		l.TLS.CertificateRefs = append(l.TLS.CertificateRefs, ref)
	}
	gw.Spec.Listeners = append(gw.Spec.Listeners, l)
}

// TestHTTPSListeners: two HTTPS listeners on one port, each with its own
// certificate, present the certificate of the name the client asks for
// (SNI) and route to the route's pods; a certificate from another
// namespace is used once a ReferenceGrant there allows it.
func TestHTTPSListeners(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ensureClass(t)
	ns := newNamespace(t)
	certs := newNamespace(t)
	shop := harness.StartEchos(t, 0, "shop-1")
	blog := harness.StartEchos(t, 0, "blog-1")
	backendService(t, ns, "shop", shop...)
	backendService(t, ns, "blog", blog...)
	shopCrt, shopKey := harness.SelfSignedCert(t, "shop.example.com")
	blogCrt, blogKey := harness.SelfSignedCert(t, "blog.example.com")
	env.CreateAndRemove(t, tlsSecret(ns, "shop-tls", shopCrt, shopKey))
	env.CreateAndRemove(t, tlsSecret(certs, "blog-tls", blogCrt, blogKey))
	// The blog's certificate lives in another namespace, which allows it.
	env.CreateAndRemove(t, &gatewayv1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Namespace: certs, Name: "gateways"},
		Spec: gatewayv1.ReferenceGrantSpec{
			From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: gatewayv1.Namespace(ns)}},
			To:   []gatewayv1.ReferenceGrantTo{{Group: "", Kind: "Secret"}}}})

	gw := gateway(ns, "gw", "http:80:HTTP")
	httpsListener(gw, "shop", 443, "shop.example.com", "shop-tls")
	httpsListener(gw, "blog", 443, "blog.example.com", certs+"/blog-tls")
	env.Create(t, gw)
	env.CreateAndRemove(t, httpRoute(ns, "shop", "gw", []string{"shop.example.com"}, rule{"PathPrefix", "/", []string{"shop"}}))
	env.CreateAndRemove(t, httpRoute(ns, "blog", "gw", []string{"blog.example.com"}, rule{"PathPrefix", "/", []string{"blog"}}))
	vip := waitProgrammed(t, ns, "gw").Status.Addresses[0].Value
	https := served(t, sim, vip, 443)

	for _, c := range []struct {
		host, backend string
		crt           []byte
	}{{"shop.example.com", "shop-1", shopCrt}, {"blog.example.com", "blog-1", blogCrt}} {
		var r echo.Reply
		harness.Eventually(t, "https://"+c.host+"/ answers from "+c.backend, func() string {
			if r = echo.GetTLS(https, c.host, "/x", c.host); r.Answer.Backend != c.backend {
				return r.String()
			}
			return ""
		})
		if got, want := harness.CertFingerprint(r), harness.PEMFingerprint(t, c.crt); got != want {
			t.Errorf("%s: served certificate %s, want the Secret's", c.host, r.Cert.Subject)
		}
		if r.Answer.TLS || r.Answer.Host != c.host {
			t.Errorf("%s: the pod saw %+v; want the plain request (TLS ends at the VIP)", c.host, r.Answer)
		}
	}
	// Plain HTTP on port 80 reaches the same routes.
	eventuallyAnsweredBy(t, served(t, sim, vip, 80), "shop.example.com", "/", "shop-1")
	g := waitProgrammed(t, ns, "gw")
	for _, ls := range g.Status.Listeners {
		c := condition(ls.Conditions, "ResolvedRefs")
		if c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("listener %s: %s", ls.Name, describe(ls.Conditions))
		}
	}
}

// TestHTTPSAdmission: a listener certificate Secret that is missing, not of
// type TLS, for another name, or in another namespace without a
// ReferenceGrant is refused by kubectl apply with the exact message; with
// cert-manager's gateway-shim annotation a missing Secret is admitted with
// a warning.
func TestHTTPSAdmission(t *testing.T) {
	sim := harness.StartTrafficSim(t)
	start(t, sim, nil)
	ensureClass(t)
	ns := newNamespace(t)
	certs := newNamespace(t)
	crt, key := harness.SelfSignedCert(t, "shop.example.com")
	env.CreateAndRemove(t, tlsSecret(ns, "shop-tls", crt, key))
	env.CreateAndRemove(t, tlsSecret(certs, "far-tls", crt, key))
	env.CreateAndRemove(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "opaque"}, Data: map[string][]byte{"x": []byte("y")}})

	manifest := func(name, annotations, host, ref string) string {
		return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: " + name + ", namespace: " + ns + annotations + "}\nspec:\n  gatewayClassName: " + gatewayClass + "\n" +
			"  listeners:\n  - name: https\n    port: 443\n    protocol: HTTPS\n    hostname: " + host + "\n    tls: {mode: Terminate, certificateRefs: [" + ref + "]}\n"
	}
	p := `spec.listeners[0].tls.certificateRefs[0]: Invalid value: "`
	for _, c := range []struct{ name, manifest, want string }{
		{"missing Secret", manifest("missing", "", "shop.example.com", "{name: nope}"),
			`The Gateway "missing" is invalid: ` + p + ns + `/nope": Secret ` + ns + `/nope does not exist; create it (kubectl create secret tls nope -n ` + ns + ` --cert=<file> --key=<file>), or annotate the Gateway with cert-manager.io/cluster-issuer or cert-manager.io/issuer so cert-manager issues it`},
		{"not a TLS Secret", manifest("opaque", "", "shop.example.com", "{name: opaque}"),
			`The Gateway "opaque" is invalid: ` + p + ns + `/opaque": Secret ` + ns + `/opaque is of type Opaque; it must be of type kubernetes.io/tls (kubectl create secret tls)`},
		{"certificate for another name", manifest("other-name", "", "blog.example.com", "{name: shop-tls}"),
			`The Gateway "other-name" is invalid: ` + p + ns + `/shop-tls": the certificate in Secret ` + ns + `/shop-tls is for [shop.example.com], not for the listener's hostname blog.example.com; use a certificate issued for it`},
		{"another namespace without a ReferenceGrant", manifest("far", "", "shop.example.com", "{name: far-tls, namespace: "+certs+"}"),
			`The Gateway "far" is invalid: ` + p + certs + `/far-tls": Secret ` + certs + `/far-tls is in another namespace and no ReferenceGrant in ` + certs + ` lets Gateways of namespace ` + ns + ` use it; create one there (from: group gateway.networking.k8s.io, kind Gateway, namespace ` + ns + `; to: group "", kind Secret, name far-tls)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := env.Kubectl(context.Background(), c.manifest, "apply", "-f", "-")
			if err == nil {
				t.Fatalf("kubectl apply succeeded:\n%s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("kubectl printed\n%s\nwant it to contain\n%s", out, c.want)
			}
		})
	}
	out, err := env.Kubectl(context.Background(), manifest("managed", ", annotations: {cert-manager.io/cluster-issuer: letsencrypt}", "shop.example.com", "{name: issued-later}"), "apply", "-f", "-")
	want := `Warning: ` + p[:len(p)-len(`: Invalid value: "`)] + `: Secret ` + ns + `/issued-later does not exist; create it`
	if err != nil || !strings.Contains(out, want) || !strings.Contains(out, "(cert-manager is expected to issue it)") {
		t.Errorf("a cert-manager annotated Gateway: err %v, kubectl printed\n%s\nwant a warning starting %q", err, out, want)
	}
}
