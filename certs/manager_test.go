package certs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

const (
	testNS       = "vipgate-system"
	testSvc      = "vipgate-webhook"
	mutatingName = "vipgate-mutating"
	validateName = "vipgate-validating"
)

func webhookConfigs() []client.Object {
	ref := func(path string) admv1.WebhookClientConfig {
		return admv1.WebhookClientConfig{Service: &admv1.ServiceReference{Namespace: testNS, Name: testSvc, Path: &path}}
	}
	return []client.Object{
		&admv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: mutatingName},
			Webhooks:   []admv1.MutatingWebhook{{Name: "m.example.com", ClientConfig: ref("/m")}},
		},
		&admv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: validateName},
			Webhooks: []admv1.ValidatingWebhook{
				{Name: "v1.example.com", ClientConfig: ref("/v1")},
				{Name: "v2.example.com", ClientConfig: ref("/v2")},
			},
		},
	}
}

type fixture struct {
	c     client.Client
	clock *clocktesting.FakeClock
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, objs ...client.Object) *fixture {
	t.Helper()
	return &fixture{
		c:     fake.NewClientBuilder().WithObjects(objs...).Build(),
		clock: clocktesting.NewFakeClock(t0),
		logs:  &bytes.Buffer{},
	}
}

func (f *fixture) manager(t *testing.T, dir string) *Manager {
	t.Helper()
	m, err := NewManager(Options{
		Client: f.c, Namespace: testNS, ServiceName: testSvc, CertDir: dir,
		MutatingConfigName: mutatingName, ValidatingConfigName: validateName,
		CAValidity: 300 * 24 * time.Hour, ServingValidity: 90 * 24 * time.Hour,
		Clock: f.clock,
		Log:   funcr.New(func(prefix, args string) { f.logs.WriteString(prefix + args + "\n") }, funcr.Options{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: testNS, Name: SecretNameFor(testSvc)}, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func (f *fixture) bundles(t *testing.T) [][]byte {
	t.Helper()
	ctx := context.Background()
	var m admv1.MutatingWebhookConfiguration
	var v admv1.ValidatingWebhookConfiguration
	if err := f.c.Get(ctx, types.NamespacedName{Name: mutatingName}, &m); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Get(ctx, types.NamespacedName{Name: validateName}, &v); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, w := range m.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	for _, w := range v.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
		if w.ClientConfig.Service == nil || *w.ClientConfig.Service.Path == "" {
			t.Errorf("patch lost the webhook's service reference")
		}
	}
	return out
}

func TestManagerIssuesWritesAndInjects(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, webhookConfigs()...)
	dir := t.TempDir()
	m := f.manager(t, dir)

	next, err := m.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := f.secret(t)
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type = %s, want %s", s.Type, corev1.SecretTypeTLS)
	}
	serving, err := ParseKeyPair("serving", s.Data[TLSCertKey], s.Data[TLSKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	ca, err := ParseKeyPair("CA", s.Data[CACertKey], s.Data[CAKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ca.Cert, serving.Cert, ServiceDNSNames(testSvc, testNS), t0); err != nil {
		t.Fatal(err)
	}
	if !next.Equal(RenewalTime(serving.Cert)) {
		t.Errorf("next check %v, want serving renewal time %v", next, RenewalTime(serving.Cert))
	}
	for _, name := range []string{CACertKey, TLSCertKey, TLSKeyKey} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, s.Data[name]) {
			t.Errorf("%s in cert dir differs from the Secret (err %v)", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, CAKeyKey)); !os.IsNotExist(err) {
		t.Errorf("the CA key must not be written to the cert dir")
	}
	bundles := f.bundles(t)
	if len(bundles) != 3 {
		t.Fatalf("got %d webhooks, want 3", len(bundles))
	}
	for i, b := range bundles {
		if !bytes.Equal(b, CABundle(s.Data, t0)) {
			t.Errorf("webhook %d caBundle not injected", i)
		}
	}

	// A second pass with nothing due writes nothing.
	rv := s.ResourceVersion
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if f.secret(t).ResourceVersion != rv {
		t.Errorf("Secret rewritten although nothing was due")
	}
	if bytes.Contains(f.logs.Bytes(), []byte("PRIVATE KEY")) || bytes.Contains(f.logs.Bytes(), s.Data[TLSKeyKey][30:60]) {
		t.Errorf("logs contain key material:\n%s", f.logs.String())
	}
}

func TestManagerRotates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, webhookConfigs()...)
	m := f.manager(t, t.TempDir())
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	first := f.secret(t).Data

	// Into the serving certificate's last third: new serving certificate, same CA.
	f.clock.SetTime(t0.Add(61 * 24 * time.Hour))
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	second := f.secret(t).Data
	if !bytes.Equal(second[CACertKey], first[CACertKey]) {
		t.Errorf("CA replaced on a serving rotation")
	}
	if bytes.Equal(second[TLSCertKey], first[TLSCertKey]) {
		t.Errorf("serving certificate not rotated")
	}

	// Into the CA's last third: new CA, and the webhooks trust old and new.
	at := t0.Add(201 * 24 * time.Hour)
	f.clock.SetTime(at)
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	third := f.secret(t).Data
	if bytes.Equal(third[CACertKey], second[CACertKey]) || !bytes.Equal(third[PreviousCAKey], second[CACertKey]) {
		t.Errorf("CA not rotated with the old one kept as %s", PreviousCAKey)
	}
	for _, b := range f.bundles(t) {
		if n := countCerts(t, b); n != 2 {
			t.Errorf("caBundle during CA rotation has %d certificates, want 2", n)
		}
	}
}

func TestReplicasConverge(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, webhookConfigs()...)
	dirA, dirB := t.TempDir(), t.TempDir()
	a, b := f.manager(t, dirA), f.manager(t, dirB)
	if _, err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(filepath.Join(dirA, TLSCertKey))
	cb, _ := os.ReadFile(filepath.Join(dirB, TLSCertKey))
	if !bytes.Equal(ca, cb) {
		t.Errorf("replicas serve different certificates")
	}
}

func TestManagerWithoutWebhookConfigurations(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	if _, err := f.manager(t, dir).Sync(context.Background()); err != nil {
		t.Fatalf("missing webhook configurations must not fail the pass: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, TLSCertKey)); err != nil {
		t.Errorf("files not written: %v", err)
	}
}

func TestManagerRepairsCorruptSecret(t *testing.T) {
	broken := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: SecretNameFor(testSvc)},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{TLSCertKey: []byte("garbage"), TLSKeyKey: []byte("garbage")},
	}
	f := newFixture(t, append(webhookConfigs(), broken)...)
	if _, err := f.manager(t, t.TempDir()).Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := Decide(f.secret(t).Data, ServiceDNSNames(testSvc, testNS), t0); p.Needed() {
		t.Errorf("Secret still needs %+v after repair", p)
	}
}
