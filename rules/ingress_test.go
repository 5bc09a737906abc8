package rules

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/config"
)

type ingOpt func(*networkingv1.Ingress)

func ingress(ns, name string, opts ...ingOpt) *networkingv1.Ingress {
	i := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{}}}
	for _, o := range opts {
		o(i)
	}
	return i
}

func hosts(hs ...string) ingOpt {
	return func(i *networkingv1.Ingress) {
		for _, h := range hs {
			i.Spec.Rules = append(i.Spec.Rules, networkingv1.IngressRule{Host: h})
		}
	}
}

func tlsEntry(secret string, hs ...string) ingOpt {
	return func(i *networkingv1.Ingress) {
		i.Spec.TLS = append(i.Spec.TLS, networkingv1.IngressTLS{SecretName: secret, Hosts: hs})
	}
}

func annotate(k, v string) ingOpt { return func(i *networkingv1.Ingress) { i.Annotations[k] = v } }

func TestValidateIngress(t *testing.T) {
	valid := newCert(t, "web.example.com", now.Add(-24*time.Hour), now.Add(90*24*time.Hour))
	other := newCert(t, "web.example.com", now.Add(-24*time.Hour), now.Add(90*24*time.Hour))
	expired := newCert(t, "web.example.com", now.Add(-90*24*time.Hour), now.Add(-24*time.Hour))
	soon := newCert(t, "web.example.com", now.Add(-80*24*time.Hour), now.Add(5*24*time.Hour+time.Hour))
	today := newCert(t, "web.example.com", now.Add(-80*24*time.Hour), now.Add(3*time.Hour))
	future := newCert(t, "web.example.com", now.Add(24*time.Hour), now.Add(90*24*time.Hour))

	lookups := func() *fakeLookups {
		f := newFake()
		f.addSecret(tlsSecret("team-a", "valid", valid.certPEM, valid.keyPEM))
		f.addSecret(tlsSecret("team-a", "mismatch", valid.certPEM, other.keyPEM))
		f.addSecret(tlsSecret("team-a", "expired", expired.certPEM, expired.keyPEM))
		f.addSecret(tlsSecret("team-a", "soon", soon.certPEM, soon.keyPEM))
		f.addSecret(tlsSecret("team-a", "today", today.certPEM, today.keyPEM))
		f.addSecret(tlsSecret("team-a", "future", future.certPEM, future.keyPEM))
		f.addSecret(tlsSecret("team-a", "no-key", valid.certPEM, nil))
		f.addSecret(tlsSecret("team-a", "no-crt", nil, valid.keyPEM))
		f.addSecret(tlsSecret("team-a", "garbage-crt", []byte("not a certificate"), valid.keyPEM))
		f.addSecret(tlsSecret("team-a", "garbage-key", valid.certPEM, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")))
		opaque := tlsSecret("team-a", "opaque", valid.certPEM, valid.keyPEM)
		opaque.Type = corev1.SecretTypeOpaque
		f.addSecret(opaque)
		f.certs["team-a/issued-by-certificate"] = true
		f.addIngress(
			ingress("team-b", "shop", hosts("shop.example.com")),
			ingress("team-c", "shop2", hosts("shop.example.com")),
			ingress("team-a", "blog", hosts("blog.example.com")),
		)
		return f
	}

	tests := []struct {
		name      string
		ing, old  *networkingv1.Ingress
		settings  *config.Settings
		wantErrs  []string
		wantWarns []string
	}{
		// Hosts.
		{name: "plain and wildcard hosts", ing: ingress("team-a", "web", hosts("web.example.com", "*.apps.example.com", ""))},
		{name: "invalid host", ing: ingress("team-a", "web", hosts("Web_Example.com")),
			wantErrs: []string{`spec.rules[0].host: Invalid value: "Web_Example.com": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{name: "wildcard not a whole label", ing: ingress("team-a", "web", hosts("*foo.example.com")),
			wantErrs: []string{`spec.rules[0].host: Invalid value: "*foo.example.com": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{name: "IP address as host", ing: ingress("team-a", "web", tlsEntry("valid", "10.50.0.20")),
			wantErrs: []string{`spec.tls[0].hosts[0]: Invalid value: "10.50.0.20": must be a DNS name, not an IP address; Ingress hosts match the HTTP Host header and TLS SNI`}},

		// TLS Secrets.
		{name: "valid TLS secret", ing: ingress("team-a", "web", hosts("web.example.com"), tlsEntry("valid", "web.example.com"))},
		{name: "tls entry without secretName uses the default certificate", ing: ingress("team-a", "web", tlsEntry("", "web.example.com"))},
		{name: "missing secret", ing: ingress("team-a", "web", tlsEntry("web-tls")),
			wantErrs: []string{`spec.tls[0].secretName: Invalid value: "web-tls": Secret team-a/web-tls does not exist; create it (kubectl create secret tls web-tls -n team-a --cert=<file> --key=<file>), or annotate the Ingress with cert-manager.io/cluster-issuer or cert-manager.io/issuer so cert-manager issues it`}},
		{name: "missing secret, cluster-issuer annotation", ing: ingress("team-a", "web", annotate(AnnCertManagerClusterIssuer, "letsencrypt"), tlsEntry("web-tls")),
			wantWarns: []string{`spec.tls[0].secretName: Secret team-a/web-tls does not exist yet; cert-manager is expected to issue it, and HTTPS for this entry starts once it does`}},
		{name: "missing secret, issuer annotation", ing: ingress("team-a", "web", annotate(AnnCertManagerIssuer, "ca"), tlsEntry("valid"), tlsEntry("web-tls")),
			wantWarns: []string{`spec.tls[1].secretName: Secret team-a/web-tls does not exist yet; cert-manager is expected to issue it, and HTTPS for this entry starts once it does`}},
		{name: "missing secret, a Certificate names it", ing: ingress("team-a", "web", tlsEntry("issued-by-certificate")),
			wantWarns: []string{`spec.tls[0].secretName: Secret team-a/issued-by-certificate does not exist yet; cert-manager is expected to issue it, and HTTPS for this entry starts once it does`}},
		{name: "Opaque secret", ing: ingress("team-a", "web", tlsEntry("opaque")),
			wantErrs: []string{`spec.tls[0].secretName: Invalid value: "opaque": Secret team-a/opaque is of type Opaque; it must be of type kubernetes.io/tls (kubectl create secret tls)`}},
		{name: "no tls.crt", ing: ingress("team-a", "web", tlsEntry("no-crt")),
			wantErrs: []string{`spec.tls[0].secretName: Invalid value: "no-crt": Secret team-a/no-crt has no tls.crt; put the PEM certificate chain there`}},
		{name: "no tls.key", ing: ingress("team-a", "web", tlsEntry("no-key")),
			wantErrs: []string{`spec.tls[0].secretName: Invalid value: "no-key": Secret team-a/no-key has no tls.key; put the PEM private key there`}},
		{name: "tls.crt not a certificate", ing: ingress("team-a", "web", tlsEntry("garbage-crt")),
			wantErrs: []string{`spec.tls[0].secretName: Invalid value: "garbage-crt": tls.crt in Secret team-a/garbage-crt is not a PEM certificate; put the PEM certificate chain there`}},
		{name: "tls.key not a key", ing: ingress("team-a", "web", tlsEntry("garbage-key")),
			wantErrs: []string{`spec.tls[0].secretName: Invalid value: "garbage-key": tls.key in Secret team-a/garbage-key is not a PEM private key (PKCS#1, PKCS#8 or SEC 1); put the certificate's private key there`}},
		{name: "key does not match certificate", ing: ingress("team-a", "web", tlsEntry("mismatch")),
			wantErrs: []string{`spec.tls[0].secretName: Invalid value: "mismatch": the private key in tls.key of Secret team-a/mismatch does not match the certificate in tls.crt; put the key the certificate was issued for`}},
		{name: "expired", ing: ingress("team-a", "web", tlsEntry("expired")),
			wantErrs: []string{`spec.tls[0].secretName: Invalid value: "expired": the certificate in Secret team-a/expired expired on 2026-02-28T12:00:00Z; renew it, or let cert-manager manage it`}},
		{name: "expires within 14 days", ing: ingress("team-a", "web", tlsEntry("soon")),
			wantWarns: []string{`spec.tls[0].secretName: the certificate in Secret team-a/soon expires on 2026-03-06T13:00:00Z (in 5 days); renew it soon`}},
		{name: "expires today", ing: ingress("team-a", "web", tlsEntry("today")),
			wantWarns: []string{`spec.tls[0].secretName: the certificate in Secret team-a/today expires on 2026-03-01T15:00:00Z (in less than a day); renew it soon`}},
		{name: "not valid yet", ing: ingress("team-a", "web", tlsEntry("future")),
			wantWarns: []string{`spec.tls[0].secretName: the certificate in Secret team-a/future is not valid before 2026-03-02T12:00:00Z; clients reject it until then`}},
		{name: "expired but cert-manager reissues it", ing: ingress("team-a", "web", annotate(AnnCertManagerClusterIssuer, "letsencrypt"), tlsEntry("expired")),
			wantWarns: []string{`spec.tls[0].secretName: the certificate in Secret team-a/expired expired on 2026-02-28T12:00:00Z; renew it, or let cert-manager manage it (cert-manager is expected to reissue it)`}},
		{name: "update keeps an already-used expired secret (ratchet)", ing: ingress("team-a", "web", hosts("web.example.com"), tlsEntry("expired")),
			old:       ingress("team-a", "web", tlsEntry("expired")),
			wantWarns: []string{`spec.tls[0].secretName: the certificate in Secret team-a/expired expired on 2026-02-28T12:00:00Z; renew it, or let cert-manager manage it`}},
		{name: "update keeps an already-used missing secret (ratchet)", ing: ingress("team-a", "web", tlsEntry("web-tls")),
			old:       ingress("team-a", "web", tlsEntry("web-tls")),
			wantWarns: []string{`spec.tls[0].secretName: Secret team-a/web-tls does not exist; HTTPS for this entry is not served until it is created`}},
		{name: "update adding an expired secret is rejected", ing: ingress("team-a", "web", tlsEntry("valid"), tlsEntry("expired")),
			old:      ingress("team-a", "web", tlsEntry("valid")),
			wantErrs: []string{`spec.tls[1].secretName: Invalid value: "expired": the certificate in Secret team-a/expired expired on 2026-02-28T12:00:00Z; renew it, or let cert-manager manage it`}},

		// fqdnReusePolicy.
		{name: "host in another namespace, InterNamespaceAllowed", ing: ingress("team-a", "web", hosts("shop.example.com"))},
		{name: "host in another namespace, Strict", ing: ingress("team-a", "web", hosts("web.example.com", "shop.example.com", "shop.example.com")),
			settings: demoSettings(strictSettings),
			wantErrs: []string{`spec.rules[1].host: Invalid value: "shop.example.com": is already claimed by Ingresses team-b/shop, team-c/shop2 in another namespace, and L7Settings.fqdnReusePolicy is Strict; use another host, or remove it there first`}},
		{name: "host in another namespace, one claimant", ing: ingress("team-b", "web", hosts("blog.example.com")), settings: demoSettings(strictSettings),
			wantErrs: []string{`spec.rules[0].host: Invalid value: "blog.example.com": is already claimed by Ingress team-a/blog in another namespace, and L7Settings.fqdnReusePolicy is Strict; use another host, or remove it there first`}},
		{name: "host in the same namespace, Strict", ing: ingress("team-a", "blog2", hosts("blog.example.com")), settings: demoSettings(strictSettings)},
		{name: "host already on the Ingress, Strict (ratchet)", ing: ingress("team-a", "shop", hosts("shop.example.com")),
			old: ingress("team-a", "shop", hosts("shop.example.com")), settings: demoSettings(strictSettings)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Ingress rules read no inventory: a stale one changes nothing.
			env := Env{Settings: tt.settings, InventoryStale: true, Inventory: demoInventory(), Lookups: lookups(), Now: now}
			if env.Settings == nil {
				env.Settings = demoSettings()
			}
			res := ValidateIngress(tt.ing, tt.old, env)
			checkResult(t, res, tt.wantErrs, tt.wantWarns)
			// No message may carry key material.
			for _, m := range append(errorStrings(res), res.Warnings...) {
				for _, c := range []testCert{valid, other, expired, soon} {
					body := strings.Split(string(c.keyPEM), "\n")[1]
					if strings.Contains(m, "BEGIN") || strings.Contains(m, body) {
						t.Errorf("message leaks key material: %s", m)
					}
				}
			}
		})
	}
}
