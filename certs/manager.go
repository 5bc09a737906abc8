package certs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	admv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretNameFor is the Secret the Manager keeps its CA and serving certificate
// in, derived from the webhook Service name so the chart's RBAC (which grants
// access to this one Secret by name) and the binary agree without another flag.
func SecretNameFor(serviceName string) string { return serviceName + "-certs" }

// Options configure a Manager.
type Options struct {
	// Client must read from the API server, not from an informer cache: the
	// Manager runs before the cache starts (to write the files the webhook
	// server needs at start-up), and vipgate caches Secrets as metadata only.
	Client client.Client
	// Namespace vipgate runs in; the Secret lives there.
	Namespace string
	// ServiceName of the webhook Service; the serving certificate is for
	// <ServiceName>.<Namespace>.svc and .svc.cluster.local.
	ServiceName string
	// SecretName, SecretNameFor(ServiceName) when empty.
	SecretName string
	// ExtraNames are added to the serving certificate (e.g. 127.0.0.1 for an
	// API server outside the cluster in tests and the demo).
	ExtraNames []string
	// CertDir receives ca.crt, tls.crt and tls.key for the webhook server.
	CertDir string
	// MutatingConfigName and ValidatingConfigName are the webhook configurations
	// whose caBundle is kept current (webhooks.MutatingConfigName and
	// webhooks.ValidatingConfigName). Empty names are skipped.
	MutatingConfigName   string
	ValidatingConfigName string
	// CAValidity and ServingValidity default to DefaultCAValidity and DefaultServingValidity.
	CAValidity      time.Duration
	ServingValidity time.Duration
	// CheckInterval bounds the time between two checks, so a caBundle removed
	// by an upgrade or a deleted Secret is repaired; 10 minutes when zero.
	CheckInterval time.Duration
	// PropagationDelay is how long a new CA is trusted in the caBundle before
	// the serving certificate moves to it (see Decide);
	// DefaultPropagationDelay when zero.
	PropagationDelay time.Duration
	// Clock, the real clock when nil; tests pass a fake one.
	Clock clock.WithTicker
	// Log receives what was issued and why; never key material.
	Log logr.Logger
}

// Manager keeps a self-signed CA and a serving certificate in a Secret,
// reissues them as they age, writes them to the cert dir and injects the CA
// into the webhook configurations.
//
// Wiring in the binary (--self-managed-certs=true): build it with an uncached
// client, call Sync once before the manager starts (the webhook server's
// certwatcher fails without files), then mgr.Add it to keep rotating:
//
//	m, _ := certs.NewManager(certs.Options{Client: direct, Namespace: ns, ServiceName: svc,
//		CertDir: certDir, MutatingConfigName: webhooks.MutatingConfigName,
//		ValidatingConfigName: webhooks.ValidatingConfigName, Log: log})
//	if _, err := m.Sync(ctx); err != nil { ... }
//	mgr.Add(m)
//
// It runs on every replica (each pod needs the
// files), so it never takes the leader lock; replicas agree through the
// Secret's resourceVersion: whoever loses a write race re-reads and uses the
// winner's certificate.
type Manager struct {
	o Options
}

// NewManager checks the options and fills in defaults.
func NewManager(o Options) (*Manager, error) {
	if o.Client == nil {
		return nil, errors.New("certs: Client is required")
	}
	if o.Namespace == "" || o.ServiceName == "" || o.CertDir == "" {
		return nil, errors.New("certs: Namespace, ServiceName and CertDir are required")
	}
	if o.SecretName == "" {
		o.SecretName = SecretNameFor(o.ServiceName)
	}
	if o.CAValidity == 0 {
		o.CAValidity = DefaultCAValidity
	}
	if o.ServingValidity == 0 {
		o.ServingValidity = DefaultServingValidity
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = 10 * time.Minute
	}
	if o.PropagationDelay == 0 {
		o.PropagationDelay = DefaultPropagationDelay
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return &Manager{o: o}, nil
}

// DNSNames are the names on the serving certificate.
func (m *Manager) DNSNames() []string {
	return append(ServiceDNSNames(m.o.ServiceName, m.o.Namespace), m.o.ExtraNames...)
}

// NeedLeaderElection is false: every replica serves webhooks and needs the files.
func (m *Manager) NeedLeaderElection() bool { return false }

// Start keeps the certificates current until ctx ends (controller-runtime Runnable).
func (m *Manager) Start(ctx context.Context) error {
	retry := 5 * time.Second
	for {
		wait := m.o.CheckInterval
		next, err := m.Sync(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			m.o.Log.Error(err, "keeping webhook certificates current failed; retrying", "in", retry)
			wait, retry = retry, min(retry*2, m.o.CheckInterval)
		} else {
			retry = 5 * time.Second
			if d := next.Sub(m.o.Clock.Now()); d < wait {
				wait = max(d, time.Second)
			}
		}
		t := m.o.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// Sync does one pass: issue or rotate what is due, inject the CA bundle,
// write the files. It returns when the next step is due: a renewal, or the end
// of the propagation delay when the serving certificate waits to move to a new
// CA. Call it once before starting the webhook server, whose certwatcher needs
// the files.
//
// A CA rotation takes two passes (see Decide): the first adds the new CA to
// the bundle and keeps serving the certificate from the old CA; a pass at
// least PropagationDelay after the bundle was published moves the serving
// certificate to the new CA. The API server picks up a changed caBundle
// asynchronously, so injecting it and serving from the new CA in one pass
// would fail the connections made in between.
func (m *Manager) Sync(ctx context.Context) (time.Time, error) {
	s, err := m.ensureSecret(ctx)
	if err != nil {
		return time.Time{}, err
	}
	data := s.Data
	now := m.o.Clock.Now()
	// Inject the bundle before writing the files: the API server must trust a
	// new CA before any pod serves a certificate signed by it.
	changed, err := m.injectCABundle(ctx, CABundle(data, now))
	if err != nil {
		return time.Time{}, err
	}
	_, published := publishedAt(data)
	// The delay counts from a successful injection, not from the CA's issue:
	// a pass that issued a CA but failed to inject it must not start the
	// clock. A bundle that had to be put back while the serving certificate
	// waits to move (an upgrade reset it) starts the clock again.
	recorded := true
	if !published || (changed && pendingMove(data)) {
		if data, recorded, err = m.recordPublished(ctx, s, now); err != nil {
			return time.Time{}, err
		}
	}
	serving, err := ParseKeyPair("serving", data[TLSCertKey], data[TLSKeyKey])
	if err != nil {
		return time.Time{}, err
	}
	if err := WriteDir(m.o.CertDir, servingCA(data), serving); err != nil {
		return time.Time{}, err
	}
	if !recorded {
		return now, nil // another replica wrote the Secret first; read it again soon
	}
	next, _ := NextCheck(data, m.o.PropagationDelay)
	return next, nil
}

// recordPublished stores now as the time the bundle holding the current CA was
// published. It reports false, without an error, when another replica changed
// the Secret since it was read: that one has recorded it, or the next pass will.
func (m *Manager) recordPublished(ctx context.Context, s *corev1.Secret, now time.Time) (map[string][]byte, bool, error) {
	upd := s.DeepCopy()
	if upd.Data == nil {
		upd.Data = map[string][]byte{}
	}
	upd.Data[CAPublishedAtKey] = fmtPublished(now)
	err := m.o.Client.Update(ctx, upd)
	if apierrors.IsConflict(err) {
		return s.Data, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("recording the CA publication in Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if pendingMove(upd.Data) {
		m.o.Log.Info("new CA published in the caBundle; the serving certificate moves to it after the propagation delay",
			"secret", s.Namespace+"/"+s.Name, "moveAfter", now.Add(m.o.PropagationDelay).UTC().Format(time.RFC3339))
	}
	return upd.Data, true, nil
}

// ensureSecret returns the current Secret, issuing and storing what is due.
// Writes carry the resourceVersion read, so two replicas never both win.
func (m *Manager) ensureSecret(ctx context.Context) (*corev1.Secret, error) {
	key := types.NamespacedName{Namespace: m.o.Namespace, Name: m.o.SecretName}
	names := m.DNSNames()
	for attempt := 0; attempt < 5; attempt++ {
		var s corev1.Secret
		err := m.o.Client.Get(ctx, key, &s)
		exists := err == nil
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading Secret %s: %w", key, err)
		}
		now := m.o.Clock.Now()
		plan := Decide(s.Data, names, now, m.o.PropagationDelay)
		if !plan.Needed() {
			return &s, nil
		}
		data, err := Issue(s.Data, plan, m.o.ServiceName+"-ca", names, now, m.o.CAValidity, m.o.ServingValidity)
		if err != nil {
			return nil, err
		}
		newServing := !bytes.Equal(data[TLSCertKey], s.Data[TLSCertKey])
		if !exists {
			s = corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: m.o.Namespace, Name: m.o.SecretName, Labels: map[string]string{
					"app.kubernetes.io/managed-by": "vipgate",
					"app.kubernetes.io/component":  "webhook-certificates",
				}},
				Type: corev1.SecretTypeTLS,
				Data: data,
			}
			err = m.o.Client.Create(ctx, &s)
		} else {
			s.Data = data
			err = m.o.Client.Update(ctx, &s)
		}
		if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
			continue // another replica wrote first; use its certificates
		}
		if err != nil {
			return nil, fmt.Errorf("writing Secret %s: %w", key, err)
		}
		m.o.Log.Info("issued webhook certificates", "secret", key.String(), "newCA", plan.NewCA, "newServing", newServing, "reason", plan.Reason)
		return &s, nil
	}
	return nil, fmt.Errorf("writing Secret %s: still conflicting after 5 attempts", key)
}

// injectCABundle sets caBundle on every webhook of both configurations,
// patching only when it differs. A strategic merge patch keyed by webhook name
// touches caBundle and nothing else, so it never races with an upgrade that
// changes rules. A missing configuration is not an error: the chart may not
// have created it yet, and the next pass will retry. It reports whether it
// patched anything.
func (m *Manager) injectCABundle(ctx context.Context, bundle []byte) (bool, error) {
	var mutating admv1.MutatingWebhookConfiguration
	var validating admv1.ValidatingWebhookConfiguration
	targets := []struct {
		name, kind string
		obj        client.Object
		configs    func() []*admv1.WebhookClientConfig
	}{
		{m.o.MutatingConfigName, "MutatingWebhookConfiguration", &mutating, func() []*admv1.WebhookClientConfig {
			out := make([]*admv1.WebhookClientConfig, len(mutating.Webhooks))
			for i := range mutating.Webhooks {
				out[i] = &mutating.Webhooks[i].ClientConfig
			}
			return out
		}},
		{m.o.ValidatingConfigName, "ValidatingWebhookConfiguration", &validating, func() []*admv1.WebhookClientConfig {
			out := make([]*admv1.WebhookClientConfig, len(validating.Webhooks))
			for i := range validating.Webhooks {
				out[i] = &validating.Webhooks[i].ClientConfig
			}
			return out
		}},
	}
	changed := false
	for _, t := range targets {
		if t.name == "" {
			continue
		}
		c, err := injectInto(ctx, m, t.name, t.obj, bundle, t.kind, t.configs)
		if err != nil {
			return changed, err
		}
		changed = changed || c
	}
	return changed, nil
}

// injectInto reads one webhook configuration and patches caBundle on every
// webhook in it (clientConfigs returns them after the read) when it differs;
// it reports whether it patched.
func injectInto(ctx context.Context, m *Manager, name string, cfg client.Object, bundle []byte, kind string, clientConfigs func() []*admv1.WebhookClientConfig) (bool, error) {
	changed := false
	err := m.o.Client.Get(ctx, types.NamespacedName{Name: name}, cfg)
	if err == nil {
		orig := cfg.DeepCopyObject().(client.Object)
		for _, cc := range clientConfigs() {
			if !bytes.Equal(cc.CABundle, bundle) {
				cc.CABundle, changed = bundle, true
			}
		}
		err = m.patch(ctx, changed, cfg, orig, kind)
	}
	return changed && err == nil, m.missingOK(name, err)
}

func (m *Manager) patch(ctx context.Context, changed bool, obj, orig client.Object, kind string) error {
	if !changed {
		return nil
	}
	if err := m.o.Client.Patch(ctx, obj, client.StrategicMergeFrom(orig)); err != nil {
		return fmt.Errorf("injecting caBundle into %s %s: %w", kind, obj.GetName(), err)
	}
	m.o.Log.Info("injected caBundle", "kind", kind, "name", obj.GetName())
	return nil
}

func (m *Manager) missingOK(name string, err error) error {
	if err == nil {
		return nil
	}
	if apierrors.IsNotFound(err) {
		m.o.Log.Info("webhook configuration not found yet; will retry", "name", name)
		return nil
	}
	return fmt.Errorf("webhook configuration %s: %w", name, err)
}
