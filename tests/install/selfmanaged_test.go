package install

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/vipgate/vipgate/certs"
	"github.com/vipgate/vipgate/webhooks"
)

const (
	smNamespace = "vipgate-system"
	smService   = "vipgate-webhook"
)

// smState is what the Manager keeps, read back from the API server and disk.
type smState struct {
	data    map[string][]byte
	ca      *certs.KeyPair
	serving *certs.KeyPair
}

func readSecret(t *testing.T) smState {
	t.Helper()
	var s corev1.Secret
	key := types.NamespacedName{Namespace: smNamespace, Name: certs.SecretNameFor(smService)}
	if err := env.Client.Get(context.Background(), key, &s); err != nil {
		t.Fatalf("reading Secret %s: %v", key, err)
	}
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %q, want %q", s.Type, corev1.SecretTypeTLS)
	}
	for _, k := range []string{certs.CACertKey, certs.CAKeyKey, certs.TLSCertKey, certs.TLSKeyKey} {
		if len(s.Data[k]) == 0 {
			t.Fatalf("Secret %s has no %s", key, k)
		}
	}
	ca, err := certs.ParseKeyPair("CA", s.Data[certs.CACertKey], s.Data[certs.CAKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	serving, err := certs.ParseKeyPair("serving", s.Data[certs.TLSCertKey], s.Data[certs.TLSKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	return smState{data: s.Data, ca: &ca, serving: &serving}
}

// checkInjected checks that every vipgate webhook of both configurations
// carries want as its caBundle (probe webhooks of earlier steps aside).
func checkInjected(t *testing.T, want []byte) {
	t.Helper()
	ctx := context.Background()
	var m admv1.MutatingWebhookConfiguration
	if err := env.Client.Get(ctx, types.NamespacedName{Name: webhooks.MutatingConfigName}, &m); err != nil {
		t.Fatal(err)
	}
	var v admv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(ctx, types.NamespacedName{Name: webhooks.ValidatingConfigName}, &v); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, h := range m.Webhooks {
		n++
		if !bytes.Equal(h.ClientConfig.CABundle, want) {
			t.Errorf("%s: caBundle of %s is not the Manager's CA bundle", webhooks.MutatingConfigName, h.Name)
		}
	}
	for _, h := range v.Webhooks {
		n++
		if !bytes.Equal(h.ClientConfig.CABundle, want) {
			t.Errorf("%s: caBundle of %s is not the Manager's CA bundle", webhooks.ValidatingConfigName, h.Name)
		}
	}
	if n < 4 {
		t.Errorf("only %d webhooks in the configurations", n)
	}
}

// servingIssuer is the stored CA (PEM) that signed the stored serving
// certificate: ca.crt, or ca-previous.crt while the serving certificate waits
// to move to a new CA.
func servingIssuer(t *testing.T, st smState) []byte {
	t.Helper()
	if st.serving.Cert.CheckSignatureFrom(st.ca.Cert) == nil {
		return st.data[certs.CACertKey]
	}
	if prev, err := certs.ParseCertificates(st.data[certs.PreviousCAKey]); err == nil && st.serving.Cert.CheckSignatureFrom(prev[0]) == nil {
		return st.data[certs.PreviousCAKey]
	}
	t.Fatalf("the stored serving certificate is signed by neither stored CA")
	return nil
}

// checkFiles checks the cert dir holds what the Secret holds: the serving
// pair, and as ca.crt its issuer (cert-manager's layout).
func checkFiles(t *testing.T, dir string, st smState) {
	t.Helper()
	want := map[string][]byte{certs.CACertKey: servingIssuer(t, st), certs.TLSCertKey: st.data[certs.TLSCertKey], certs.TLSKeyKey: st.data[certs.TLSKeyKey]}
	for _, k := range []string{certs.CACertKey, certs.TLSCertKey, certs.TLSKeyKey} {
		b, err := os.ReadFile(filepath.Join(dir, k))
		if err != nil {
			t.Fatalf("cert dir: %v", err)
		}
		if !bytes.Equal(b, want[k]) {
			t.Errorf("cert dir: %s differs from the Secret's", k)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, certs.TLSKeyKey)); err == nil && fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("tls.key mode %v, want no group/other access", fi.Mode().Perm())
	}
}

// editSecret changes the stored Secret (to force the Manager's hand).
func editSecret(t *testing.T, edit func(map[string][]byte)) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var s corev1.Secret
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: smNamespace, Name: certs.SecretNameFor(smService)}, &s); err != nil {
			return err
		}
		edit(s.Data)
		return env.Client.Update(ctx, &s)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSelfManagedCertificates runs the certs.Manager (vipgate
// --self-managed-certs) against the real API server with vipgate's webhook
// configurations installed: it creates the Secret, injects the CA into both
// configurations and writes the files; vipgate then serves with them and the
// API server reaches it. Forced rotations (a stored serving certificate from
// another CA, a lost CA key) reissue under admission load without a failed
// request; the lost CA key goes the safe way: the new CA joins the bundle
// while the old serving certificate is still served, and the serving
// certificate moves to the new CA only once the API server uses that bundle
// and the propagation delay has passed on the fake clock. Time-driven
// rotations (a fake clock past the renewal times) reissue the serving
// certificate, then the CA with the old one kept in the bundle.
func TestSelfManagedCertificates(t *testing.T) {
	ctx := context.Background()
	ensureNamespace(t, smNamespace)
	secretKey := types.NamespacedName{Namespace: smNamespace, Name: certs.SecretNameFor(smService)}
	t.Cleanup(func() {
		var s corev1.Secret
		if err := env.Client.Get(ctx, secretKey, &s); err == nil {
			_ = env.Client.Delete(ctx, &s)
		}
	})
	t.Cleanup(func() { restoreConfigurations(t) })
	start := time.Now()
	clk := testingclock.NewFakeClock(start)
	dir := filepath.Join(t.TempDir(), "webhook-certs")
	m, err := certs.NewManager(certs.Options{
		Client: env.Client, Namespace: smNamespace, ServiceName: smService,
		ExtraNames: []string{"127.0.0.1", "localhost"}, CertDir: dir,
		MutatingConfigName: webhooks.MutatingConfigName, ValidatingConfigName: webhooks.ValidatingConfigName,
		Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	var pre corev1.Secret
	if err := env.Client.Get(ctx, secretKey, &pre); !apierrors.IsNotFound(err) {
		t.Fatalf("Secret %s exists before the Manager ran (err %v)", secretKey, err)
	}

	// First pass: issue, inject, write.
	next, err := m.Sync(ctx)
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	st := readSecret(t)
	if err := certs.Verify(st.ca.Cert, st.serving.Cert, m.DNSNames(), start); err != nil {
		t.Errorf("issued serving certificate: %v", err)
	}
	if !next.Equal(certs.RenewalTime(st.serving.Cert)) {
		t.Errorf("next check %s, want the serving certificate's renewal time %s", next, certs.RenewalTime(st.serving.Cert))
	}
	bundle := certs.CABundle(st.data, start)
	if cas, err := certs.ParseCertificates(bundle); err != nil || len(cas) != 1 || !cas[0].Equal(st.ca.Cert) {
		t.Errorf("caBundle after the first pass should be the one CA (got %d certificates, err %v)", len(cas), err)
	}
	checkInjected(t, bundle)
	checkFiles(t, dir, st)
	// A second pass with nothing due changes nothing.
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if again := readSecret(t); !bytes.Equal(again.data[certs.TLSCertKey], st.data[certs.TLSCertKey]) {
		t.Errorf("a second Sync with nothing due reissued the serving certificate")
	}

	// The API server reaches vipgate with the Manager's certificates. (setCABundle
	// writes the bundle the Manager injected, adding a probe to know the API
	// server uses it.)
	setCABundle(t, bundle)
	startVipgateWithCerts(t, dir, bundle)
	waitServed(t, st.serving.Cert, bundle)
	if d, a, problems := checkOnce(ctx, fastClient(t), "self-managed"); !d || !a {
		t.Fatalf("admission with self-managed certificates: %v", problems)
	}

	// Forced rotations under load: a serving certificate not from the stored CA
	// (a TLS Secret must keep tls.crt and tls.key), then a lost CA key.
	l := startLoad(t, 4)
	l.flow(t, 60)
	foreign := issueServing(t, newCA(t, "someone-else"))
	editSecret(t, func(d map[string][]byte) { d[certs.TLSCertKey], d[certs.TLSKeyKey] = foreign.CertPEM, foreign.KeyPEM })
	if _, err := m.Sync(ctx); err != nil {
		t.Fatalf("Sync after the serving certificate was replaced: %v", err)
	}
	st2 := readSecret(t)
	if !st2.ca.Cert.Equal(st.ca.Cert) {
		t.Errorf("losing the serving certificate replaced the CA")
	}
	if st2.serving.Cert.SerialNumber.Cmp(st.serving.Cert.SerialNumber) == 0 || st2.serving.Cert.SerialNumber.Cmp(foreign.Cert.SerialNumber) == 0 {
		t.Fatalf("the serving certificate was not reissued")
	}
	checkInjected(t, bundle)
	checkFiles(t, dir, st2)
	waitServed(t, st2.serving.Cert, bundle)
	t.Logf("forced serving rotation: serving serial %x after %d requests", st2.serving.Cert.SerialNumber, l.total())
	l.flow(t, 60)

	// Pass 1 of the CA rotation: the new CA joins the bundle; the serving
	// certificate (still valid under the old CA certificate) stays.
	editSecret(t, func(d map[string][]byte) { delete(d, certs.CAKeyKey) })
	next, err = m.Sync(ctx)
	if err != nil {
		t.Fatalf("Sync after losing the CA key: %v", err)
	}
	st3 := readSecret(t)
	if st3.ca.Cert.Equal(st.ca.Cert) {
		t.Fatalf("the CA was not reissued")
	}
	if !bytes.Equal(st3.data[certs.PreviousCAKey], st.data[certs.CACertKey]) {
		t.Errorf("the replaced CA was not kept as %s", certs.PreviousCAKey)
	}
	if st3.serving.Cert.SerialNumber.Cmp(st2.serving.Cert.SerialNumber) != 0 {
		t.Fatalf("the serving certificate changed in the pass that published the new CA")
	}
	if want := clk.Now().Add(certs.DefaultPropagationDelay); !next.Equal(want) {
		t.Errorf("next check after publishing the new CA %s, want the end of the propagation delay %s", next, want)
	}
	bundle3 := certs.CABundle(st3.data, start)
	if cas, err := certs.ParseCertificates(bundle3); err != nil || len(cas) != 2 {
		t.Errorf("caBundle after a CA rotation should hold the new and the previous CA (got %d, err %v)", len(cas), err)
	}
	checkInjected(t, bundle3)
	checkFiles(t, dir, st3)
	waitServed(t, st2.serving.Cert, bundle3)
	t.Logf("forced CA rotation, new CA published: serving serial %x after %d requests", st3.serving.Cert.SerialNumber, l.total())
	l.flow(t, 60)

	// The propagation delay stands for the time the API server needs to use
	// the new bundle; here the probe says when it does (setCABundle writes the
	// bundle the Manager injected), then the fake clock crosses the delay.
	setCABundle(t, bundle3)
	clk.Step(certs.DefaultPropagationDelay - time.Second)
	if _, err := m.Sync(ctx); err != nil {
		t.Fatalf("Sync before the propagation delay ended: %v", err)
	}
	if again := readSecret(t); again.serving.Cert.SerialNumber.Cmp(st3.serving.Cert.SerialNumber) != 0 {
		t.Fatalf("the serving certificate moved to the new CA before the propagation delay ended")
	}
	clk.Step(time.Second)
	if _, err := m.Sync(ctx); err != nil {
		t.Fatalf("Sync after the propagation delay: %v", err)
	}
	moved := readSecret(t)
	if !moved.ca.Cert.Equal(st3.ca.Cert) {
		t.Fatalf("the CA changed again when the serving certificate moved")
	}
	if err := certs.Verify(moved.ca.Cert, moved.serving.Cert, m.DNSNames(), clk.Now()); err != nil {
		t.Fatalf("after the propagation delay the serving certificate is not from the new CA: %v", err)
	}
	checkInjected(t, bundle3)
	checkFiles(t, dir, moved)
	waitServed(t, moved.serving.Cert, moved.data[certs.CACertKey])
	t.Logf("forced CA rotation, serving from the new CA: serving serial %x after %d requests", moved.serving.Cert.SerialNumber, l.total())
	l.flow(t, 60)
	l.finish(t)

	// Time-driven rotations (fake clock; the certificates issued now are dated
	// in the future, so this part checks the Secret, the bundle and the files only).
	clk.SetTime(certs.RenewalTime(moved.serving.Cert).Add(time.Minute))
	if _, err := m.Sync(ctx); err != nil {
		t.Fatalf("Sync at the serving certificate's renewal time: %v", err)
	}
	st4 := readSecret(t)
	if !st4.ca.Cert.Equal(moved.ca.Cert) || st4.serving.Cert.SerialNumber.Cmp(moved.serving.Cert.SerialNumber) == 0 {
		t.Errorf("at the serving renewal time: want a new serving certificate from the same CA")
	}
	checkInjected(t, certs.CABundle(st4.data, clk.Now()))
	checkFiles(t, dir, st4)

	// By the CA's renewal time the serving certificate has long expired:
	// nothing served needs protecting, so the new CA signs a serving
	// certificate in the same pass.
	clk.SetTime(certs.RenewalTime(st4.ca.Cert).Add(time.Minute))
	if _, err := m.Sync(ctx); err != nil {
		t.Fatalf("Sync at the CA's renewal time: %v", err)
	}
	st5 := readSecret(t)
	if st5.ca.Cert.Equal(st4.ca.Cert) {
		t.Fatalf("at the CA renewal time: the CA was not reissued")
	}
	if !bytes.Equal(st5.data[certs.PreviousCAKey], st4.data[certs.CACertKey]) {
		t.Errorf("at the CA renewal time: the replaced CA was not kept as %s", certs.PreviousCAKey)
	}
	if err := certs.Verify(st5.ca.Cert, st5.serving.Cert, m.DNSNames(), clk.Now()); err != nil {
		t.Errorf("at the CA renewal time: %v", err)
	}
	b5 := certs.CABundle(st5.data, clk.Now())
	if cas, err := certs.ParseCertificates(b5); err != nil || len(cas) != 2 {
		t.Errorf("caBundle after the CA renewal should hold the new and the previous CA (got %d, err %v)", len(cas), err)
	}
	checkInjected(t, b5)
	checkFiles(t, dir, st5)
}
