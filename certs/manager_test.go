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
	if p := Decide(f.secret(t).Data, ServiceDNSNames(testSvc, testNS), t0, DefaultPropagationDelay); p.Needed() {
		t.Errorf("Secret still needs %+v after repair", p)
	}
}

// readDir returns the cert dir's three files.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{CACertKey, TLSCertKey, TLSKeyKey} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// servingCAFixture brings a Manager to a CA renewal that finds a valid
// serving certificate: issued at day 0, the serving certificate is renewed at
// day 190 (valid to day 280); the CA (300 days) is due at day 200.
func servingCAFixture(t *testing.T, f *fixture, m *Manager) {
	t.Helper()
	ctx := context.Background()
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.SetTime(t0.Add(190 * 24 * time.Hour))
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestManagerCARotationWaitsForPropagation checks the order of a CA
// rotation pass by pass: the first pass only adds the new CA to the caBundle
// (serving certificate and files unchanged), a pass before the propagation
// delay changes nothing, the pass after it serves a certificate from the new
// CA, and the old CA leaves the bundle once it has expired.
func TestManagerCARotationWaitsForPropagation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, webhookConfigs()...)
	dir := t.TempDir()
	m := f.manager(t, dir)
	servingCAFixture(t, f, m)
	before := f.secret(t)
	filesBefore := readDir(t, dir)
	oldCA, _ := parseCert(before.Data[CACertKey])

	// Pass 1, at the CA's renewal: old+new in the bundle, nothing else moves.
	at := t0.Add(201 * 24 * time.Hour)
	f.clock.SetTime(at)
	next, err := m.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !next.Equal(at.Add(DefaultPropagationDelay)) {
		t.Errorf("pass 1: next check %v, want the end of the propagation delay %v", next, at.Add(DefaultPropagationDelay))
	}
	s1 := f.secret(t)
	newCA, err := parseCert(s1.Data[CACertKey])
	if err != nil {
		t.Fatal(err)
	}
	if newCA.Equal(oldCA) || !bytes.Equal(s1.Data[PreviousCAKey], before.Data[CACertKey]) {
		t.Fatalf("pass 1: want a new CA with the old one as %s", PreviousCAKey)
	}
	if !bytes.Equal(s1.Data[TLSCertKey], before.Data[TLSCertKey]) || !bytes.Equal(s1.Data[TLSKeyKey], before.Data[TLSKeyKey]) {
		t.Errorf("pass 1: the serving certificate changed before the new CA propagated")
	}
	if got, ok := publishedAt(s1.Data); !ok || !got.Equal(at) {
		t.Errorf("pass 1: %s = %q, want %s", CAPublishedAtKey, s1.Data[CAPublishedAtKey], at)
	}
	for i, b := range f.bundles(t) {
		cas, err := ParseCertificates(b)
		if err != nil || len(cas) != 2 || !cas[0].Equal(newCA) || !cas[1].Equal(oldCA) {
			t.Errorf("pass 1: webhook %d caBundle holds %d certificates (err %v), want new and old CA", i, len(cas), err)
		}
	}
	for name, b := range readDir(t, dir) {
		if !bytes.Equal(b, filesBefore[name]) {
			t.Errorf("pass 1: %s in the cert dir changed; the webhook server would reload before the API server trusts the new CA", name)
		}
	}

	// A pass a second before the delay ends changes nothing.
	f.clock.SetTime(at.Add(DefaultPropagationDelay - time.Second))
	if next, err = m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if f.secret(t).ResourceVersion != s1.ResourceVersion {
		t.Errorf("before the delay: Secret rewritten")
	}
	for name, b := range readDir(t, dir) {
		if !bytes.Equal(b, filesBefore[name]) {
			t.Errorf("before the delay: %s in the cert dir changed", name)
		}
	}
	if !next.Equal(at.Add(DefaultPropagationDelay)) {
		t.Errorf("before the delay: next check %v, want %v", next, at.Add(DefaultPropagationDelay))
	}

	// The pass after the delay serves from the new CA; the bundle keeps both.
	f.clock.SetTime(at.Add(DefaultPropagationDelay))
	if next, err = m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := f.secret(t)
	serving, err := ParseKeyPair("serving", s2.Data[TLSCertKey], s2.Data[TLSKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(newCA, serving.Cert, m.DNSNames(), f.clock.Now()); err != nil {
		t.Errorf("after the delay: serving certificate not from the new CA: %v", err)
	}
	if !next.Equal(RenewalTime(serving.Cert)) {
		t.Errorf("after the delay: next check %v, want the serving renewal %v", next, RenewalTime(serving.Cert))
	}
	files := readDir(t, dir)
	for _, name := range []string{CACertKey, TLSCertKey, TLSKeyKey} {
		if !bytes.Equal(files[name], s2.Data[name]) {
			t.Errorf("after the delay: %s in the cert dir differs from the Secret", name)
		}
	}
	for i, b := range f.bundles(t) {
		if n := countCerts(t, b); n != 2 {
			t.Errorf("after the delay: webhook %d caBundle has %d certificates, want 2", i, n)
		}
	}

	// Once the old CA has expired (day 300), the bundle is the new CA alone.
	f.clock.SetTime(oldCA.NotAfter.Add(time.Second))
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i, b := range f.bundles(t) {
		if cas, err := ParseCertificates(b); err != nil || len(cas) != 1 || !cas[0].Equal(newCA) {
			t.Errorf("after the old CA expired: webhook %d caBundle holds %d certificates (err %v), want the new CA only", i, len(cas), err)
		}
	}
	if bytes.Contains(f.logs.Bytes(), []byte("PRIVATE KEY")) {
		t.Errorf("logs contain key material")
	}
}

// TestManagerCARotationRestartKeepsDelay checks that the publication time
// lives in the Secret: a Manager started after pass 1 (a restart, another
// replica) neither moves early nor waits a full delay again.
func TestManagerCARotationRestartKeepsDelay(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, webhookConfigs()...)
	servingCAFixture(t, f, f.manager(t, t.TempDir()))
	at := t0.Add(201 * 24 * time.Hour)
	f.clock.SetTime(at)
	if _, err := f.manager(t, t.TempDir()).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	pending := f.secret(t)

	restarted := f.manager(t, t.TempDir())
	f.clock.SetTime(at.Add(DefaultPropagationDelay / 2))
	next, err := restarted.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !next.Equal(at.Add(DefaultPropagationDelay)) {
		t.Errorf("restarted: next check %v, want the delay counted from pass 1 (%v)", next, at.Add(DefaultPropagationDelay))
	}
	if f.secret(t).ResourceVersion != pending.ResourceVersion {
		t.Errorf("restarted: Secret rewritten before the delay ended")
	}
	f.clock.SetTime(at.Add(DefaultPropagationDelay))
	if _, err := restarted.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(f.secret(t).Data[TLSCertKey], pending.Data[TLSCertKey]) {
		t.Errorf("restarted: the serving certificate did not move at the end of the delay")
	}
}

// TestManagerCARotationStartWakesAfterDelay checks that Start sleeps until the
// end of the propagation delay, not CheckInterval, and moves the serving
// certificate then. The fake clock decides; real time only bounds the wait
// for Start's goroutine.
func TestManagerCARotationStartWakesAfterDelay(t *testing.T) {
	f := newFixture(t, webhookConfigs()...)
	m := f.manager(t, t.TempDir())
	servingCAFixture(t, f, m)
	oldServing := f.secret(t).Data[TLSCertKey]
	at := t0.Add(201 * 24 * time.Hour)
	f.clock.SetTime(at)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	})
	// Pass 1 ran and Start sleeps: the new CA is published, the serving
	// certificate is the old one.
	waitFor(t, "Start's first pass", func() bool {
		got, ok := publishedAt(f.secret(t).Data)
		return f.clock.HasWaiters() && ok && got.Equal(at)
	})
	if !bytes.Equal(f.secret(t).Data[TLSCertKey], oldServing) {
		t.Fatalf("Start's first pass moved the serving certificate")
	}
	// Its timer ends with the delay: a second short of it, it still sleeps.
	f.clock.Step(DefaultPropagationDelay - time.Second)
	if !f.clock.HasWaiters() || !bytes.Equal(f.secret(t).Data[TLSCertKey], oldServing) {
		t.Fatalf("Start woke up or moved the serving certificate before the delay ended")
	}
	f.clock.Step(time.Second)
	waitFor(t, "the serving certificate to move to the new CA", func() bool {
		return !bytes.Equal(f.secret(t).Data[TLSCertKey], oldServing)
	})
}

// waitFor polls cond; the deadline only keeps a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
